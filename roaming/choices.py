"""OCPI enumerations used by roaming."""

from django.db import models


class Role(models.TextChoices):
    CPO = "CPO", "Charge point operator"
    EMSP = "EMSP", "eMobility service provider"
    HUB = "HUB", "Hub"
    NAP = "NAP", "National access point"
    NSP = "NSP", "Navigation service provider"
    OTHER = "OTHER", "Other"
    SCSP = "SCSP", "Smart charging service provider"
    PTP = "PTP", "Payment terminal provider"


class OcpiVersion(models.TextChoices):
    """OCPI versions we speak, oldest first."""

    V2_1_1 = "2.1.1"
    V2_2_1 = "2.2.1"
    V2_3_0 = "2.3.0"


class ModuleID(models.TextChoices):
    CDRS = "cdrs"
    CHARGING_PROFILES = "chargingprofiles"
    COMMANDS = "commands"
    CREDENTIALS = "credentials"
    HUB_CLIENT_INFO = "hubclientinfo"
    LOCATIONS = "locations"
    SESSIONS = "sessions"
    TARIFFS = "tariffs"
    TOKENS = "tokens"
    VERSIONS = "versions"


class InterfaceRole(models.TextChoices):
    SENDER = "SENDER"
    RECEIVER = "RECEIVER"


class ConnectionStatus(models.TextChoices):
    """A hub's word on its connection to a party (HubClientInfo)."""

    CONNECTED = "CONNECTED"
    OFFLINE = "OFFLINE"
    PLANNED = "PLANNED"
    SUSPENDED = "SUSPENDED"
