"""OCPI enumerations of tokens, sessions, reservations and charging periods."""

from django.db import models


class TokenType(models.TextChoices):
    AD_HOC_USER = "AD_HOC_USER"
    APP_USER = "APP_USER"
    EMAID = "EMAID"  # 2.3.0
    OTHER = "OTHER"
    RFID = "RFID"


class WhitelistType(models.TextChoices):
    ALWAYS = "ALWAYS"
    ALLOWED = "ALLOWED"
    ALLOWED_OFFLINE = "ALLOWED_OFFLINE"
    NEVER = "NEVER"


class ProfileType(models.TextChoices):
    CHEAP = "CHEAP"
    FAST = "FAST"
    GREEN = "GREEN"
    REGULAR = "REGULAR"


class AuthMethod(models.TextChoices):
    AUTH_REQUEST = "AUTH_REQUEST"
    COMMAND = "COMMAND"
    WHITELIST = "WHITELIST"


class SessionStatus(models.TextChoices):
    ACTIVE = "ACTIVE"
    COMPLETED = "COMPLETED"
    INVALID = "INVALID"
    PENDING = "PENDING"
    RESERVATION = "RESERVATION"


class CdrDimensionType(models.TextChoices):
    CURRENT = "CURRENT"
    ENERGY = "ENERGY"
    ENERGY_EXPORT = "ENERGY_EXPORT"
    ENERGY_IMPORT = "ENERGY_IMPORT"
    MAX_CURRENT = "MAX_CURRENT"
    MIN_CURRENT = "MIN_CURRENT"
    MAX_POWER = "MAX_POWER"
    MIN_POWER = "MIN_POWER"
    PARKING_TIME = "PARKING_TIME"
    POWER = "POWER"
    RESERVATION_TIME = "RESERVATION_TIME"
    RESERVATION_EXPIRES = "RESERVATION_EXPIRES"  # 2.3.0
    RESERVATION_OVERTIME = "RESERVATION_OVERTIME"  # 2.3.0
    STATE_OF_CHARGE = "STATE_OF_CHARGE"
    TIME = "TIME"


class ReservationStatus(models.TextChoices):
    RESERVED = "RESERVED"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"
    FULFILLED = "FULFILLED"


class ChargingPreferencesResponse(models.TextChoices):
    """Answer to an eMSP's PUT of a driver's charging preferences (2.2.1+)."""

    ACCEPTED = "ACCEPTED"
    DEPARTURE_REQUIRED = "DEPARTURE_REQUIRED"
    ENERGY_NEED_REQUIRED = "ENERGY_NEED_REQUIRED"
    NOT_POSSIBLE = "NOT_POSSIBLE"
    PROFILE_TYPE_NOT_SUPPORTED = "PROFILE_TYPE_NOT_SUPPORTED"


class CommandType(models.TextChoices):
    """What an eMSP asks of one of our chargers (commands and charging profiles modules)."""

    START_SESSION = "START_SESSION"
    STOP_SESSION = "STOP_SESSION"
    RESERVE_NOW = "RESERVE_NOW"
    CANCEL_RESERVATION = "CANCEL_RESERVATION"
    UNLOCK_CONNECTOR = "UNLOCK_CONNECTOR"
    SET_CHARGING_PROFILE = "SET_CHARGING_PROFILE"
    GET_ACTIVE_CHARGING_PROFILE = "GET_ACTIVE_CHARGING_PROFILE"
    CLEAR_CHARGING_PROFILE = "CLEAR_CHARGING_PROFILE"


class CommandResponseType(models.TextChoices):
    """The synchronous answer to a command."""

    ACCEPTED = "ACCEPTED"
    NOT_SUPPORTED = "NOT_SUPPORTED"
    REJECTED = "REJECTED"
    UNKNOWN_SESSION = "UNKNOWN_SESSION"


class CommandResultType(models.TextChoices):
    """The outcome of a command, POSTed to the eMSP's response_url."""

    ACCEPTED = "ACCEPTED"
    CANCELED_RESERVATION = "CANCELED_RESERVATION"
    EVSE_OCCUPIED = "EVSE_OCCUPIED"
    EVSE_INOPERATIVE = "EVSE_INOPERATIVE"
    FAILED = "FAILED"
    NOT_SUPPORTED = "NOT_SUPPORTED"
    REJECTED = "REJECTED"
    TIMEOUT = "TIMEOUT"
    UNKNOWN_RESERVATION = "UNKNOWN_RESERVATION"
    UNKNOWN = "UNKNOWN"  # charging profiles: no active profile known


class CommandState(models.TextChoices):
    """Where a command stands between the eMSP, us and the charger."""

    WAITING = "WAITING", "Waiting for the charger"
    ANSWERED = "ANSWERED", "Answered by the charger"
    TIMED_OUT = "TIMED_OUT", "Timed out"


class ChargerAction(models.TextChoices):
    """Instructions we send to a charger through the gateway."""

    START = "START"
    STOP = "STOP"
    RESERVE = "RESERVE"
    CANCEL_RESERVATION = "CANCEL_RESERVATION"
    UNLOCK = "UNLOCK"
    SET_CHARGING_PROFILE = "SET_CHARGING_PROFILE"
    GET_CHARGING_PROFILE = "GET_CHARGING_PROFILE"
    CLEAR_CHARGING_PROFILE = "CLEAR_CHARGING_PROFILE"


class AuthorizationAllowed(models.TextChoices):
    """The eMSP's (or our local) verdict on a token."""

    ALLOWED = "ALLOWED"
    BLOCKED = "BLOCKED"
    EXPIRED = "EXPIRED"
    NO_CREDIT = "NO_CREDIT"
    NOT_ALLOWED = "NOT_ALLOWED"


class PeriodKind(models.TextChoices):
    """What the vehicle does during the open charging period."""

    CHARGING = "CHARGING"
    PARKING = "PARKING"


class ChargingProfileResponseType(models.TextChoices):
    """The synchronous answer to a charging profile request (2.2.1+)."""

    ACCEPTED = "ACCEPTED"
    NOT_SUPPORTED = "NOT_SUPPORTED"
    REJECTED = "REJECTED"
    TOO_OFTEN = "TOO_OFTEN"
    UNKNOWN_SESSION = "UNKNOWN_SESSION"
