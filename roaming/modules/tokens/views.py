"""Tokens receiver: partner eMSPs keep their tokens in our cache up to date (GET, PUT, PATCH).

Answers, and why:

* The URL names the owner of the token (country code, party id). Only that eMSP may use it: a
  connection that does not speak for the party in the URL (or whose routing headers name another
  party) gets HTTP 404, as OCPI allows for client-owned objects of another party, so that nobody
  learns which tokens others have.
* PUT and PATCH bodies must agree with the URL (uid, type, and from 2.2 on country code and party
  id): 2001 naming the field otherwise. The type is ``?type=`` (RFID when absent) from 2.2 on; the
  2.1.1 URL has no type, and a token is found by its uid there.
* PUT answers HTTP 201 when it created the token, 200 when it replaced it. PATCH must carry
  ``last_updated`` from 2.2 on (2001 otherwise); 2.1.1 PATCHes need not, and then the time of
  receipt is stored. A PATCHed token is validated whole, as it would be after the change.
* GET and PATCH of a token we do not have: HTTP 404 with OCPI 2004 (unknown token).
* Unknown fields are ignored; an unknown token type is refused before 2.3.0 and kept from 2.3.0
  on (TokenType is an open enum there); other enums are closed and refused with 2001.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from roaming.choices import OcpiVersion
from roaming.models import Party
from roaming.modules.common import V2_1_1, V2_3_0, EnumField, Json, compact, validate
from roaming.modules.tokens.serializers import TOKEN_SERIALIZERS, TOKEN_TYPES, token_to_ocpi
from roaming.openapi import Card, OcpiDescription, Operation
from roaming.ownership import OwnershipError
from roaming.transport.envelope import ocpi_response
from roaming.transport.errors import (
    InvalidParametersError,
    NotFoundError,
    UnknownTokenError,
    validation_message,
)
from roaming.transport.views import OcpiView
from sessions_app.choices import TokenType
from sessions_app.models import Token
from sessions_app.services import (
    TokenNotFoundError,
    TokenValues,
    ensure_token_sender,
    token_find,
    token_patch,
    token_upsert,
)

# Wire name -> model field, where they differ.
_FIELDS_211 = {"auth_id": "contract_id"}
_IDENTITY = frozenset({"uid", "type", "country_code", "party_id"})
_OPTIONAL_TEXT = ("visual_number", "language", "group_id", "default_profile_type")

T = TypeVar("T")

TYPE_PARAMETER = OpenApiParameter(
    "type",
    OpenApiTypes.STR,
    OpenApiParameter.QUERY,
    description="Token type (2.2.1 and later); RFID when absent. Not used by 2.1.1.",
)


class TokenView(OcpiView):
    """One token of a partner eMSP as cached here: read it back, push it whole, or change it."""

    openapi = OcpiDescription(
        objects=TOKEN_SERIALIZERS,
        operations={
            "GET": Operation(response=Card.OBJECT, parameters=(TYPE_PARAMETER,)),
            "PUT": Operation(request=Card.OBJECT, created=True, parameters=(TYPE_PARAMETER,)),
            "PATCH": Operation(request=Card.PARTIAL, parameters=(TYPE_PARAMETER,)),
        },
    )

    def get(
        self, request: Request, *, country_code: str, party_id: str, token_uid: str, **kwargs: Any
    ) -> Response:
        sender, owner = self._sender_and_owner(country_code, party_id)
        _refuse_others(lambda: ensure_token_sender(sender=sender, owner=owner))
        token = token_find(owner=owner, uid=token_uid, token_type=self._url_type())
        if token is None:
            raise UnknownTokenError(f"Unknown token {token_uid}", http_status=404)
        return ocpi_response(token_to_ocpi(token, self.ocpi_version))

    def put(
        self, request: Request, *, country_code: str, party_id: str, token_uid: str, **kwargs: Any
    ) -> Response:
        sender, owner = self._sender_and_owner(country_code, party_id)
        _refuse_others(lambda: ensure_token_sender(sender=sender, owner=owner))
        version = self.ocpi_version
        validated = validate(TOKEN_SERIALIZERS[version], _object_body(request))
        self._ensure_agreement(validated, country_code, party_id, token_uid)
        result = self._save(
            lambda: token_upsert(
                sender=sender,
                owner=owner,
                uid=validated["uid"],
                token_type=validated["type"],
                values=_token_values(validated, version, fields=None),
            )
        )
        return ocpi_response(None, http_status=201 if result.created else 200)

    def patch(
        self, request: Request, *, country_code: str, party_id: str, token_uid: str, **kwargs: Any
    ) -> Response:
        sender, owner = self._sender_and_owner(country_code, party_id)
        _refuse_others(lambda: ensure_token_sender(sender=sender, owner=owner))
        version = self.ocpi_version
        body = _object_body(request)
        if version != V2_1_1 and body.get("last_updated") is None:
            raise InvalidParametersError("last_updated: a PATCH must carry last_updated")
        url_type = self._url_type()

        def changes(stored: Token) -> TokenValues:
            # Validate the token as it will be after the change, so that every rule of a whole
            # token holds (and the errors name the PATCHed fields as the partner wrote them).
            merged = {**token_to_ocpi(stored, version), **body}
            validated = validate(TOKEN_SERIALIZERS[version], merged)
            self._ensure_agreement(validated, country_code, party_id, token_uid)
            return _token_values(validated, version, fields=body.keys())

        self._save(
            lambda: token_patch(
                sender=sender, owner=owner, uid=token_uid, token_type=url_type, changes=changes
            )
        )
        return ocpi_response(None)

    # --- helpers ---

    def _sender_and_owner(self, country_code: str, party_id: str) -> tuple[Party, Party]:
        """The party this request is from, and the party the URL names as the token's owner."""
        code = f"{country_code.upper()}-{party_id.upper()}"
        routed = self.routing.from_party if self.routing is not None else None
        if routed is not None and routed.code == code:
            return routed, routed  # the usual case: an eMSP writing its own tokens
        owner = Party.objects.filter(
            country_code=country_code.upper(), party_id=party_id.upper()
        ).first()
        if owner is None:
            raise NotFoundError(f"No tokens of {code} here")
        if routed is not None:
            return routed, owner
        # A hub that sent no routing headers: the URL says on whose behalf, if it relays for it.
        if not self.partner.parties.filter(pk=owner.pk).exists():
            raise NotFoundError(f"This connection does not speak for {code}")
        return owner, owner

    def _url_type(self) -> str | None:
        """The ?type= of the URL: RFID when absent (2.2+); None (any type) for 2.1.1."""
        raw = self.request.query_params.get("type")
        version = self.ocpi_version
        if not raw:
            return None if version == V2_1_1 else TokenType.RFID.value
        field = EnumField(TOKEN_TYPES[version], open_enum=version == V2_3_0, max_length=16)
        try:
            return str(field.run_validation(raw))
        except serializers.ValidationError as error:
            raise InvalidParametersError(validation_message({"type": error.detail})) from error

    def _ensure_agreement(
        self, validated: Mapping[str, Any], country_code: str, party_id: str, token_uid: str
    ) -> None:
        """The object must be the one the URL addresses (OCPI: 2001 when they differ)."""
        problems: dict[str, list[str]] = {}
        if validated["uid"].lower() != token_uid.lower():
            problems["uid"] = [f"{validated['uid']!r} differs from {token_uid!r} in the URL."]
        url_type = self._url_type()
        if url_type is not None and validated["type"] != url_type:
            problems["type"] = [
                f"{validated['type']!r} differs from the URL's type {url_type!r} "
                "(RFID when ?type= is absent)."
            ]
        if self.ocpi_version != V2_1_1:
            for key, expected in (("country_code", country_code), ("party_id", party_id)):
                if validated[key].upper() != expected.upper():
                    problems[key] = [f"{validated[key]!r} differs from {expected!r} in the URL."]
        if problems:
            raise InvalidParametersError(validation_message(problems))

    def _save(self, step: Callable[[], T]) -> T:
        """Run a service step, answering as OCPI would for its refusals."""
        # Model field -> the version's wire name, so that errors name what the partner sent.
        names = {v: k for k, v in _FIELDS_211.items()} if self.ocpi_version == V2_1_1 else {}
        try:
            return _refuse_others(step)
        except TokenNotFoundError as error:
            raise UnknownTokenError(str(error), http_status=404) from error
        except DjangoValidationError as error:
            problems = {names.get(field, field): msgs for field, msgs in error.message_dict.items()}
            raise InvalidParametersError(validation_message(problems)) from error


def _refuse_others(step: Callable[[], T]) -> T:
    try:
        return step()
    except OwnershipError as error:
        raise NotFoundError(" ".join(error.messages)) from error


def _object_body(request: Request) -> Json:
    if not isinstance(request.data, dict):
        raise InvalidParametersError("The request body must be a JSON object (a Token)")
    return request.data


def _token_values(
    validated: Mapping[str, Any], version: OcpiVersion, *, fields: Iterable[str] | None
) -> TokenValues:
    """Validated wire data as model values: all the version has (``fields`` None) or those named.

    Fields the version does not have are left out, so that they keep what is stored.
    """
    renames = _FIELDS_211 if version == V2_1_1 else {}
    wanted = None if fields is None else {renames.get(name, name) for name in fields}
    values: dict[str, Any] = {}
    for wire_name, value in validated.items():
        name = renames.get(wire_name, wire_name)
        if name in _IDENTITY or (wanted is not None and name not in wanted):
            continue
        if name in _OPTIONAL_TEXT:
            value = value or ""
        elif name == "energy_contract":
            value = None if value is None else compact(value)
        values[name] = value
    if fields is None:
        # An optional field absent from a PUT is cleared, as the whole object is replaced.
        for name in _OPTIONAL_TEXT:
            if _version_has(version, name):
                values.setdefault(name, "")
        if version != V2_1_1:
            values.setdefault("energy_contract", None)
    return TokenValues(**values)  # type: ignore[typeddict-item]


def _version_has(version: OcpiVersion, name: str) -> bool:
    return version != V2_1_1 or name in ("visual_number", "language")
