"""The ownership rule, enforced once: which party may own which kind of OCPI object.

Locations, tariffs, sessions and CDRs belong to one of our own CPO identities; tokens belong to a
partner eMSP and only arrive through roaming. Domain models inherit one of the two bases below.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models

from roaming.models import Party


class OwnershipError(ValidationError):
    """Raised when an object would be owned by, or changed on behalf of, the wrong party."""


def ensure_our_cpo(party: Party) -> None:
    if not party.is_our_cpo:
        raise OwnershipError(
            {"owner": f"{party.code} is not one of our CPO identities; only those may own this."}
        )


def ensure_partner_emsp(party: Party) -> None:
    if not party.is_partner_emsp:
        raise OwnershipError(
            {"owner": f"{party.code} is not a partner eMSP; tokens belong to one."}
        )


class _OwnedObject(models.Model):
    """Behaviour shared by owned objects; each subclass declares `owner` and its ownership rule."""

    owner: models.ForeignKey[Party, Party]
    owner_id: int | None

    class Meta:
        abstract = True

    @property
    def country_code(self) -> str:
        return self.owner.country_code

    @property
    def party_id(self) -> str:
        return self.owner.party_id

    def clean(self) -> None:
        super().clean()
        if self.owner_id is not None:
            self.check_owner(self.owner)

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.check_owner(self.owner)
        super().save(*args, **kwargs)

    def check_owner(self, party: Party) -> None:
        raise NotImplementedError


class OwnedByOurCpo(_OwnedObject):
    """Base for objects we publish as a CPO: locations, tariffs, sessions, CDRs."""

    # No limit_choices_to: clean() gives the one clear message; admin forms narrow the choices.
    owner = models.ForeignKey(
        "roaming.Party",
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Our CPO identity that publishes this object.",
    )

    def check_owner(self, party: Party) -> None:
        ensure_our_cpo(party)

    class Meta:
        abstract = True


class OwnedByPartnerEmsp(_OwnedObject):
    """Base for objects a partner eMSP owns and pushes to us: tokens."""

    owner = models.ForeignKey(
        "roaming.Party",
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The partner eMSP that issued this object.",
    )

    def check_owner(self, party: Party) -> None:
        ensure_partner_emsp(party)

    class Meta:
        abstract = True
