"""The token reader of pulls takes plain tokens directly and agrees with the serializer on all.

A token the reader takes without the serializer must be one the serializer would take, with the
same values, and one the model would accept; everything else is the serializer's to decide.
"""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework import serializers

from roaming.choices import OcpiVersion
from roaming.modules.common import validate
from roaming.modules.tokens.serializers import (
    TOKEN_SERIALIZERS,
    TokenReader,
    token_assign,
    token_fields,
)
from sessions_app.models import Token

BASE: dict[str, Any] = {
    "country_code": "DE",
    "party_id": "EMS",
    "uid": "04A1B2C3",
    "type": "RFID",
    "contract_id": "DE-EMS-C00000001",
    "visual_number": "DE-EMS-0001-X",
    "issuer": "Example eMSP",
    "group_id": "FLEET7",
    "valid": True,
    "whitelist": "ALLOWED",
    "language": "DE",
    "default_profile_type": "REGULAR",
    "last_updated": "2026-03-01T10:00:00Z",
}
TRIED_VALUES: tuple[Any, ...] = (
    "",
    " ",
    " x",
    "x ",
    "x\ny",
    "x\x00y",
    "Straße",
    "04 A1",
    "x" * 3,
    "x" * 36,
    "x" * 37,
    "x" * 64,
    "x" * 65,
    "de",
    "d",
    "d1",
    "NL",
    "EM1",
    "APP_USER",
    "EMAID",
    "NEW_KIND",
    "ALWAYS",
    "SOMETIMES",
    "GREEN",
    "2026-03-01T10:00:00",
    "2026-03-01T12:00:00+02:00",
    "2026-03-01T10:00:00.123Z",
    "2026-03-01 10:00:00Z",
    "yesterday",
    12345,
    1.5,
    True,
    False,
    0,
    None,
    [],
    {"supplier_name": "Greenpower"},
    {"supplier_name": ""},
)


def _token(version: OcpiVersion) -> dict[str, Any]:
    if version != OcpiVersion.V2_1_1:
        return dict(BASE)
    token = {key: value for key, value in BASE.items() if key not in _ONLY_22}
    token["auth_id"] = token.pop("contract_id")
    return token


_ONLY_22 = ("country_code", "party_id", "group_id", "default_profile_type")


def _variants(version: OcpiVersion) -> list[dict[str, Any]]:
    base = _token(version)
    variants = [base]
    for name in [*base, "energy_contract"]:
        variants.append({key: value for key, value in base.items() if key != name})
        variants.extend({**base, name: value} for value in TRIED_VALUES)
    return variants


def _serializer_verdict(version: OcpiVersion, data: dict[str, Any]) -> tuple[Any, Any]:
    """(validated data, None) when the serializer takes ``data``; (None, its errors) otherwise."""
    try:
        return validate(TOKEN_SERIALIZERS[version], data), None
    except serializers.ValidationError as error:
        return None, error.detail


def _model_values(validated: dict[str, Any], version: OcpiVersion) -> dict[str, Any]:
    token = Token()
    token_assign(token, validated, version)
    return {name: getattr(token, name) for name in token_fields(version)}


@pytest.mark.parametrize("version", list(OcpiVersion))
def test_a_token_taken_directly_is_one_the_serializer_and_the_model_take_alike(
    version: OcpiVersion, emsp
) -> None:
    reader = TokenReader(version)
    direct = 0
    for data in _variants(version):
        expected, refusal = _serializer_verdict(version, data)
        if refusal is not None:
            with pytest.raises(serializers.ValidationError) as refused:
                reader.read(data)
            assert refused.value.detail == refusal, data
            continue
        read = reader.read(data)
        assert _model_values(read.validated, version) == _model_values(expected, version), data
        if read.model_checked:
            direct += 1
            token = Token(owner=emsp)
            token_assign(token, read.validated, version)
            token.full_clean(exclude=["owner", "type"], validate_unique=False)
    assert direct > 20  # plain tokens, the usual case, do not need the serializer


def test_plain_tokens_skip_the_serializer_and_others_do_not() -> None:
    reader = TokenReader(OcpiVersion.V2_2_1)
    assert reader.read(BASE).model_checked
    assert reader.read({**BASE, "language": None, "group_id": ""}).model_checked
    assert not reader.read({**BASE, "uid": 4711}).model_checked
    assert not reader.read({**BASE, "energy_contract": {"supplier_name": "G"}}).model_checked
