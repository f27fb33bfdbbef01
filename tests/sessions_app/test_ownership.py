"""Sessions belong to our CPO identities; tokens to partner eMSPs."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from roaming.choices import Role
from roaming.models import Party
from roaming.ownership import OwnershipError
from sessions_app.models import Session, Token
from tests.sessions_app.factories import SessionFactory, TokenFactory


def test_session_owned_by_partner_is_refused_on_save(emsp: Party) -> None:
    with pytest.raises(OwnershipError, match="DE-EMS is not one of our CPO identities"):
        SessionFactory.create(owner=emsp)

    assert not Session.objects.exists()


def test_session_owned_by_partner_fails_full_clean_on_owner(emsp: Party) -> None:
    session = SessionFactory.build(owner=emsp)

    with pytest.raises(ValidationError) as raised:
        session.full_clean(exclude=["location", "evse", "connector", "token"])

    assert (
        "DE-EMS is not one of our CPO identities; only those may own this."
        in (raised.value.message_dict["owner"])
    )


def test_session_owned_by_our_cpo_is_saved(our_cpo: Party) -> None:
    session = SessionFactory.create()

    session.full_clean()
    assert session.owner == our_cpo


def test_token_owned_by_our_cpo_is_refused(our_cpo: Party) -> None:
    with pytest.raises(OwnershipError, match="NL-OPN is not a partner eMSP"):
        TokenFactory.create(owner=our_cpo)

    assert not Token.objects.exists()


def test_token_owned_by_a_partner_cpo_is_refused(db: None) -> None:
    partner_cpo = Party.objects.create(
        country_code="BE", party_id="CPX", name="Other CPO", roles=[Role.CPO.value]
    )

    with pytest.raises(OwnershipError, match="BE-CPX is not a partner eMSP"):
        TokenFactory.create(owner=partner_cpo)


def test_token_owned_by_our_cpo_fails_full_clean_on_owner(our_cpo: Party) -> None:
    token = TokenFactory.build(owner=our_cpo)

    with pytest.raises(ValidationError) as raised:
        token.full_clean()

    assert (
        "NL-OPN is not a partner eMSP; tokens belong to one."
        in (raised.value.message_dict["owner"])
    )


def test_token_owned_by_partner_emsp_is_saved(emsp: Party) -> None:
    token = TokenFactory.create(owner=emsp)

    token.full_clean()
    assert token.country_code == "DE"
