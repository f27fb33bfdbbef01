"""Tokens receiver: partner eMSPs PUT, PATCH and GET their tokens in our cache, and only theirs."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from roaming.choices import OcpiVersion
from roaming.models import PartnerState, Party
from sessions_app.choices import TokenType, WhitelistType
from sessions_app.models import Token
from tests.roaming.conftest import auth, make_partner
from tests.roaming.modules.conftest import data, from_party
from tests.sessions_app.factories import TokenFactory

pytestmark = pytest.mark.django_db

UID = "012345678"
UPDATED = "2025-06-29T22:39:09Z"


def url(party: Party, uid: str = UID, version: str = "2.2.1", query: str = "") -> str:
    path = f"/ocpi/{version}/tokens/{party.country_code}/{party.party_id}/{uid}"
    return f"{path}?{query}" if query else path


def token_object(party: Party, **changes: Any) -> dict[str, Any]:
    """A 2.2.1/2.3.0 Token owned by `party`, as an eMSP pushes it."""
    return {
        "country_code": party.country_code,
        "party_id": party.party_id,
        "uid": UID,
        "type": "RFID",
        "contract_id": f"{party.country_code}-{party.party_id}-C12345678",
        "visual_number": "DF000-2001-8999-1",
        "issuer": "Example Issuer",
        "group_id": "DF000-2001-8999",
        "valid": True,
        "whitelist": "ALWAYS",
        "language": "nl",
        "last_updated": UPDATED,
        **changes,
    }


def token_211(**changes: Any) -> dict[str, Any]:
    return {
        "uid": UID,
        "type": "RFID",
        "auth_id": "DE8ACC12E46L89",
        "visual_number": "DF000-2001-8999",
        "issuer": "Example Issuer",
        "valid": True,
        "whitelist": "ALLOWED",
        "last_updated": UPDATED,
        **changes,
    }


def send(
    client: Client,
    method: str,
    path: str,
    token: str,
    body: Any,
    headers: dict[str, str] | None = None,
) -> Any:
    raw = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.generic(
        method,
        path,
        raw,
        content_type="application/json",
        headers={**auth(token), **(headers or {})},
    )


def put(client: Client, path: str, token: str, body: Any, **kw: Any) -> Any:
    return send(client, "PUT", path, token, body, **kw)


def patch(client: Client, path: str, token: str, body: Any, **kw: Any) -> Any:
    return send(client, "PATCH", path, token, body, **kw)


def status(response: Any) -> tuple[int, int]:
    return response.status_code, response.json()["status_code"]


def message(response: Any) -> str:
    return str(response.json()["status_message"])


def stored(party: Party, uid: str = UID) -> Token:
    return Token.objects.get(owner=party, uid__iexact=uid)


# --- PUT ------------------------------------------------------------------------------------------


def test_put_of_a_new_token_stores_it_and_answers_201(client, emsp, emsp_token) -> None:
    response = put(client, url(emsp), emsp_token, token_object(emsp))
    assert status(response) == (201, 1000)
    token = stored(emsp)
    assert (token.type, token.contract_id, token.whitelist) == (
        "RFID",
        "DE-EMS-C12345678",
        "ALWAYS",
    )
    assert token.group_id == "DF000-2001-8999"


def test_put_keeps_last_updated_as_the_emsp_gave_it(client, emsp, emsp_token) -> None:
    put(client, url(emsp), emsp_token, token_object(emsp))
    assert stored(emsp).last_updated == datetime(2025, 6, 29, 22, 39, 9, tzinfo=UTC)


def test_put_of_a_known_token_replaces_it_and_answers_200(client, emsp, emsp_token) -> None:
    put(client, url(emsp), emsp_token, token_object(emsp))
    replacement = token_object(emsp, valid=False, issuer="New Issuer")
    del replacement["visual_number"]
    response = put(client, url(emsp), emsp_token, replacement)
    assert status(response) == (200, 1000)
    token = stored(emsp)
    assert (token.valid, token.issuer, token.visual_number) == (False, "New Issuer", "")
    assert Token.objects.filter(owner=emsp).count() == 1


def test_put_matches_the_uid_case_insensitively(client, emsp, emsp_token) -> None:
    put(client, url(emsp, "abc123"), emsp_token, token_object(emsp, uid="abc123"))
    response = put(client, url(emsp, "ABC123"), emsp_token, token_object(emsp, uid="ABC123"))
    assert status(response) == (200, 1000)
    assert Token.objects.filter(owner=emsp).count() == 1


def test_put_with_another_uid_than_the_url_answers_2001_naming_uid(
    client, emsp, emsp_token
) -> None:
    response = put(client, url(emsp), emsp_token, token_object(emsp, uid="999"))
    assert status(response) == (200, 2001)
    assert message(response).startswith("uid:")
    assert not Token.objects.exists()


def test_put_type_defaults_to_rfid_so_another_type_must_be_in_the_url(
    client, emsp, emsp_token
) -> None:
    response = put(client, url(emsp), emsp_token, token_object(emsp, type="APP_USER"))
    assert status(response) == (200, 2001)
    assert message(response).startswith("type:")


def test_put_with_the_type_in_the_url_stores_that_type(client, emsp, emsp_token) -> None:
    path = url(emsp, query="type=APP_USER")
    response = put(client, path, emsp_token, token_object(emsp, type="APP_USER"))
    assert status(response) == (201, 1000)
    assert stored(emsp).type == TokenType.APP_USER


def test_put_naming_another_party_in_the_body_answers_2001(
    client, emsp, outsider, emsp_token
) -> None:
    body = token_object(emsp, country_code=outsider.country_code, party_id=outsider.party_id)
    response = put(client, url(emsp), emsp_token, body)
    assert status(response) == (200, 2001)
    assert "country_code" in message(response)
    assert "party_id" in message(response)
    assert not Token.objects.exists()


def test_put_to_another_partys_url_answers_404(client, emsp, outsider, emsp_token) -> None:
    response = put(client, url(outsider), emsp_token, token_object(outsider))
    assert response.status_code == 404
    assert not Token.objects.exists()


def test_put_to_an_unknown_partys_url_answers_404(client, emsp, emsp_token) -> None:
    ghost = Party(country_code="BE", party_id="GHO")
    response = put(client, url(ghost), emsp_token, token_object(ghost))
    assert response.status_code == 404


@pytest.mark.parametrize("missing", ["contract_id", "issuer", "valid", "whitelist", "last_updated"])
def test_put_without_a_required_field_answers_2001_naming_it(
    client, emsp, emsp_token, missing
) -> None:
    body = token_object(emsp)
    del body[missing]
    response = put(client, url(emsp), emsp_token, body)
    assert status(response) == (200, 2001)
    assert message(response).startswith(f"{missing}:")


@pytest.mark.parametrize(
    ("field", "value"),
    [("valid", "perhaps"), ("last_updated", "yesterday"), ("uid", 12), ("language", "dutch")],
)
def test_put_with_a_value_of_the_wrong_type_answers_2001_naming_it(
    client, emsp, emsp_token, field, value
) -> None:
    response = put(client, url(emsp), emsp_token, token_object(emsp, **{field: value}))
    assert status(response) == (200, 2001)
    assert field in message(response)


def test_put_with_a_body_that_is_not_json_answers_400(client, emsp, emsp_token) -> None:
    response = put(client, url(emsp), emsp_token, "{not json")
    assert response.status_code == 400
    assert response.json()["status_code"] == 2000


def test_put_with_a_json_list_answers_2001(client, emsp, emsp_token) -> None:
    response = put(client, url(emsp), emsp_token, [token_object(emsp)])
    assert status(response) == (200, 2001)


def test_put_with_an_oversize_body_answers_413(client, emsp, emsp_token, settings) -> None:
    settings.OCPI_MAX_BODY_BYTES = 512
    body = token_object(emsp, issuer="x" * 600)
    response = put(client, url(emsp), emsp_token, body)
    assert response.status_code == 413
    assert not Token.objects.exists()


def test_put_ignores_fields_it_does_not_know(client, emsp, emsp_token) -> None:
    body = token_object(emsp, x_loyalty_level="gold")
    response = put(client, url(emsp, version="2.3.0"), emsp_token, body)
    assert status(response) == (201, 1000)


def test_put_refuses_a_token_type_unknown_to_2_2_1(client, emsp, emsp_token) -> None:
    path = url(emsp, query="type=WALLET")
    response = put(client, path, emsp_token, token_object(emsp, type="WALLET"))
    assert status(response) == (200, 2001)
    assert message(response).startswith("type:")


def test_put_keeps_a_token_type_unknown_to_us_in_2_3_0(client, emsp, emsp_token) -> None:
    path = url(emsp, version="2.3.0", query="type=WALLET")
    response = put(client, path, emsp_token, token_object(emsp, type="WALLET"))
    assert status(response) == (201, 1000)
    assert stored(emsp).type == "WALLET"


def test_put_refuses_an_unknown_whitelist_type_even_in_2_3_0(client, emsp, emsp_token) -> None:
    body = token_object(emsp, whitelist="SOMETIMES")
    response = put(client, url(emsp, version="2.3.0"), emsp_token, body)
    assert status(response) == (200, 2001)
    assert message(response).startswith("whitelist:")


def test_put_of_a_2_1_1_token_reads_auth_id_and_takes_the_owner_from_the_url(
    client, emsp, emsp_token
) -> None:
    response = put(client, url(emsp, version="2.1.1"), emsp_token, token_211())
    assert status(response) == (201, 1000)
    assert stored(emsp).contract_id == "DE8ACC12E46L89"


def test_put_of_a_2_1_1_token_keeps_what_2_1_1_cannot_say(client, emsp, emsp_token) -> None:
    put(client, url(emsp), emsp_token, token_object(emsp))
    put(client, url(emsp, version="2.1.1"), emsp_token, token_211(valid=False))
    token = stored(emsp)
    assert (token.valid, token.group_id) == (False, "DF000-2001-8999")


def test_put_of_a_2_1_1_token_without_auth_id_names_auth_id(client, emsp, emsp_token) -> None:
    body = token_211()
    del body["auth_id"]
    response = put(client, url(emsp, version="2.1.1"), emsp_token, body)
    assert status(response) == (200, 2001)
    assert message(response).startswith("auth_id:")


# --- PATCH ----------------------------------------------------------------------------------------


@pytest.fixture
def token(emsp: Party) -> Token:
    return TokenFactory.create(
        owner=emsp,
        uid=UID,
        whitelist=WhitelistType.ALLOWED,
        visual_number="CARD 1",
        last_updated=datetime(2025, 1, 1, tzinfo=UTC),
    )


def test_patch_changes_only_the_fields_given(client, emsp, emsp_token, token) -> None:
    response = patch(client, url(emsp), emsp_token, {"valid": False, "last_updated": UPDATED})
    assert status(response) == (200, 1000)
    token.refresh_from_db()
    assert token.valid is False
    assert (token.visual_number, token.whitelist) == ("CARD 1", WhitelistType.ALLOWED)
    assert token.last_updated == datetime(2025, 6, 29, 22, 39, 9, tzinfo=UTC)


def test_patch_reads_the_token_once_and_locked(client, emsp, emsp_token, token) -> None:
    with CaptureQueriesContext(connection) as queries:
        response = patch(client, url(emsp), emsp_token, {"valid": False, "last_updated": UPDATED})

    assert status(response) == (200, 1000)
    reads = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith("SELECT") and 'FROM "sessions_app_token"' in q["sql"]
    ]
    assert len(reads) == 1
    if connection.features.has_select_for_update:
        assert "FOR UPDATE" in reads[0]


def test_patch_without_last_updated_answers_2001(client, emsp, emsp_token, token) -> None:
    response = patch(client, url(emsp), emsp_token, {"valid": False})
    assert status(response) == (200, 2001)
    assert message(response).startswith("last_updated:")
    token.refresh_from_db()
    assert token.valid is True


@time_machine.travel(datetime(2025, 7, 1, 8, 0, tzinfo=UTC), tick=False)
def test_patch_in_2_1_1_may_leave_out_last_updated_which_becomes_the_time_of_receipt(
    client, emsp, emsp_token, token
) -> None:
    response = patch(client, url(emsp, version="2.1.1"), emsp_token, {"valid": False})
    assert status(response) == (200, 1000)
    token.refresh_from_db()
    assert (token.valid, token.last_updated) == (False, datetime(2025, 7, 1, 8, 0, tzinfo=UTC))


def test_patch_in_2_1_1_names_the_contract_id_auth_id(client, emsp, emsp_token, token) -> None:
    response = patch(client, url(emsp, version="2.1.1"), emsp_token, {"auth_id": "NL-ABC-X1"})
    assert status(response) == (200, 1000)
    token.refresh_from_db()
    assert token.contract_id == "NL-ABC-X1"


def test_patch_of_an_unknown_token_answers_404_with_2004(client, emsp, emsp_token) -> None:
    response = patch(client, url(emsp), emsp_token, {"valid": False, "last_updated": UPDATED})
    assert status(response) == (404, 2004)


def test_patch_with_an_invalid_value_answers_2001_naming_it(
    client, emsp, emsp_token, token
) -> None:
    body = {"whitelist": "SOMETIMES", "last_updated": UPDATED}
    response = patch(client, url(emsp), emsp_token, body)
    assert status(response) == (200, 2001)
    assert message(response).startswith("whitelist:")


def test_patch_clearing_a_required_field_answers_2001(client, emsp, emsp_token, token) -> None:
    body = {"issuer": None, "last_updated": UPDATED}
    response = patch(client, url(emsp), emsp_token, body)
    assert status(response) == (200, 2001)
    assert message(response).startswith("issuer:")


def test_patch_may_not_change_the_uid(client, emsp, emsp_token, token) -> None:
    response = patch(client, url(emsp), emsp_token, {"uid": "OTHER", "last_updated": UPDATED})
    assert status(response) == (200, 2001)
    assert message(response).startswith("uid:")
    assert stored(emsp).uid == UID


def test_patch_may_not_move_the_token_to_another_party(
    client, emsp, outsider, emsp_token, token
) -> None:
    body = {"party_id": outsider.party_id, "last_updated": UPDATED}
    response = patch(client, url(emsp), emsp_token, body)
    assert status(response) == (200, 2001)
    assert message(response).startswith("party_id:")


def test_patch_of_another_partys_token_answers_404_and_changes_nothing(
    client, emsp, outsider, emsp_token
) -> None:
    theirs = TokenFactory.create(owner=outsider, uid=UID)
    response = patch(client, url(outsider), emsp_token, {"valid": False, "last_updated": UPDATED})
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.valid is True


def test_patch_ignores_fields_it_does_not_know(client, emsp, emsp_token, token) -> None:
    body = {"valid": False, "x_colour": "blue", "last_updated": UPDATED}
    response = patch(client, url(emsp, version="2.3.0"), emsp_token, body)
    assert status(response) == (200, 1000)


# --- GET ------------------------------------------------------------------------------------------


def test_get_returns_the_token_as_we_hold_it(client, emsp, emsp_token, token) -> None:
    response = client.get(url(emsp), headers=auth(emsp_token))
    assert status(response) == (200, 1000)
    body = data(response)
    assert (body["country_code"], body["party_id"], body["uid"]) == ("DE", "EMS", UID)
    assert body["contract_id"] == token.contract_id
    assert body["last_updated"] == "2025-01-01T00:00:00Z"


def test_get_in_2_1_1_answers_the_2_1_1_shape(client, emsp, emsp_token, token) -> None:
    body = data(client.get(url(emsp, version="2.1.1"), headers=auth(emsp_token)))
    assert body["auth_id"] == token.contract_id
    assert "country_code" not in body


def test_get_of_an_unknown_token_answers_404_with_2004(client, emsp, emsp_token) -> None:
    response = client.get(url(emsp), headers=auth(emsp_token))
    assert status(response) == (404, 2004)


def test_get_looks_for_an_rfid_token_unless_told_otherwise(client, emsp, emsp_token) -> None:
    TokenFactory.create(owner=emsp, uid=UID, type=TokenType.APP_USER)
    assert client.get(url(emsp), headers=auth(emsp_token)).status_code == 404
    typed = client.get(url(emsp, query="type=APP_USER"), headers=auth(emsp_token))
    assert data(typed)["type"] == "APP_USER"


def test_get_with_an_unknown_type_in_2_2_1_answers_2001(client, emsp, emsp_token, token) -> None:
    response = client.get(url(emsp, query="type=WALLET"), headers=auth(emsp_token))
    assert status(response) == (200, 2001)
    assert message(response).startswith("type:")


def test_get_of_another_partys_token_answers_404(client, emsp, outsider, emsp_token) -> None:
    TokenFactory.create(owner=outsider, uid=UID)
    assert client.get(url(outsider), headers=auth(emsp_token)).status_code == 404


# --- who may call ---------------------------------------------------------------------------------


def test_an_unknown_credentials_token_answers_401(client, emsp) -> None:
    response = put(client, url(emsp), "not-a-token-of-ours", token_object(emsp))
    assert response.status_code == 401
    assert not Token.objects.exists()


def test_token_a_does_not_reach_the_tokens_module(client, invited) -> None:
    partner, token_a = invited
    (party,) = partner.parties.all()
    response = put(client, url(party), token_a, token_object(party))
    assert response.status_code == 401
    assert not Token.objects.exists()


def test_a_suspended_connection_does_not_reach_the_tokens_module(client, emsp) -> None:
    _, token = make_partner(parties=[emsp], state=PartnerState.SUSPENDED)
    assert put(client, url(emsp), token, token_object(emsp)).status_code == 401


def test_a_party_that_is_no_emsp_cannot_own_tokens(client, hub_party, hub_token) -> None:
    response = put(client, url(hub_party), hub_token, token_object(hub_party))
    assert response.status_code == 404
    assert not Token.objects.exists()


def test_a_hub_pushes_a_token_for_the_party_its_routing_headers_name(
    client, second_emsp, hub_token
) -> None:
    response = put(
        client,
        url(second_emsp),
        hub_token,
        token_object(second_emsp),
        headers=from_party(second_emsp),
    )
    assert status(response) == (201, 1000)
    assert stored(second_emsp).owner == second_emsp


def test_a_hub_without_routing_headers_may_name_a_party_it_relays_for_in_the_url(
    client, second_emsp, hub_token
) -> None:
    response = put(client, url(second_emsp), hub_token, token_object(second_emsp))
    assert status(response) == (201, 1000)


def test_a_hub_speaking_for_one_party_cannot_push_the_token_of_another(
    client, emsp, second_emsp, hub_token
) -> None:
    response = put(
        client, url(second_emsp), hub_token, token_object(second_emsp), headers=from_party(emsp)
    )
    assert response.status_code == 404
    assert not Token.objects.exists()


def test_a_hub_cannot_push_for_a_party_it_does_not_relay_for(client, outsider, hub_token) -> None:
    response = put(
        client, url(outsider), hub_token, token_object(outsider), headers=from_party(outsider)
    )
    assert response.status_code == 403
    assert not Token.objects.exists()


def test_the_answer_names_the_requesting_party_in_its_routing_headers(
    client, emsp, emsp_token
) -> None:
    response = put(client, url(emsp), emsp_token, token_object(emsp))
    assert (response["OCPI-to-country-code"], response["OCPI-to-party-id"]) == ("DE", "EMS")


def test_a_2_1_1_connection_pushes_2_1_1_tokens(client, emsp) -> None:
    _, token = make_partner(parties=[emsp], version=OcpiVersion.V2_1_1)
    response = put(client, url(emsp, version="2.1.1"), token, token_211())
    assert status(response) == (201, 1000)
