"""Party codes and roles: formats, uniqueness and the roles that decide ownership."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from roaming.choices import Role
from roaming.models import Party


def test_party_code_is_stored_upper_case(db: None) -> None:
    party = Party.objects.create(country_code="be", party_id="ab1", name="x", roles=["EMSP"])

    assert party.code == "BE-AB1"


def test_party_code_is_unique(emsp: Party) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        Party.objects.create(country_code="de", party_id="ems", name="Twin", roles=["EMSP"])


@pytest.mark.parametrize("roles", [[], ["EMSP", "PILOT"], ["emsp"]])
def test_party_without_known_roles_is_rejected(db: None, roles: list[str]) -> None:
    party = Party(country_code="BE", party_id="ABC", name="x", roles=roles)

    with pytest.raises(ValidationError) as raised:
        party.full_clean()

    assert f"Give at least one OCPI role from {Role.values}." in raised.value.message_dict["roles"]


@pytest.mark.parametrize(("field", "value"), [("country_code", "B1"), ("party_id", "AB")])
def test_party_code_in_wrong_format_is_rejected(db: None, field: str, value: str) -> None:
    party = Party(country_code="BE", party_id="ABC", name="x", roles=["EMSP"])
    setattr(party, field, value)

    with pytest.raises(ValidationError) as raised:
        party.full_clean()

    assert field in raised.value.message_dict


def test_our_cpo_identity_owns_cpo_objects_and_partner_emsp_owns_tokens(
    our_cpo: Party, emsp: Party
) -> None:
    assert (our_cpo.is_our_cpo, our_cpo.is_partner_emsp) == (True, False)
    assert (emsp.is_our_cpo, emsp.is_partner_emsp) == (False, True)
