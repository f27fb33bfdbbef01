"""Session and its charging periods on the OCPI wire, per version (plus CdrToken and
ChargingPeriod, which CDRs share).

Outbound (``session_to_ocpi``) expects owner, location, EVSE and connector selected and the
charging periods prefetched (``sessions_for_ocpi``).

Choices for versions that cannot say what we store:

* 2.1.1 names the times ``start_datetime``/``end_datetime``, refers to the token by ``auth_id``
  (our contract id) and embeds the Location with only the EVSE and connector used; total_cost is
  a bare number before taxes. Auth method COMMAND goes out as AUTH_REQUEST (a remote start is
  an authorization by the eMSP) and status RESERVATION as PENDING.
* Dimension types a version does not have are left out of its charging periods, and a period
  left without dimensions is left out. 2.1.1 periods carry no tariff_id; a 2.1.1 FLAT dimension
  is read and dropped (later versions have no such dimension).
* Token types go out as ``token_type_out`` says (EMAID is OTHER before 2.3.0).

Inbound (``session_from_ocpi``) creates or replaces one of our sessions with its charging
periods. The location, EVSE and connector must exist under the owner; the eMSP is the party the
cdr_token names (2.2+) or, for 2.1.1, the owner of the token whose contract id is ``auth_id``.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from rest_framework import serializers

from locations.models import EVSE, Connector, Location
from roaming.choices import OcpiVersion
from roaming.models import Party
from roaming.modules.common import (
    V2_1_1,
    V2_2_1,
    V2_3_0,
    DateTimeField,
    DecimalField,
    EnumField,
    Json,
    NumberField,
    compact,
    datetime_out,
    decimal_out,
    ensure_owner_code,
    full_clean,
    money,
    omit_empty,
    optional,
    party_by_code,
    price_field,
    price_to_ocpi,
    string,
    validate,
)
from roaming.modules.locations.serializers import evse_to_ocpi, location_json
from roaming.modules.tokens.serializers import TOKEN_TYPES, token_type_out
from roaming.ownership import ensure_our_cpo
from sessions_app.choices import AuthMethod, CdrDimensionType, SessionStatus
from sessions_app.models import Session, SessionChargingPeriod, Token

FLAT_211 = "FLAT"
DIMENSION_TYPES: dict[str, frozenset[str]] = {
    V2_1_1: frozenset(
        {CdrDimensionType.ENERGY, CdrDimensionType.MAX_CURRENT, CdrDimensionType.MIN_CURRENT}
        | {CdrDimensionType.PARKING_TIME, CdrDimensionType.TIME}
    ),
    V2_2_1: frozenset(CdrDimensionType.values)
    - {CdrDimensionType.RESERVATION_EXPIRES, CdrDimensionType.RESERVATION_OVERTIME},
    V2_3_0: frozenset(CdrDimensionType.values),
}
AUTH_METHODS: dict[str, frozenset[str]] = {
    V2_1_1: frozenset({AuthMethod.AUTH_REQUEST, AuthMethod.WHITELIST}),
    V2_2_1: frozenset(AuthMethod.values),
    V2_3_0: frozenset(AuthMethod.values),
}
_STATUSES_211 = frozenset(SessionStatus.values) - {SessionStatus.RESERVATION}
_ENUM_COLUMNS = ("auth_method", "status")
_NAMES = {"ocpi_id": "id", "total_cost": "total_cost", "total_cost_taxes": "total_cost"}


# --- outbound -------------------------------------------------------------------------------------


def sessions_for_ocpi(queryset: QuerySet[Session]) -> QuerySet[Session]:
    """What ``session_to_ocpi`` reads, in two queries for any number of sessions."""
    return queryset.select_related("owner", "location", "evse", "connector").prefetch_related(
        "charging_periods"
    )


def auth_method_out(auth_method: str, version: OcpiVersion) -> str:
    if auth_method in AUTH_METHODS[version]:
        return auth_method
    return AuthMethod.AUTH_REQUEST.value


def cdr_token_out(cdr_token: Mapping[str, Any], version: OcpiVersion) -> Json:
    return {**cdr_token, "type": token_type_out(cdr_token["type"], version)}


def dimensions_out(dimensions: list[Json], version: OcpiVersion) -> list[Json]:
    known = DIMENSION_TYPES[version]
    return [
        {"type": d["type"], "volume": decimal_out(d["volume"])}
        for d in dimensions
        if d["type"] in known
    ]


def charging_period_json(
    start: Any, dimensions: list[Json], tariff_id: str, version: OcpiVersion
) -> Json | None:
    """One ChargingPeriod; None when the version can show none of its dimensions."""
    shown = dimensions_out(dimensions, version)
    if not shown:
        return None
    start_text = start if isinstance(start, str) else datetime_out(start)
    tariff = None if version == V2_1_1 else tariff_id
    return omit_empty({"start_date_time": start_text, "dimensions": shown, "tariff_id": tariff})


def _charging_periods(session: Session, version: OcpiVersion) -> list[Json]:
    periods = (
        charging_period_json(p.start_date_time, p.dimensions, p.tariff_id, version)
        for p in session.charging_periods.all()
    )
    return [p for p in periods if p]


def location_211_json(
    location: Location, evse: EVSE, connector: Connector, version: OcpiVersion
) -> Json:
    """2.1.1 embeds the Location with only the EVSE and connector that were used."""
    evse_object = evse_to_ocpi(evse, version, connectors=[connector])
    return location_json(location, version, [evse_object] if evse_object else [])


def session_to_ocpi(session: Session, version: OcpiVersion) -> Json:
    """The session as the version's Session."""
    common = {
        "id": session.ocpi_id,
        "kwh": decimal_out(session.kwh),
        "auth_method": auth_method_out(session.auth_method, version),
        "meter_id": session.meter_id,
        "currency": session.currency,
        "charging_periods": _charging_periods(session, version),
        "total_cost": price_to_ocpi(session.total_cost, session.total_cost_taxes, version),
        "last_updated": datetime_out(session.last_updated),
    }
    if version == V2_1_1:
        status = session.status if session.status in _STATUSES_211 else SessionStatus.PENDING
        return omit_empty(
            {
                **common,
                "start_datetime": datetime_out(session.start_date_time),
                "end_datetime": datetime_out(session.end_date_time),
                "auth_id": session.cdr_token["contract_id"],
                "location": location_211_json(
                    session.location, session.evse, session.connector, version
                ),
                "status": status,
            }
        )
    return omit_empty(
        {
            "country_code": session.country_code,
            "party_id": session.party_id,
            **common,
            "start_date_time": datetime_out(session.start_date_time),
            "end_date_time": datetime_out(session.end_date_time),
            "cdr_token": cdr_token_out(session.cdr_token, version),
            "authorization_reference": session.authorization_reference,
            "location_id": session.location.ocpi_id,
            "evse_uid": session.evse.uid,
            "connector_id": session.connector.ocpi_id,
            "status": session.status,
        }
    )


# --- inbound: shared with CDRs ------------------------------------------------------------------------


class CdrToken221Serializer(serializers.Serializer):
    country_code = serializers.RegexField(r"^[A-Za-z]{2}$")
    party_id = serializers.RegexField(r"^[A-Za-z0-9]{3}$")
    uid = serializers.CharField(max_length=36)
    type = EnumField(TOKEN_TYPES[V2_2_1])
    contract_id = serializers.CharField(max_length=36)

    def validate(self, attrs: Json) -> Json:
        return {
            **attrs,
            "country_code": attrs["country_code"].upper(),
            "party_id": attrs["party_id"].upper(),
        }


class CdrToken230Serializer(CdrToken221Serializer):
    type = EnumField(TOKEN_TYPES[V2_3_0], open_enum=True, max_length=16)


class _Dimension221Serializer(serializers.Serializer):
    type = EnumField(DIMENSION_TYPES[V2_2_1])
    volume = NumberField()


class _Dimension230Serializer(_Dimension221Serializer):
    type = EnumField(DIMENSION_TYPES[V2_3_0])


class _Dimension211Serializer(_Dimension221Serializer):
    type = EnumField(DIMENSION_TYPES[V2_1_1] | {FLAT_211})


class ChargingPeriod221Serializer(serializers.Serializer):
    start_date_time = DateTimeField()
    dimensions: serializers.Field = _Dimension221Serializer(many=True, allow_empty=False)
    tariff_id = string(36, required=False)


class ChargingPeriod230Serializer(ChargingPeriod221Serializer):
    dimensions = _Dimension230Serializer(many=True, allow_empty=False)


class ChargingPeriod211Serializer(ChargingPeriod221Serializer):
    tariff_id = None  # type: ignore[assignment]  # 2.1.1 periods have no tariff
    dimensions = _Dimension211Serializer(many=True, allow_empty=False)

    def validate(self, attrs: Json) -> Json:
        attrs["dimensions"] = [d for d in attrs["dimensions"] if d["type"] != FLAT_211]
        return attrs


CHARGING_PERIOD_SERIALIZERS: dict[str, type[serializers.Serializer]] = {
    V2_1_1: ChargingPeriod211Serializer,
    V2_2_1: ChargingPeriod221Serializer,
    V2_3_0: ChargingPeriod230Serializer,
}


def charging_periods_in(periods: list[Json] | None) -> list[Json]:
    """Validated charging periods as stored: plain JSON, periods without dimensions left out."""
    return [compact(p) for p in periods or [] if p["dimensions"]]


# --- inbound: Session ---------------------------------------------------------------------------------


class _SessionBaseSerializer(serializers.Serializer):
    id = serializers.CharField(max_length=36)
    kwh = DecimalField(min_value=Decimal(0))
    meter_id = string(255, required=False)
    currency = serializers.RegexField(r"^[A-Z]{3}$")
    last_updated = DateTimeField()


class Session221Serializer(_SessionBaseSerializer):
    country_code = serializers.RegexField(r"^[A-Za-z]{2}$")
    party_id = serializers.RegexField(r"^[A-Za-z0-9]{3}$")
    start_date_time = DateTimeField()
    end_date_time = optional(DateTimeField())
    cdr_token: serializers.Field = CdrToken221Serializer()
    auth_method = EnumField(AUTH_METHODS[V2_2_1])
    authorization_reference = string(36, required=False)
    location_id = serializers.CharField(max_length=36)
    evse_uid = serializers.CharField(max_length=36)
    connector_id = serializers.CharField(max_length=36)
    charging_periods = optional(ChargingPeriod221Serializer(many=True))
    total_cost = price_field(V2_2_1)
    status = EnumField(SessionStatus.values)


class Session230Serializer(Session221Serializer):
    cdr_token = CdrToken230Serializer()
    charging_periods = optional(ChargingPeriod230Serializer(many=True))
    total_cost = price_field(V2_3_0)


class _EmbeddedConnectorSerializer(serializers.Serializer):
    id = serializers.CharField(max_length=36)


class _EmbeddedEVSESerializer(serializers.Serializer):
    uid = serializers.CharField(max_length=36)
    connectors = _EmbeddedConnectorSerializer(many=True, allow_empty=False)

    def validate_connectors(self, value: list[Json]) -> list[Json]:
        return _just_one(value, "connector")


def _just_one(items: list[Json], what: str) -> list[Json]:
    if len(items) != 1:
        raise serializers.ValidationError(f"Give exactly the one {what} that was used.")
    return items


class EmbeddedLocation211Serializer(serializers.Serializer):
    """The Location copy inside a 2.1.1 session or CDR: only which EVSE and connector is read."""

    id = serializers.CharField(max_length=36)
    evses = _EmbeddedEVSESerializer(many=True, allow_empty=False)

    def validate_evses(self, value: list[Json]) -> list[Json]:
        return _just_one(value, "EVSE")

    def validate(self, attrs: Json) -> Json:
        evse = attrs["evses"][0]
        return {
            "location_id": attrs["id"],
            "evse_uid": evse["uid"],
            "connector_id": evse["connectors"][0]["id"],
        }


class Session211Serializer(_SessionBaseSerializer):
    start_datetime = DateTimeField()
    end_datetime = optional(DateTimeField())
    auth_id = serializers.CharField(max_length=36)
    auth_method = EnumField(AUTH_METHODS[V2_1_1])
    location = EmbeddedLocation211Serializer()
    charging_periods = optional(ChargingPeriod211Serializer(many=True))
    total_cost = price_field(V2_1_1)
    status = EnumField(_STATUSES_211)

    def validate(self, attrs: Json) -> Json:
        attrs.update(attrs.pop("location"))
        attrs["start_date_time"] = attrs.pop("start_datetime")
        attrs["end_date_time"] = attrs.pop("end_datetime", None)
        return attrs


SESSION_SERIALIZERS: dict[str, type[serializers.Serializer]] = {
    V2_1_1: Session211Serializer,
    V2_2_1: Session221Serializer,
    V2_3_0: Session230Serializer,
}


def connector_of(owner: Party, validated: Mapping[str, Any]) -> Connector:
    """The connector a session or CDR names by location_id, evse_uid and connector_id."""
    location = Location.objects.filter(owner=owner, ocpi_id__ci=validated["location_id"]).first()
    if location is None:
        raise serializers.ValidationError({"location_id": ["No such location of ours."]})
    evse = location.evses.filter(uid__ci=validated["evse_uid"]).first()
    if evse is None:
        raise serializers.ValidationError({"evse_uid": ["No such EVSE at this location."]})
    connector = evse.connectors.filter(ocpi_id__ci=validated["connector_id"]).first()
    if connector is None:
        raise serializers.ValidationError({"connector_id": ["No such connector at this EVSE."]})
    connector.evse = evse
    evse.location = location
    return connector


def token_of_211(auth_id: str, *, field: str = "auth_id") -> Token:
    """2.1.1 names the token by its auth_id, which we store as the contract id."""
    token = (
        Token.objects.select_related("owner")
        .filter(contract_id__ci=auth_id)
        .order_by("-last_updated")
        .first()
    )
    if token is None:
        raise serializers.ValidationError({field: [f"No token with auth_id {auth_id!r}."]})
    return token


def cdr_token_of(token: Token) -> Json:
    return {
        "country_code": token.country_code,
        "party_id": token.party_id,
        "uid": token.uid,
        "type": token.type,
        "contract_id": token.contract_id,
    }


def emsp_and_token(validated: Json, version: OcpiVersion) -> tuple[Party, Token | None]:
    """Who the driver's eMSP is, and its Token row if we have it; sets validated['cdr_token']."""
    if version == V2_1_1:
        token = token_of_211(validated["auth_id"])
        validated["cdr_token"] = cdr_token_of(token)
        return token.owner, token
    cdr_token = validated["cdr_token"]
    emsp = party_by_code(cdr_token["country_code"], cdr_token["party_id"], field="cdr_token")
    found = Token.objects.filter(
        owner=emsp, uid__ci=cdr_token["uid"], type=cdr_token["type"]
    ).first()
    return emsp, found


def _apply(session: Session, v: Mapping[str, Any], connector: Connector) -> None:
    session.ocpi_id = v["id"]
    session.start_date_time = v["start_date_time"]
    session.end_date_time = v.get("end_date_time")
    session.kwh = v["kwh"]
    session.cdr_token = compact(v["cdr_token"])
    session.auth_method = v["auth_method"]
    session.authorization_reference = v.get("authorization_reference") or ""
    session.connector = connector
    session.evse = connector.evse
    session.location = connector.evse.location
    session.meter_id = v.get("meter_id") or ""
    session.currency = v["currency"]
    session.total_cost, session.total_cost_taxes = money(v, "total_cost")
    session.status = v["status"]
    session.last_updated = v["last_updated"]


def _save_periods(session: Session, periods: list[Json]) -> None:
    session.charging_periods.all().delete()
    SessionChargingPeriod.objects.bulk_create(
        SessionChargingPeriod(
            session=session,
            start_date_time=period["start_date_time"],
            dimensions=period["dimensions"],
            tariff_id=period.get("tariff_id", ""),
        )
        for period in periods
    )


def session_from_ocpi(data: Any, *, owner: Party, version: OcpiVersion) -> Session:
    """Create or replace one of our sessions, with its charging periods, from a Session object.

    ``last_updated`` is kept as given. Raises DRF ``ValidationError`` naming the bad field.
    """
    ensure_our_cpo(owner)
    validated = validate(SESSION_SERIALIZERS[version], data)
    ensure_owner_code(validated, owner)
    with transaction.atomic():
        connector = connector_of(owner, validated)
        emsp, token = emsp_and_token(validated, version)
        session = Session.objects.filter(
            owner=owner, ocpi_id__ci=validated["id"]
        ).first() or Session(owner=owner)
        _apply(session, validated, connector)
        session.emsp, session.token = emsp, token
        full_clean(
            session,
            names=_NAMES,
            exclude=("emsp", "token", "location", "evse", "connector", *_ENUM_COLUMNS),
        )
        session.save(touch=False)
        _save_periods(session, charging_periods_in(validated.get("charging_periods")))
    return session
