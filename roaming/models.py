"""Roaming participants: who owns OCPI objects, the connections we talk over, and their traffic."""

from __future__ import annotations

from typing import ClassVar

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from cpms.identifiers import country_code_validator, party_id_validator
from roaming.choices import InterfaceRole, ModuleID, OcpiVersion, Role
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
