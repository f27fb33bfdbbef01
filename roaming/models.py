"""Roaming participants: who owns OCPI objects, the connections we talk over, and their traffic."""

from __future__ import annotations

from typing import ClassVar

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from cpms.identifiers import country_code_validator, party_id_validator
from roaming.choices import ConnectionStatus, InterfaceRole, ModuleID, OcpiVersion, Role
from roaming.crypto import token_decrypt, token_encrypt, token_hash, token_mask


class PartyQuerySet(models.QuerySet["Party"]):
    def ours(self) -> PartyQuerySet:
        return self.filter(is_ours=True)

    def partners(self) -> PartyQuerySet:
        return self.filter(is_ours=False)

    def get_by_code(self, country_code: str, party_id: str) -> Party:
        return self.get(country_code=country_code.upper(), party_id=party_id.upper())


class Party(models.Model):
    """A roaming participant (country code + party id): one of our CPO identities or a partner."""

    country_code = models.CharField(max_length=2, validators=[country_code_validator])
    party_id = models.CharField(max_length=3, validators=[party_id_validator])
    name = models.CharField(max_length=100)
    roles = models.JSONField(default=list, help_text="OCPI roles this party plays, e.g. CPO, EMSP.")
    is_ours = models.BooleanField(
        default=False, help_text="One of our own identities (from settings), not a partner."
    )
    website = models.URLField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects: ClassVar[PartyQuerySet] = PartyQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        verbose_name_plural = "parties"
        ordering = ["country_code", "party_id"]
        constraints = [
            models.UniqueConstraint(fields=["country_code", "party_id"], name="party_unique_code"),
            models.CheckConstraint(
                condition=models.Q(country_code__regex=r"^[A-Z]{2}$"),
                name="party_country_code_format",
            ),
            models.CheckConstraint(
                condition=models.Q(party_id__regex=r"^[A-Z0-9]{3}$"),
                name="party_party_id_format",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def code(self) -> str:
        return f"{self.country_code}-{self.party_id}"

    def has_role(self, role: Role) -> bool:
        return role.value in self.roles

    @property
    def is_our_cpo(self) -> bool:
        return self.is_ours and self.has_role(Role.CPO)

    @property
    def is_partner_emsp(self) -> bool:
        return not self.is_ours and self.has_role(Role.EMSP)

    def save(self, *args: object, **kwargs: object) -> None:
        self.country_code = self.country_code.upper()
        self.party_id = self.party_id.upper()
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def clean(self) -> None:
        self.country_code = self.country_code.upper()
        self.party_id = self.party_id.upper()
        unknown = [r for r in self.roles if r not in Role.values]
        if not isinstance(self.roles, list) or not self.roles or unknown:
            raise ValidationError({"roles": f"Give at least one OCPI role from {Role.values}."})


class PartnerState(models.TextChoices):
    """Life cycle of a partner connection (ours, not an OCPI enum)."""

    INVITED = "INVITED", "Invited (awaiting registration)"
    REGISTERED = "REGISTERED", "Registered"
    SUSPENDED = "SUSPENDED", "Suspended"
    UNREGISTERED = "UNREGISTERED", "Unregistered"


class PartnerQuerySet(models.QuerySet["Partner"]):
    def registered(self) -> PartnerQuerySet:
        return self.filter(state=PartnerState.REGISTERED)

    def by_token(self, token: str) -> Partner | None:
        """The connection whose current token this is, else None."""
        return self.filter(token_hash=token_hash(token)).first()


class Partner(models.Model):
    """An OCPI connection to another platform: its endpoints, our tokens and the parties it speaks for.

    Tokens are never stored in plain text: the one the partner uses to call us (token A until
    registration, then C; or B when we registered with them) only as a SHA-256 hash, the one we
    use to call them (B or C) encrypted, because we must send it.
    """

    name = models.CharField(max_length=100)
    versions_url = models.URLField(
        max_length=255, blank=True, help_text="The partner's versions endpoint."
    )
    version = models.CharField(
        max_length=8,
        choices=OcpiVersion.choices,
        blank=True,
        help_text="OCPI version negotiated at registration.",
    )
    state = models.CharField(
        max_length=16, choices=PartnerState.choices, default=PartnerState.INVITED, db_index=True
    )
    token_hash = models.CharField(
        max_length=64,
        unique=True,
        null=True,
        blank=True,
        editable=False,
        help_text="SHA-256 of the token this partner presents to us.",
    )
    token_prefix = models.CharField(
        max_length=8, blank=True, editable=False, help_text="Start of that token, for display."
    )
    pending_token_hash = models.CharField(
        max_length=64,
        unique=True,
        null=True,
        blank=True,
        editable=False,
        help_text="SHA-256 of a token we offered in a handshake still under way; "
        "good only for our versions endpoints until the handshake completes.",
    )
    their_token_encrypted = models.TextField(
        blank=True, editable=False, help_text="The token we present to the partner, encrypted."
    )
    parties = models.ManyToManyField(
        Party,
        related_name="connections",
        blank=True,
        limit_choices_to={"is_ours": False},
        help_text="Parties this connection speaks for (from its credentials roles).",
    )
    registered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects: ClassVar[PartnerQuerySet] = PartnerQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(state=PartnerState.REGISTERED)
                | models.Q(token_hash__isnull=False),
                name="partner_registered_has_token",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def has_registration(self) -> bool:
        """Registered, possibly suspended: credentials PUT and DELETE apply, POST does not."""
        return self.state in (PartnerState.REGISTERED, PartnerState.SUSPENDED)

    @property
    def their_token(self) -> str:
        if not self.their_token_encrypted:
            raise ValueError(f"No token stored for calling partner {self}.")
        return token_decrypt(self.their_token_encrypted)

    def set_their_token(self, token: str) -> None:
        self.their_token_encrypted = token_encrypt(token) if token else ""

    def set_token(self, token: str | None) -> None:
        """Replace the token this partner presents to us (None revokes it)."""
        self.token_hash = token_hash(token) if token else None
        self.token_prefix = token_mask(token) if token else ""

    def endpoint_url(self, module: ModuleID, role: InterfaceRole | None = None) -> str | None:
        """URL of the partner's endpoint for a module; 2.1.1 endpoints have no role and match any."""
        for endpoint in self.endpoints.all():
            if endpoint.module == module and (role is None or endpoint.role in ("", role)):
                return endpoint.url
        return None


class PartnerEndpoint(models.Model):
    """One endpoint a partner lists in its version details (module, interface role, URL)."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="endpoints")
    module = models.CharField(max_length=32, choices=ModuleID.choices)
    role = models.CharField(
        max_length=8,
        choices=InterfaceRole.choices,
        blank=True,
        help_text="Empty for OCPI 2.1.1, which has no interface roles.",
    )
    url = models.URLField(max_length=255)

    class Meta:
        ordering = ["partner", "module", "role"]
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "module", "role"], name="partner_endpoint_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.module} {self.role or '-'} {self.url}"


class ExchangeLog(models.Model):
    """One outbound OCPI call and its outcome, with bodies truncated and tokens redacted."""

    partner = models.ForeignKey(
        Partner, on_delete=models.SET_NULL, null=True, blank=True, related_name="exchanges"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    method = models.CharField(max_length=8)
    url = models.CharField(max_length=2048)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    ocpi_status = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    request_id = models.CharField(max_length=64, blank=True)
    correlation_id = models.CharField(max_length=64, blank=True)
    request_body = models.TextField(blank=True)
    response_body = models.TextField(blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["partner", "-created_at"], name="exchange_partner_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.url} -> {self.http_status or self.error[:40]}"

    @property
    def succeeded(self) -> bool:
        return not self.error and self.ocpi_status is not None and 1000 <= self.ocpi_status < 2000


class HubClientInfo(models.Model):
    """What a hub told us (ClientInfo) of a party it connects us with: its role and status."""

    hub = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="client_infos")
    party = models.ForeignKey(Party, on_delete=models.PROTECT, related_name="client_infos")
    role = models.CharField(max_length=16, choices=Role.choices)
    status = models.CharField(max_length=16, choices=ConnectionStatus.choices)
    last_updated = models.DateTimeField(db_index=True, help_text="As given by the hub.")
    received_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "hub client info"
        ordering = ["hub", "party"]
        constraints = [
            models.UniqueConstraint(fields=["hub", "party"], name="hub_client_info_unique_party"),
        ]

    def __str__(self) -> str:
        return f"{self.party.code} {self.status} via {self.hub}"


# --- the push outbox, token pulls and partner health (roaming.push, roaming.pull, roaming.health) ---


class OutboxState(models.TextChoices):
    """Where one outbox row is on its way to the partner (ours, not an OCPI enum)."""

    PENDING = "PENDING", "Pending"
    IN_FLIGHT = "IN_FLIGHT", "In flight"
    RETRYING = "RETRYING", "Retrying"
    DELIVERED = "DELIVERED", "Delivered"
    DEAD = "DEAD", "Dead (gave up)"
    SUPERSEDED = "SUPERSEDED", "Superseded by a newer change"
    SKIPPED = "SKIPPED", "Skipped (nothing to send)"


OUTBOX_OPEN_STATES = (OutboxState.PENDING, OutboxState.IN_FLIGHT, OutboxState.RETRYING)
OUTBOX_WAITING_STATES = (OutboxState.PENDING, OutboxState.RETRYING)


class OutboxOperation(models.TextChoices):
    """The HTTP method a row is expected to be sent with (decided again at sending time)."""

    PUT = "PUT"
    PATCH = "PATCH"
    DELETE = "DELETE"
    POST = "POST"


class OutboxKind(models.TextChoices):
    """The kind of object an outbox row is about; locations go down to the changed connector."""

    LOCATION = "location", "Location"
    EVSE = "evse", "EVSE"
    CONNECTOR = "connector", "Connector"
    TARIFF = "tariff", "Tariff"
    SESSION = "session", "Session"
    CDR = "cdr", "CDR"


class OutboxRow(models.Model):
    """One change a partner must hear of, written in the transaction that made the change.

    The payload is not stored: it is built when the row is sent, from the object as it is then,
    in the partner's version, so the newest state always wins and older rows for the same object
    are superseded instead of sent.
    """

    # Indexed only by the partial indexes below: every index costs each insert a write, and
    # delivered rows (the bulk of the table) need none.
    partner = models.ForeignKey(
        Partner, on_delete=models.CASCADE, related_name="outbox", db_index=False
    )
    module = models.CharField(max_length=32, choices=ModuleID.choices)
    kind = models.CharField(max_length=16, choices=OutboxKind.choices)
    object_id = models.BigIntegerField(help_text="Primary key of the object's row here.")
    object_key = models.CharField(
        max_length=200,
        help_text="The object as the partner knows it: module/country/party/id[/evse[/connector]].",
    )
    operation = models.CharField(max_length=8, choices=OutboxOperation.choices)
    fields = models.JSONField(
        default=list, blank=True, help_text="For a PATCH: the fields that changed."
    )
    state = models.CharField(
        max_length=16, choices=OutboxState.choices, default=OutboxState.PENDING
    )
    created_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)
    claimed_by = models.CharField(max_length=64, blank=True, help_text="Worker holding the row.")
    lease_until = models.DateTimeField(
        null=True,
        blank=True,
        help_text="The worker's claim ends then (a dead worker's row is "
        "taken back by the sweeper).",
    )
    outcome_unknown = models.BooleanField(
        default=False,
        help_text="An attempt was started and may have reached the partner, but its answer was "
        "never recorded (the worker died).",
    )
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(
        null=True, blank=True, help_text="Delivered, dead, superseded or skipped at."
    )
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    ocpi_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    partner_answer = models.TextField(blank=True, help_text="Body of the partner's last answer.")
    request_id = models.CharField(
        max_length=64, blank=True, help_text="X-Request-ID of the last attempt (exchange log)."
    )
    remote_url = models.CharField(
        max_length=2048, blank=True, help_text="Where the partner keeps a POSTed CDR (Location)."
    )
    # A plain reference (no constraint, no index): old rows are purged in any order.
    superseded_by = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )

    class Meta:
        ordering = ["-id"]
        verbose_name = "outbox row"
        permissions = [("resend_outboxrow", "Can retry and replay outbox rows")]
        indexes = [
            # Claims, the sweeper and the dashboard read open rows; finished rows leave the index.
            models.Index(
                fields=["partner", "state", "next_attempt_at"],
                condition=models.Q(state__in=["PENDING", "IN_FLIGHT", "RETRYING"]),
                name="outbox_open",
            ),
            models.Index(
                fields=["partner", "id"], condition=models.Q(state="DEAD"), name="outbox_dead"
            ),
        ]
        constraints = [
            # A CDR is POSTed once: there is never a second row for it and the same partner.
            models.UniqueConstraint(
                fields=["partner", "object_key"],
                condition=models.Q(kind="cdr"),
                name="outbox_cdr_once_per_partner",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.operation} {self.object_key} -> {self.partner_id}"

    @property
    def latency(self) -> float | None:
        """Seconds from the change to the partner's acknowledgement."""
        if self.state != OutboxState.DELIVERED or self.finished_at is None:
            return None
        return (self.finished_at - self.created_at).total_seconds()


class PushChannel(models.Model):
    """Delivery state of one partner: who is delivering to it now, its backoff, its last outcome.

    Only the worker holding the channel's lease delivers to the partner, which keeps every
    object's changes in order.
    """

    partner = models.OneToOneField(Partner, on_delete=models.CASCADE, related_name="push_channel")
    leased_by = models.CharField(max_length=64, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    nudge_pending = models.BooleanField(
        default=False, help_text="A delivery task is queued and has not started yet."
    )
    nudged_at = models.DateTimeField(null=True, blank=True)
    retry_at = models.DateTimeField(
        null=True, blank=True, help_text="The partner failed; nothing is sent before this time."
    )
    failures = models.PositiveIntegerField(default=0, help_text="Failures in a row.")
    last_delivered_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"push channel of {self.partner_id}"


class DeliveredObject(models.Model):
    """What a partner last received of one object: PATCH only after a PUT, and only what changed."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="delivered")
    object_key = models.CharField(max_length=200)
    version = models.CharField(max_length=8, choices=OcpiVersion.choices)
    delivered_at = models.DateTimeField(default=timezone.now)
    snapshot = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "object_key"], name="delivered_object_unique"
            ),
        ]
        indexes = [models.Index(fields=["object_key"], name="delivered_object_key")]

    def __str__(self) -> str:
        return f"{self.object_key} at {self.partner_id}"


class PushStats(models.Model):
    """Per partner and hour: deliveries, failures and a change-to-delivery latency histogram."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="push_stats")
    hour = models.DateTimeField()
    delivered = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0, help_text="Attempts that will be retried.")
    dead = models.PositiveIntegerField(default=0, help_text="Rows given up.")
    latency_ms_total = models.BigIntegerField(default=0)
    latency_histogram = models.JSONField(
        default=list, help_text="Deliveries per latency bucket (roaming.push.stats.BUCKETS)."
    )

    class Meta:
        verbose_name_plural = "push stats"
        ordering = ["-hour"]
        constraints = [
            models.UniqueConstraint(fields=["partner", "hour"], name="push_stats_unique_hour"),
        ]

    def __str__(self) -> str:
        return f"{self.partner_id} {self.hour:%Y-%m-%d %H:00}"


class PullState(models.TextChoices):
    """Where one pull run stands."""

    RUNNING = "RUNNING", "Running"
    SUCCEEDED = "SUCCEEDED", "Succeeded"
    FAILED = "FAILED", "Failed"


class SyncCursor(models.Model):
    """Where the pulls of one module from one partner stand: the next incremental date_from."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="sync_cursors")
    module = models.CharField(max_length=32, choices=ModuleID.choices)
    last_success_started_at = models.DateTimeField(
        null=True, blank=True, help_text="Start of the last successful pull."
    )
    last_full_at = models.DateTimeField(null=True, blank=True)
    running_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["partner", "module"], name="sync_cursor_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.module} of {self.partner_id}"


class PullRun(models.Model):
    """One pull of a module's objects from a partner, with its progress and what went wrong."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="pull_runs")
    module = models.CharField(max_length=32, choices=ModuleID.choices)
    full = models.BooleanField(default=False, help_text="Everything, not only recent changes.")
    state = models.CharField(max_length=16, choices=PullState.choices, default=PullState.RUNNING)
    trigger = models.CharField(max_length=16, blank=True, help_text="schedule, command, admin.")
    date_from = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    received = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    invalidated = models.PositiveIntegerField(
        default=0, help_text="Full pulls: tokens absent from the partner's list, set invalid."
    )
    rejections = models.JSONField(
        default=list, blank=True, help_text="The first rejected objects and why."
    )
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [
            models.Index(fields=["partner", "module", "-started_at"], name="pull_run_recent"),
        ]

    def __str__(self) -> str:
        kind = "full" if self.full else "incremental"
        return (
            f"{kind} {self.module} pull from {self.partner_id} at {self.started_at:%Y-%m-%d %H:%M}"
        )


class PartnerHealth(Partner):
    """The partner health dashboard's entry in the admin (no table of its own)."""

    class Meta:
        proxy = True
        verbose_name = "partner health"
        verbose_name_plural = "partner health"
