"""Token on the OCPI wire, per version.

Tokens belong to a partner eMSP. From 2.2 on the object names its owner (country_code/party_id);
a 2.1.1 token does not, so the party that sent it must be passed in.

Choices for versions that cannot say what we store:

* 2.1.1 calls the contract id ``auth_id`` and has no owner fields, group_id,
  default_profile_type or energy_contract (those are not sent, and left untouched when a 2.1.1
  token is received).
* Token types a version does not have (EMAID before 2.3.0; APP_USER and AD_HOC_USER in 2.1.1) go
  out as OTHER. New 2.3.0 token types are kept as given (TokenType is an open enum).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from django.db import transaction
from rest_framework import serializers

from roaming.choices import OcpiVersion
from roaming.models import Party
from roaming.modules.common import (
    V2_1_1,
    V2_2_1,
    V2_3_0,
    DateTimeField,
    EnumField,
    Json,
    compact,
    datetime_out,
    full_clean,
    omit_empty,
    optional,
    party_by_code,
    string,
    validate,
)
from roaming.ownership import ensure_partner_emsp
from roaming.transport.datetimes import parse_datetime
from sessions_app.choices import ProfileType, TokenType, WhitelistType
from sessions_app.models import Token

TOKEN_TYPES: dict[str, frozenset[str]] = {
    V2_1_1: frozenset({TokenType.OTHER, TokenType.RFID}),
    V2_2_1: frozenset(TokenType.values) - {TokenType.EMAID},
    V2_3_0: frozenset(TokenType.values),
}
_ENUM_COLUMNS = ("type", "whitelist", "default_profile_type")
_NAMES_211 = {"contract_id": "auth_id"}


def token_type_out(token_type: str, version: OcpiVersion) -> str:
    """The token type as the version can say it (OTHER when it has no name for it)."""
    if token_type in TOKEN_TYPES[version] or version == V2_3_0:
        return token_type
    return TokenType.OTHER.value


# --- outbound -------------------------------------------------------------------------------------


def token_to_ocpi(token: Token, version: OcpiVersion) -> Json:
    """The token as the version's Token (expects the owner selected)."""
    common = {
        "uid": token.uid,
        "type": token_type_out(token.type, version),
        "visual_number": token.visual_number,
        "issuer": token.issuer,
        "valid": token.valid,
        "whitelist": token.whitelist,
        "language": token.language,
        "last_updated": datetime_out(token.last_updated),
    }
    if version == V2_1_1:
        return omit_empty({**common, "auth_id": token.contract_id})
    return omit_empty(
        {
            "country_code": token.country_code,
            "party_id": token.party_id,
            **common,
            "contract_id": token.contract_id,
            "group_id": token.group_id,
            "default_profile_type": token.default_profile_type,
            "energy_contract": token.energy_contract,
        }
    )


# --- inbound ----------------------------------------------------------------------------------------


class _EnergyContractSerializer(serializers.Serializer):
    supplier_name = serializers.CharField(max_length=64)
    contract_id = string(64, required=False)


class _TokenBaseSerializer(serializers.Serializer):
    uid = serializers.CharField(max_length=36)
    visual_number = string(64, required=False)
    issuer = serializers.CharField(max_length=64)
    valid = serializers.BooleanField()
    whitelist = EnumField(WhitelistType.values)
    language = optional(serializers.RegexField(r"^[A-Za-z]{2}$"))
    last_updated = DateTimeField()

    def validate_language(self, value: str | None) -> str | None:
        return value.lower() if value else value


class Token221Serializer(_TokenBaseSerializer):
    country_code = serializers.RegexField(r"^[A-Za-z]{2}$")
    party_id = serializers.RegexField(r"^[A-Za-z0-9]{3}$")
    type = EnumField(TOKEN_TYPES[V2_2_1])
    contract_id = serializers.CharField(max_length=36)
    group_id = string(36, required=False)
    default_profile_type = optional(EnumField(ProfileType.values))
    energy_contract = optional(_EnergyContractSerializer())


class Token230Serializer(Token221Serializer):
    type = EnumField(TOKEN_TYPES[V2_3_0], open_enum=True, max_length=16)


class Token211Serializer(_TokenBaseSerializer):
    type = EnumField(TOKEN_TYPES[V2_1_1])
    auth_id = serializers.CharField(max_length=36)

    def validate(self, attrs: Json) -> Json:
        attrs["contract_id"] = attrs.pop("auth_id")
        return attrs


TOKEN_SERIALIZERS: dict[str, type[serializers.Serializer]] = {
    V2_1_1: Token211Serializer,
    V2_2_1: Token221Serializer,
    V2_3_0: Token230Serializer,
}


def _owner(validated: Mapping[str, Any], given: Party | None, version: OcpiVersion) -> Party:
    if version == V2_1_1:
        if given is None:
            raise ValueError("A 2.1.1 token names no owner: pass the eMSP party that sent it.")
        return given
    named = party_by_code(validated["country_code"], validated["party_id"], field="party_id")
    if given is not None and given.pk != named.pk:
        raise serializers.ValidationError(
            {"party_id": [f"The token belongs to {named.code}, not to {given.code}."]}
        )
    if not named.is_partner_emsp:
        raise serializers.ValidationError({"party_id": [f"{named.code} is not a partner eMSP."]})
    return named


# Model fields a Token of each version sets (2.1.1 has no owner fields, group_id,
# default_profile_type or energy_contract: those keep what is stored).
_FIELDS_211 = (
    "uid",
    "type",
    "contract_id",
    "visual_number",
    "issuer",
    "valid",
    "whitelist",
    "language",
    "last_updated",
)
_FIELDS_22 = (*_FIELDS_211, "group_id", "default_profile_type", "energy_contract")


def token_fields(version: OcpiVersion) -> tuple[str, ...]:
    """The model fields that a Token of the version sets (``token_assign`` writes these)."""
    return _FIELDS_211 if version == V2_1_1 else _FIELDS_22


def token_assign(token: Token, validated: Mapping[str, Any], version: OcpiVersion) -> None:
    """Set the token's fields from a validated Token of the version (owner and pk untouched).

    Optional text fields absent or null are stored empty; fields the version does not have are
    left as they are.
    """
    v = validated
    token.uid = v["uid"]
    token.type = v["type"]
    token.contract_id = v["contract_id"]
    token.visual_number = v.get("visual_number") or ""
    token.issuer = v["issuer"]
    token.valid = v["valid"]
    token.whitelist = v["whitelist"]
    token.language = v.get("language") or ""
    token.last_updated = v["last_updated"]
    if version != V2_1_1:
        token.group_id = v.get("group_id") or ""
        token.default_profile_type = v.get("default_profile_type") or ""
        energy_contract = v.get("energy_contract")
        token.energy_contract = None if energy_contract is None else compact(energy_contract)


class ReadToken(NamedTuple):
    """A validated Token; ``model_checked``: the model's own rules are known to hold too."""

    validated: Json
    model_checked: bool


class TokenReader:
    """Validates many Token objects of one version (a pull's pages) at little cost per token.

    A token made only of plain values (printable text without surrounding spaces, within its
    length, known enum values, a boolean, a parseable date-time, no energy contract) is checked
    directly: the inbound serializer would take it unchanged, and the model would accept it.
    Anything else goes through the inbound serializer, which decides and names the errors; its
    result still needs the model's validation (``model_checked`` False).
    """

    def __init__(self, version: OcpiVersion) -> None:
        self.version = version
        self.serializer_class = TOKEN_SERIALIZERS[version]
        self.types = TOKEN_TYPES[version]
        self.names_owner = version != V2_1_1
        self.contract_key = "auth_id" if version == V2_1_1 else "contract_id"

    def read(self, data: Any) -> ReadToken:
        """The validated token; raises DRF ``ValidationError`` naming every bad field."""
        plain = self._plain(data) if type(data) is dict else None
        if plain is not None:
            return ReadToken(plain, True)
        return ReadToken(validate(self.serializer_class, data), False)

    def _plain(self, data: dict[str, Any]) -> Json | None:
        """The validated token when every value is plain; None when the serializer must decide."""
        get = data.get
        uid, token_type, contract_id = get("uid"), get("type"), get(self.contract_key)
        issuer, valid, whitelist = get("issuer"), get("valid"), get("whitelist")
        last_updated = get("last_updated")
        if (
            type(uid) is not str
            or not _OCPI_ID.fullmatch(uid)
            or type(token_type) is not str
            or token_type not in self.types
            or not _plain_text(contract_id, 36)
            or not _plain_text(issuer, 64)
            or type(valid) is not bool
            or type(whitelist) is not str
            or whitelist not in _WHITELISTS
            or type(last_updated) is not str
            or get("energy_contract") is not None
        ):
            return None
        try:
            updated_at = parse_datetime(last_updated)
        except ValueError:
            return None
        values: Json = {
            "uid": uid,
            "type": token_type,
            "contract_id": contract_id,
            "issuer": issuer,
            "valid": valid,
            "whitelist": whitelist,
            "last_updated": updated_at,
        }
        for name, limit in _OPTIONAL_TEXT[self.version]:
            value = get(name)
            if value is not None and value != "" and not _plain_text(value, limit):
                return None
            values[name] = value
        language = get("language")
        if language is not None:
            if type(language) is not str or not _LANGUAGE.fullmatch(language):
                return None
            language = language.lower()
        values["language"] = language
        if self.names_owner:
            country_code, party_id = get("country_code"), get("party_id")
            profile = get("default_profile_type")
            if (
                type(country_code) is not str
                or not _COUNTRY_CODE.fullmatch(country_code)
                or type(party_id) is not str
                or not _PARTY_ID.fullmatch(party_id)
                or not (profile is None or (type(profile) is str and profile in _PROFILES))
            ):
                return None
            values.update(
                country_code=country_code, party_id=party_id, default_profile_type=profile
            )
        return values


_OCPI_ID = re.compile(r"[\x21-\x7E]{1,36}")
_LANGUAGE = re.compile(r"[A-Za-z]{2}")
_COUNTRY_CODE = re.compile(r"[A-Za-z]{2}")
_PARTY_ID = re.compile(r"[A-Za-z0-9]{3}")
_WHITELISTS = frozenset(WhitelistType.values)
_PROFILES = frozenset(ProfileType.values)
_OPTIONAL_TEXT: dict[str, tuple[tuple[str, int], ...]] = {
    V2_1_1: (("visual_number", 64),),
    V2_2_1: (("visual_number", 64), ("group_id", 36)),
    V2_3_0: (("visual_number", 64), ("group_id", 36)),
}


def _plain_text(value: Any, limit: int) -> bool:
    """Text the serializer keeps as it is: printable, not blank, no surrounding spaces."""
    return (
        type(value) is str
        and 0 < len(value) <= limit
        and value.isprintable()
        and not value[0].isspace()
        and not value[-1].isspace()
    )


def token_from_ocpi(data: Any, *, version: OcpiVersion, owner: Party | None = None) -> Token:
    """Create or update a partner's token from a Token object; ``last_updated`` is kept as given.

    From 2.2 on the owner is the party the object names (``owner``, when given, must be that
    party); a 2.1.1 token needs ``owner``. Raises DRF ``ValidationError`` naming the bad field.
    """
    validated = validate(TOKEN_SERIALIZERS[version], data)
    party = _owner(validated, owner, version)
    ensure_partner_emsp(party)
    with transaction.atomic():
        token = Token.objects.filter(
            owner=party, uid__ci=validated["uid"], type=validated["type"]
        ).first() or Token(owner=party)
        token_assign(token, validated, version)
        names = _NAMES_211 if version == V2_1_1 else {}
        full_clean(token, names=names, exclude=_ENUM_COLUMNS)
        token.save()
    return token
