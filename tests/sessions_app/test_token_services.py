"""Token services: only the owning partner eMSP changes its tokens; upsert and patch rules."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError

from roaming.ownership import OwnershipError
from sessions_app.choices import TokenType, WhitelistType
from sessions_app.models import Token
from sessions_app.services import (
    TokenNotFoundError,
    TokenValues,
    token_find,
    token_patch,
    token_upsert,
)
from tests.sessions_app.factories import TokenFactory

pytestmark = pytest.mark.django_db

WHEN = datetime(2025, 6, 1, 12, tzinfo=UTC)


def values(**changes: object) -> TokenValues:
    base: dict[str, object] = {
        "contract_id": "DE-EMS-C00000001",
        "issuer": "Example eMSP",
        "valid": True,
        "whitelist": WhitelistType.ALWAYS,
        "last_updated": WHEN,
    }
    return TokenValues(**{**base, **changes})  # type: ignore[typeddict-item]


def test_upsert_creates_then_replaces_one_token(emsp) -> None:
    first = token_upsert(
        sender=emsp, owner=emsp, uid="AB12", token_type=TokenType.RFID, values=values()
    )
    second = token_upsert(
        sender=emsp, owner=emsp, uid="ab12", token_type=TokenType.RFID, values=values(valid=False)
    )
    assert (first.created, second.created) == (True, False)
    assert second.token.pk == first.token.pk
    assert Token.objects.get().uid == "ab12"


def test_upsert_by_another_party_than_the_owner_is_refused(emsp, outsider) -> None:
    with pytest.raises(OwnershipError):
        token_upsert(
            sender=outsider, owner=emsp, uid="AB12", token_type=TokenType.RFID, values=values()
        )
    assert not Token.objects.exists()


def test_upsert_for_one_of_our_own_parties_is_refused(our_cpo) -> None:
    with pytest.raises(OwnershipError):
        token_upsert(
            sender=our_cpo, owner=our_cpo, uid="AB12", token_type=TokenType.RFID, values=values()
        )


def test_upsert_with_an_invalid_value_names_the_field(emsp) -> None:
    with pytest.raises(ValidationError) as raised:
        token_upsert(
            sender=emsp,
            owner=emsp,
            uid="AB12",
            token_type=TokenType.RFID,
            values=values(language="Dutch"),
        )
    assert set(raised.value.message_dict) == {"language"}


def test_upsert_refuses_values_that_are_not_token_fields(emsp) -> None:
    with pytest.raises(TypeError, match="owner"):
        token_upsert(
            sender=emsp,
            owner=emsp,
            uid="AB12",
            token_type=TokenType.RFID,
            values=values(owner=emsp),
        )


def test_patch_changes_the_given_fields_and_last_updated(emsp) -> None:
    token = TokenFactory.create(owner=emsp, uid="AB12", visual_number="CARD")
    token_patch(
        sender=emsp,
        owner=emsp,
        uid="ab12",
        token_type=TokenType.RFID,
        changes={"valid": False},
        last_updated=WHEN,
    )
    token.refresh_from_db()
    assert (token.valid, token.visual_number, token.last_updated) == (False, "CARD", WHEN)


def test_patch_of_a_token_we_do_not_have_raises(emsp) -> None:
    with pytest.raises(TokenNotFoundError):
        token_patch(
            sender=emsp,
            owner=emsp,
            uid="AB12",
            token_type=None,
            changes={"valid": False},
            last_updated=WHEN,
        )


def test_patch_by_another_party_is_refused(emsp, outsider) -> None:
    TokenFactory.create(owner=emsp, uid="AB12")
    with pytest.raises(OwnershipError):
        token_patch(
            sender=outsider,
            owner=emsp,
            uid="AB12",
            token_type=None,
            changes={"valid": False},
            last_updated=WHEN,
        )


def test_find_without_a_type_prefers_the_rfid_token(emsp) -> None:
    TokenFactory.create(owner=emsp, uid="AB12", type=TokenType.APP_USER)
    rfid = TokenFactory.create(owner=emsp, uid="AB12", type=TokenType.RFID)
    assert token_find(owner=emsp, uid="ab12", token_type=None) == rfid
