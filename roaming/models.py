"""Roaming participants: who owns OCPI objects and who we talk to."""

from __future__ import annotations

from typing import ClassVar

from django.core.exceptions import ValidationError
from django.db import models

from cpms.identifiers import country_code_validator, party_id_validator
from roaming.choices import Role


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
