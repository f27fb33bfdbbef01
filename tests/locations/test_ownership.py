"""Locations may only be owned by one of our CPO identities."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from locations.models import Location
from roaming.choices import Role
from roaming.models import Party
from roaming.ownership import OwnershipError
from tests.locations.factories import LocationFactory


def test_location_owned_by_partner_fails_full_clean_on_owner(emsp: Party) -> None:
    location = LocationFactory.build(owner=emsp)

    with pytest.raises(ValidationError) as raised:
        location.full_clean()

    assert (
        "DE-EMS is not one of our CPO identities; only those may own this."
        in (raised.value.message_dict["owner"])
    )


def test_location_owned_by_partner_is_refused_on_save(emsp: Party) -> None:
    with pytest.raises(OwnershipError, match="DE-EMS is not one of our CPO identities"):
        LocationFactory.create(owner=emsp)

    assert not Location.objects.exists()


def test_location_owned_by_our_identity_without_cpo_role_is_refused(db: None) -> None:
    our_emsp = Party.objects.create(
        country_code="NL",
        party_id="OEM",
        name="Our eMSP side",
        roles=[Role.EMSP.value],
        is_ours=True,
    )

    with pytest.raises(OwnershipError, match="NL-OEM is not one of our CPO identities"):
        LocationFactory.create(owner=our_emsp)


def test_location_owned_by_our_cpo_is_saved(our_cpo: Party) -> None:
    location = LocationFactory.create(owner=our_cpo)

    location.full_clean()
    assert location.country_code == "NL"
    assert location.party_id == "OPN"


def test_moving_a_location_to_a_partner_is_refused(emsp: Party) -> None:
    location = LocationFactory.create()
    location.owner = emsp

    with pytest.raises(OwnershipError):
        location.save()

    location.refresh_from_db()
    assert location.owner.is_ours
