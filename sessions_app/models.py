"""Tokens pushed by partner eMSPs, charging sessions at our EVSEs, and reservations."""

from __future__ import annotations

from typing import Any, ClassVar

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from cpms.identifiers import currency_validator, language_validator, ocpi_id_validator
from cpms.money import money_pair
from cpms.value_objects import ValueObjectValidator
from roaming.ownership import OwnedByOurCpo, OwnedByPartnerEmsp
from sessions_app.choices import (
    AuthMethod,
    ChargerAction,
    CommandResultType,
    CommandState,
    CommandType,
    PeriodKind,
    ProfileType,
    ReservationStatus,
    SessionStatus,
    TokenType,
    WhitelistType,
)

ENERGY_DIGITS: dict[str, Any] = {"max_digits": 14, "decimal_places": 4}


class Token(OwnedByPartnerEmsp):
    """A driver's means of authorization (RFID card, app user...) issued by a partner eMSP."""

    uid = models.CharField("UID", max_length=36, validators=[ocpi_id_validator])
    type = models.CharField(max_length=16, choices=TokenType.choices)
    contract_id = models.CharField(max_length=36, help_text="eMAID of the driver's contract.")
    visual_number = models.CharField(max_length=64, blank=True)
    issuer = models.CharField(max_length=64)
    group_id = models.CharField(max_length=36, blank=True)
    valid = models.BooleanField()
    whitelist = models.CharField(max_length=16, choices=WhitelistType.choices)
    language = models.CharField(max_length=2, blank=True, validators=[language_validator])
    default_profile_type = models.CharField(max_length=8, choices=ProfileType.choices, blank=True)
    energy_contract = models.JSONField(
        null=True, blank=True, validators=[ValueObjectValidator("energy_contract")]
    )
    last_updated = models.DateTimeField(db_index=True, help_text="As given by the eMSP.")
    received_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["last_updated", "id"]
        constraints = [
            models.UniqueConstraint(
                "owner", Lower("uid"), "type", name="token_unique_uid_type_per_owner"
            ),
        ]
        indexes = [models.Index(Lower("uid"), name="token_uid_lookup")]

    def __str__(self) -> str:
        return f"{self.uid} ({self.type})"


class Session(OwnedByOurCpo):
    """A charging session at one of our connectors, from authorization to unplugging."""

    ocpi_id = models.CharField("OCPI id", max_length=36, validators=[ocpi_id_validator])
    start_date_time = models.DateTimeField()
    end_date_time = models.DateTimeField(null=True, blank=True)
    kwh = models.DecimalField("kWh", default=0, **ENERGY_DIGITS)
    token = models.ForeignKey(
        Token, null=True, blank=True, on_delete=models.SET_NULL, related_name="sessions"
    )
    cdr_token = models.JSONField(
        validators=[ValueObjectValidator("cdr_token")],
        help_text="The token as it was when the session started (country, party, uid, type, "
        "contract id).",
    )
    emsp = models.ForeignKey(
        "roaming.Party",
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The eMSP whose driver charges: the only partner that sees this session.",
    )
    auth_method = models.CharField(max_length=16, choices=AuthMethod.choices)
    authorization_reference = models.CharField(max_length=36, blank=True)
    location = models.ForeignKey(
        "locations.Location", on_delete=models.PROTECT, related_name="sessions"
    )
    evse = models.ForeignKey("locations.EVSE", on_delete=models.PROTECT, related_name="sessions")
    connector = models.ForeignKey(
        "locations.Connector", on_delete=models.PROTECT, related_name="sessions"
    )
    meter_id = models.CharField(max_length=255, blank=True)
    currency = models.CharField(max_length=3, validators=[currency_validator])
    total_cost, total_cost_taxes = money_pair("total cost")
    status = models.CharField(max_length=16, choices=SessionStatus.choices)
    charging_preferences = models.JSONField(
        null=True, blank=True, validators=[ValueObjectValidator("charging_preferences")]
    )
    last_updated = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["last_updated", "id"]
        constraints = [
            models.UniqueConstraint(
                "owner",
                Lower("ocpi_id"),
                name="session_unique_id_per_owner",
                violation_error_message="A session with this OCPI id already exists for this "
                "owner (ids ignore case).",
            ),
            models.CheckConstraint(condition=models.Q(kwh__gte=0), name="session_kwh_not_negative"),
            models.CheckConstraint(
                condition=models.Q(end_date_time__isnull=True)
                | models.Q(end_date_time__gte=models.F("start_date_time")),
                name="session_ends_after_start",
                violation_error_message="A session cannot end before it starts.",
            ),
        ]
        indexes = [
            models.Index(fields=["emsp", "last_updated", "id"], name="session_sync_per_emsp"),
        ]

    def __str__(self) -> str:
        return self.ocpi_id

    def clean(self) -> None:
        super().clean()
        if self.evse_id and self.location_id and self.evse.location_id != self.location_id:
            raise ValidationError({"evse": "This EVSE is not at the session's location."})
        if self.connector_id and self.evse_id and self.connector.evse_id != self.evse_id:
            raise ValidationError({"connector": "This connector is not on the session's EVSE."})

    def save(self, *args: Any, touch: bool = True, **kwargs: Any) -> None:
        if touch:
            self.last_updated = timezone.now()
        super().save(*args, **kwargs)


class SessionChargingPeriod(models.Model):
    """One charging period of a session: from its start on, the dimensions measured."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="charging_periods")
    start_date_time = models.DateTimeField()
    dimensions = models.JSONField(help_text="[{type, volume}] with OCPI CdrDimensionType types.")
    tariff_id = models.CharField(max_length=36, blank=True)

    class Meta:
        ordering = ["session_id", "start_date_time", "id"]

    def __str__(self) -> str:
        return f"{self.session} from {self.start_date_time:%Y-%m-%d %H:%M:%S}"


class Reservation(models.Model):
    """An EVSE (or any EVSE of a location) held for a partner's driver until it expires."""

    emsp = models.ForeignKey("roaming.Party", on_delete=models.PROTECT, related_name="+")
    reservation_id = models.CharField(
        max_length=36, validators=[ocpi_id_validator], help_text="Chosen by the eMSP."
    )
    token = models.ForeignKey(Token, on_delete=models.PROTECT, related_name="reservations")
    location = models.ForeignKey(
        "locations.Location", on_delete=models.PROTECT, related_name="reservations"
    )
    evse = models.ForeignKey(
        "locations.EVSE",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reservations",
    )
    expiry_date = models.DateTimeField()
    authorization_reference = models.CharField(max_length=36, blank=True)
    status = models.CharField(
        max_length=16, choices=ReservationStatus.choices, default=ReservationStatus.RESERVED
    )
    session = models.OneToOneField(
        Session,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reservation",
        help_text="The session partners see for this reservation: RESERVATION while it is held, "
        "then charging, or COMPLETED when it is canceled or expires unused.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_updated = models.DateTimeField(auto_now=True)

    objects: ClassVar[models.Manager[Reservation]]

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                "emsp", Lower("reservation_id"), name="reservation_unique_id_per_emsp"
            ),
        ]

    def __str__(self) -> str:
        return self.reservation_id


class SessionMeter(models.Model):
    """The open (not yet published) charging period of a session, as the charger last reported.

    Published charging periods never change (partners append PATCHed ones), so the period still
    running lives here until a cost-relevant change closes it into a SessionChargingPeriod.
    """

    session = models.OneToOneField(Session, on_delete=models.CASCADE, related_name="meter")
    period_start = models.DateTimeField()
    period_kind = models.CharField(max_length=8, choices=PeriodKind.choices)
    period_kwh_start = models.DecimalField(
        "kWh at period start", help_text="Session kWh when the period began.", **ENERGY_DIGITS
    )
    period_power_kw = models.DecimalField(
        "power level (kW)",
        max_digits=10,
        decimal_places=3,
        help_text="The power level the period was opened at; a step away from it cuts a period.",
    )
    period_max_power_kw = models.DecimalField("max power (kW)", max_digits=10, decimal_places=3)
    period_tariff_id = models.CharField(max_length=36, blank=True)
    last_reading_at = models.DateTimeField()
    last_power_kw = models.DecimalField(max_digits=10, decimal_places=3, default=0)
    state_of_charge = models.PositiveSmallIntegerField(null=True, blank=True)
    last_pushed_at = models.DateTimeField(
        null=True, blank=True, help_text="When partners were last told of a meter update."
    )

    def __str__(self) -> str:
        return f"meter of {self.session}"


class Command(models.Model):
    """A command or charging-profile request of an eMSP, from receipt to its result POST."""

    command_type = models.CharField(max_length=32, choices=CommandType.choices)
    partner = models.ForeignKey(
        "roaming.Partner",
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The connection the command came through; the result goes back through it.",
    )
    emsp = models.ForeignKey("roaming.Party", on_delete=models.PROTECT, related_name="+")
    version = models.CharField(max_length=8, help_text="OCPI version the command was sent in.")
    response_url = models.URLField(max_length=255)
    request = models.JSONField(help_text="The request body as received.")
    location = models.ForeignKey(
        "locations.Location", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    evse = models.ForeignKey(
        "locations.EVSE", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    connector = models.ForeignKey(
        "locations.Connector", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    session = models.ForeignKey(
        Session, null=True, blank=True, on_delete=models.SET_NULL, related_name="commands"
    )
    reservation = models.ForeignKey(
        Reservation, null=True, blank=True, on_delete=models.SET_NULL, related_name="commands"
    )
    state = models.CharField(
        max_length=16, choices=CommandState.choices, default=CommandState.WAITING, db_index=True
    )
    result = models.CharField(max_length=32, choices=CommandResultType.choices, blank=True)
    result_data = models.JSONField(
        null=True, blank=True, help_text="Extra result content (an active charging profile)."
    )
    deadline = models.DateTimeField(help_text="A command not answered by then gets TIMEOUT.")
    result_sent_at = models.DateTimeField(null=True, blank=True)
    result_attempts = models.PositiveSmallIntegerField(default=0)
    result_error = models.TextField(blank=True, help_text="Why the result POST failed, if it did.")
    created_at = models.DateTimeField(default=timezone.now)
    answered_at = models.DateTimeField(null=True, blank=True)

    objects: ClassVar[models.Manager[Command]]

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["state", "deadline"], name="command_timeout_sweep")]

    def __str__(self) -> str:
        return f"{self.command_type} #{self.pk}"


class ChargerInstruction(models.Model):
    """An instruction for a charger, queued for the gateway adapter (or simulator) to take."""

    evse = models.ForeignKey("locations.EVSE", on_delete=models.CASCADE, related_name="+")
    action = models.CharField(max_length=32, choices=ChargerAction.choices)
    payload = models.JSONField(default=dict, blank=True)
    command = models.ForeignKey(
        Command, null=True, blank=True, on_delete=models.SET_NULL, related_name="instructions"
    )
    created_at = models.DateTimeField(default=timezone.now)
    taken_at = models.DateTimeField(null=True, blank=True, db_index=True)

    objects: ClassVar[models.Manager[ChargerInstruction]]

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.action} for {self.evse}"


class ActiveChargingProfile(models.Model):
    """The charging profile an eMSP set for a session, as the charger accepted it."""

    session = models.OneToOneField(
        Session, on_delete=models.CASCADE, related_name="active_charging_profile"
    )
    start_date_time = models.DateTimeField()
    charging_profile = models.JSONField(help_text="OCPI ChargingProfile as set.")

    def __str__(self) -> str:
        return f"profile of {self.session}"
