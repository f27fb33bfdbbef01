"""CDR on the OCPI wire, per version.

A CDR keeps copies of what it was made from: the token (``cdr_token``), the location, EVSE and
connector (``cdr_location``) and the tariffs, stored as 2.3.0 Tariff objects so they can be sent
in any version (``roaming.modules.tariffs.serializers.tariff_for_version``). Outbound
(``cdr_to_ocpi``) expects owner and location selected and, for 2.1.1, the location's EVSEs and
connectors prefetched (``cdrs_for_ocpi``).

Choices for versions that cannot say what we store:

* 2.2.1 has no booking_id. A connector standard new in 2.3.0 is sent as TESLA_S for SAE_J3400
  and otherwise as stored (a CDR cannot leave its connector out).
* 2.1.1 names the end ``stop_date_time``, the token ``auth_id`` (our contract id), and embeds a
  Location with only the EVSE and connector used. Like a 2.1.1 session, that is our location as
  it is now, when we still have it; otherwise it is built from the CDR's copy, which does not
  know the location type, EVSE status, voltage or amperage (sent as UNKNOWN, UNKNOWN, 0 and 0).
  Costs are bare numbers before taxes; sub-costs, signed data, invoice and credit fields are not
  sent (2.1.1 has none).
* Charging periods and tariffs follow the rules of the sessions and tariffs modules. A tariff copy
  should be made by ``tariff_snapshot``; one lacking owner, tax_included or last_updated is sent
  with the CDR's owner, NO (the model's default) and the session start.

Inbound (``cdr_from_ocpi``) creates a CDR; CDRs never change, so a CDR id we already have is
refused. The eMSP is the party the cdr_token names (2.2+) or, for 2.1.1, the owner of the token
whose contract id is ``auth_id``; the session and location rows are linked when we have them.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from rest_framework import serializers

from billing.choices import TaxIncluded
from billing.models import CDR, CDR_SUB_COSTS
from locations.choices import ConnectorFormat
from locations.models import Location
from roaming.choices import OcpiVersion
from roaming.models import Party
from roaming.modules.common import (
    V2_1_1,
    V2_2_1,
    V2_3_0,
    DateTimeField,
    DecimalField,
    EnumField,
    GeoLocationSerializer,
    Json,
    compact,
    coordinate_out,
    datetime_out,
    decimal_out,
    ensure_owner_code,
    full_clean,
    money,
    omit_empty,
    optional,
    optional_decimal,
    price_field,
    price_to_ocpi,
    string,
    url_field,
    validate,
)
from roaming.modules.locations.serializers import (
    CONNECTOR_TYPES,
    POWER_TYPES,
    power_type_out,
    standard_out,
)
from roaming.modules.sessions.serializers import (
    AUTH_METHODS,
    CdrToken221Serializer,
    CdrToken230Serializer,
    ChargingPeriod211Serializer,
    ChargingPeriod221Serializer,
    ChargingPeriod230Serializer,
    auth_method_out,
    cdr_token_out,
    charging_period_json,
    charging_periods_in,
    emsp_and_token,
    location_211_json,
)
from roaming.modules.tariffs.serializers import (
    Tariff211Serializer,
    Tariff221Serializer,
    Tariff230Serializer,
    tariff_copy,
    tariff_for_version,
)
from roaming.ownership import ensure_our_cpo
from sessions_app.models import Session

_COSTS = ("total_cost", *CDR_SUB_COSTS)
_NAMES = {
    "ocpi_id": "id",
    "ocpi_session_id": "session_id",
    **{f"{cost}_taxes": cost for cost in _COSTS},
}


# --- outbound -------------------------------------------------------------------------------------


def cdrs_for_ocpi(queryset: QuerySet[CDR]) -> QuerySet[CDR]:
    """What ``cdr_to_ocpi`` reads, in three queries for any number of CDRs."""
    return queryset.select_related("owner", "location").prefetch_related(
        "location__evses__connectors"
    )


def _cdr_location_out(cdr_location: Mapping[str, Any], version: OcpiVersion) -> Json:
    standard = cdr_location["connector_standard"]
    return {**cdr_location, "connector_standard": standard_out(standard, version) or standard}


def _live_location_211(cdr: CDR, version: OcpiVersion) -> Json | None:
    """The CDR's location as 2.1.1 shows it from our rows, when we still have them."""
    location, copy = cdr.location, cdr.cdr_location
    if location is None:
        return None
    for evse in location.evses.all():
        if evse.uid.lower() != copy["evse_uid"].lower():
            continue
        for connector in evse.connectors.all():
            if connector.ocpi_id.lower() == copy["connector_id"].lower():
                return location_211_json(location, evse, connector, version)
    return None


def _copied_location_211(cdr: CDR, version: OcpiVersion) -> Json:
    """The CDR's location as 2.1.1 shows it from the CDR's copy alone."""
    copy = cdr.cdr_location
    stamp = datetime_out(cdr.last_updated)
    standard = copy["connector_standard"]
    connector = {
        "id": copy["connector_id"],
        "standard": standard_out(standard, version) or standard,
        "format": copy["connector_format"],
        "power_type": power_type_out(copy["connector_power_type"], version),
        "voltage": 0,
        "amperage": 0,
        "last_updated": stamp,
    }
    evse = {
        "uid": copy["evse_uid"],
        "evse_id": copy.get("evse_id"),
        "status": "UNKNOWN",
        "connectors": [connector],
        "last_updated": stamp,
    }
    fields = ("id", "name", "address", "city", "country", "coordinates")
    return omit_empty(
        {
            **{key: copy.get(key) for key in fields},
            "type": "UNKNOWN",
            "evses": [omit_empty(evse)],
            "last_updated": stamp,
        }
    ) | {"postal_code": copy.get("postal_code") or ""}


def _charging_periods(periods: list[Json], version: OcpiVersion) -> list[Json]:
    shown = (
        charging_period_json(
            p["start_date_time"], p["dimensions"], p.get("tariff_id") or "", version
        )
        for p in periods
    )
    return [p for p in shown if p]


def _tariffs(cdr: CDR, version: OcpiVersion) -> list[Json]:
    """The CDR's tariff copies; what a copy lacks that a Tariff requires is taken from the CDR."""
    defaults = {
        "country_code": cdr.country_code,
        "party_id": cdr.party_id,
        "tax_included": TaxIncluded.NO.value,
        "last_updated": datetime_out(cdr.start_date_time),
    }
    shown = (tariff_for_version({**defaults, **copy}, version) for copy in cdr.tariffs)
    return [t for t in shown if t]


def _cost(cdr: CDR, name: str, version: OcpiVersion) -> Any:
    return price_to_ocpi(getattr(cdr, name), getattr(cdr, f"{name}_taxes"), version)


def _cdr_211(cdr: CDR, version: OcpiVersion) -> Json:
    return omit_empty(
        {
            "id": cdr.ocpi_id,
            "start_date_time": datetime_out(cdr.start_date_time),
            "stop_date_time": datetime_out(cdr.end_date_time),
            "auth_id": cdr.cdr_token["contract_id"],
            "auth_method": auth_method_out(cdr.auth_method, version),
            "location": _live_location_211(cdr, version) or _copied_location_211(cdr, version),
            "meter_id": cdr.meter_id,
            "currency": cdr.currency,
            "tariffs": _tariffs(cdr, version),
            "charging_periods": _charging_periods(cdr.charging_periods, version),
            "total_cost": _cost(cdr, "total_cost", version),
            "total_energy": decimal_out(cdr.total_energy),
            "total_time": decimal_out(cdr.total_time),
            "total_parking_time": optional_decimal(cdr.total_parking_time),
            "remark": cdr.remark,
            "last_updated": datetime_out(cdr.last_updated),
        }
    )


def cdr_to_ocpi(cdr: CDR, version: OcpiVersion) -> Json:
    """The CDR as the version's CDR."""
    if version == V2_1_1:
        return _cdr_211(cdr, version)
    return omit_empty(
        {
            "country_code": cdr.country_code,
            "party_id": cdr.party_id,
            "id": cdr.ocpi_id,
            "start_date_time": datetime_out(cdr.start_date_time),
            "end_date_time": datetime_out(cdr.end_date_time),
            "session_id": cdr.ocpi_session_id,
            "booking_id": cdr.booking_id if version == V2_3_0 else None,
            "cdr_token": cdr_token_out(cdr.cdr_token, version),
            "auth_method": cdr.auth_method,
            "authorization_reference": cdr.authorization_reference,
            "cdr_location": _cdr_location_out(cdr.cdr_location, version),
            "meter_id": cdr.meter_id,
            "currency": cdr.currency,
            "tariffs": _tariffs(cdr, version),
            "charging_periods": _charging_periods(cdr.charging_periods, version),
            "signed_data": cdr.signed_data,
            **{cost: _cost(cdr, cost, version) for cost in _COSTS},
            "total_energy": decimal_out(cdr.total_energy),
            "total_time": decimal_out(cdr.total_time),
            "total_parking_time": optional_decimal(cdr.total_parking_time),
            "remark": cdr.remark,
            "invoice_reference_id": cdr.invoice_reference_id,
            # Absent reads as false: only a true flag is sent.
            "credit": cdr.credit or None,
            "credit_reference_id": cdr.credit_reference_id,
            "home_charging_compensation": cdr.home_charging_compensation or None,
            "last_updated": datetime_out(cdr.last_updated),
        }
    )


# --- inbound: copies of the location ----------------------------------------------------------------


class CdrLocation221Serializer(serializers.Serializer):
    id = serializers.CharField(max_length=36)
    name = string(255, required=False)
    address = serializers.CharField(max_length=45)
    city = serializers.CharField(max_length=45)
    postal_code = string(10, required=False)
    state = string(20, required=False)
    country = serializers.RegexField(r"^[A-Z]{3}$")
    coordinates = GeoLocationSerializer()
    evse_uid = serializers.CharField(max_length=36)
    evse_id = serializers.CharField(max_length=48)
    connector_id = serializers.CharField(max_length=36)
    connector_standard = EnumField(CONNECTOR_TYPES[V2_2_1])
    connector_format = EnumField(ConnectorFormat.values)
    connector_power_type = EnumField(POWER_TYPES[V2_2_1])

    def validate(self, attrs: Json) -> Json:
        coordinates = attrs["coordinates"]
        return {
            **attrs,
            "coordinates": {
                "latitude": coordinate_out(coordinates["latitude"]),
                "longitude": coordinate_out(coordinates["longitude"]),
            },
        }


class CdrLocation230Serializer(CdrLocation221Serializer):
    connector_standard = EnumField(CONNECTOR_TYPES[V2_3_0], open_enum=True, max_length=32)


class _Connector211Serializer(serializers.Serializer):
    id = serializers.CharField(max_length=36)
    standard = EnumField(CONNECTOR_TYPES[V2_1_1])
    format = EnumField(ConnectorFormat.values)
    power_type = EnumField(POWER_TYPES[V2_1_1])


class _EVSE211Serializer(serializers.Serializer):
    uid = serializers.CharField(max_length=36)
    evse_id = serializers.CharField(max_length=48)
    connectors = _Connector211Serializer(many=True, allow_empty=False)

    def validate_connectors(self, value: list[Json]) -> list[Json]:
        if len(value) != 1:
            raise serializers.ValidationError("Give exactly the one connector that was used.")
        return value


class Location211CopySerializer(serializers.Serializer):
    """The Location inside a 2.1.1 CDR, read into the CDR's location copy."""

    id = serializers.CharField(max_length=36)
    name = string(255, required=False)
    address = serializers.CharField(max_length=45)
    city = serializers.CharField(max_length=45)
    postal_code = string(10, required=False)
    country = serializers.RegexField(r"^[A-Z]{3}$")
    coordinates = GeoLocationSerializer()
    evses = _EVSE211Serializer(many=True, allow_empty=False)

    def validate_evses(self, value: list[Json]) -> list[Json]:
        if len(value) != 1:
            raise serializers.ValidationError("Give exactly the one EVSE that was used.")
        return value

    def validate(self, attrs: Json) -> Json:
        evse = attrs["evses"][0]
        connector = evse["connectors"][0]
        coordinates = attrs["coordinates"]
        return {
            "id": attrs["id"],
            "name": attrs.get("name"),
            "address": attrs["address"],
            "city": attrs["city"],
            "postal_code": attrs.get("postal_code"),
            "country": attrs["country"],
            "coordinates": {
                "latitude": coordinate_out(coordinates["latitude"]),
                "longitude": coordinate_out(coordinates["longitude"]),
            },
            "evse_uid": evse["uid"],
            "evse_id": evse["evse_id"],
            "connector_id": connector["id"],
            "connector_standard": connector["standard"],
            "connector_format": connector["format"],
            "connector_power_type": connector["power_type"],
        }


class _SignedValueSerializer(serializers.Serializer):
    nature = serializers.CharField(max_length=32)
    plain_data = serializers.CharField(max_length=512)
    signed_data = serializers.CharField(max_length=5000)


class SignedDataSerializer(serializers.Serializer):
    encoding_method = serializers.CharField(max_length=36)
    encoding_method_version = optional(serializers.IntegerField())
    public_key = string(512, required=False)
    signed_values = _SignedValueSerializer(many=True)
    url = url_field()


# --- inbound: CDR -----------------------------------------------------------------------------------


class _CdrBaseSerializer(serializers.Serializer):
    start_date_time = DateTimeField()
    meter_id = string(255, required=False)
    currency = serializers.RegexField(r"^[A-Z]{3}$")
    total_energy = DecimalField(min_value=Decimal(0))
    total_time = DecimalField(places=6, min_value=Decimal(0))
    total_parking_time = optional(DecimalField(places=6, min_value=Decimal(0)))
    remark = string(255, required=False)
    last_updated = DateTimeField()


class Cdr221Serializer(_CdrBaseSerializer):
    country_code = serializers.RegexField(r"^[A-Za-z]{2}$")
    party_id = serializers.RegexField(r"^[A-Za-z0-9]{3}$")
    id = serializers.CharField(max_length=39)
    end_date_time = DateTimeField()
    session_id = string(36, required=False)
    cdr_token: serializers.Field = CdrToken221Serializer()
    auth_method = EnumField(AUTH_METHODS[V2_2_1])
    authorization_reference = string(36, required=False)
    cdr_location: serializers.Field = CdrLocation221Serializer()
    tariffs = optional(Tariff221Serializer(many=True))
    charging_periods: serializers.Field = ChargingPeriod221Serializer(many=True, allow_empty=False)
    signed_data = optional(SignedDataSerializer())
    total_cost = price_field(V2_2_1, required=True)
    total_fixed_cost = price_field(V2_2_1)
    total_energy_cost = price_field(V2_2_1)
    total_time_cost = price_field(V2_2_1)
    total_parking_cost = price_field(V2_2_1)
    total_reservation_cost = price_field(V2_2_1)
    invoice_reference_id = string(39, required=False)
    credit = optional(serializers.BooleanField())
    credit_reference_id = string(39, required=False)
    home_charging_compensation = optional(serializers.BooleanField())


class Cdr230Serializer(Cdr221Serializer):
    booking_id = string(36, required=False)
    cdr_token = CdrToken230Serializer()
    cdr_location = CdrLocation230Serializer()
    tariffs = optional(Tariff230Serializer(many=True))
    charging_periods = ChargingPeriod230Serializer(many=True, allow_empty=False)
    total_cost = price_field(V2_3_0, required=True)
    total_fixed_cost = price_field(V2_3_0)
    total_energy_cost = price_field(V2_3_0)
    total_time_cost = price_field(V2_3_0)
    total_parking_cost = price_field(V2_3_0)
    total_reservation_cost = price_field(V2_3_0)


class Cdr211Serializer(_CdrBaseSerializer):
    id = serializers.CharField(max_length=36)
    stop_date_time = DateTimeField()
    auth_id = serializers.CharField(max_length=36)
    auth_method = EnumField(AUTH_METHODS[V2_1_1])
    location = Location211CopySerializer()
    tariffs = optional(Tariff211Serializer(many=True))
    charging_periods = ChargingPeriod211Serializer(many=True, allow_empty=False)
    total_cost = price_field(V2_1_1, required=True)

    def validate(self, attrs: Json) -> Json:
        attrs["end_date_time"] = attrs.pop("stop_date_time")
        attrs["cdr_location"] = attrs.pop("location")
        return attrs


CDR_SERIALIZERS: dict[str, type[serializers.Serializer]] = {
    V2_1_1: Cdr211Serializer,
    V2_2_1: Cdr221Serializer,
    V2_3_0: Cdr230Serializer,
}


def _apply(cdr: CDR, v: Mapping[str, Any], owner: Party) -> None:
    cdr.ocpi_id = v["id"]
    cdr.start_date_time = v["start_date_time"]
    cdr.end_date_time = v["end_date_time"]
    cdr.ocpi_session_id = v.get("session_id") or ""
    cdr.booking_id = v.get("booking_id") or ""
    cdr.cdr_token = compact(v["cdr_token"])
    cdr.auth_method = v["auth_method"]
    cdr.authorization_reference = v.get("authorization_reference") or ""
    cdr.cdr_location = compact(v["cdr_location"])
    cdr.meter_id = v.get("meter_id") or ""
    cdr.currency = v["currency"]
    cdr.tariffs = [tariff_copy(tariff, owner=owner) for tariff in v.get("tariffs") or []]
    cdr.charging_periods = charging_periods_in(v["charging_periods"])
    signed_data = v.get("signed_data")
    cdr.signed_data = None if signed_data is None else compact(signed_data)
    for cost in _COSTS:
        amount, taxes = money(v, cost)
        setattr(cdr, cost, amount)
        setattr(cdr, f"{cost}_taxes", taxes)
    cdr.total_energy = v["total_energy"]
    cdr.total_time = v["total_time"]
    cdr.total_parking_time = v.get("total_parking_time")
    cdr.remark = v.get("remark") or ""
    cdr.invoice_reference_id = v.get("invoice_reference_id") or ""
    cdr.credit = bool(v.get("credit"))
    cdr.credit_reference_id = v.get("credit_reference_id") or ""
    cdr.home_charging_compensation = bool(v.get("home_charging_compensation"))
    cdr.last_updated = v["last_updated"]


def _link(cdr: CDR, owner: Party) -> None:
    """Point the CDR at our session and location rows when we have them."""
    if cdr.ocpi_session_id:
        cdr.session = Session.objects.filter(owner=owner, ocpi_id__ci=cdr.ocpi_session_id).first()
    cdr.location = Location.objects.filter(owner=owner, ocpi_id__ci=cdr.cdr_location["id"]).first()


def cdr_from_ocpi(data: Any, *, owner: Party, version: OcpiVersion) -> CDR:
    """Create one of our CDRs from a CDR object (CDRs never change: a known id is refused).

    Raises DRF ``ValidationError`` naming the bad field.
    """
    ensure_our_cpo(owner)
    validated = validate(CDR_SERIALIZERS[version], data)
    ensure_owner_code(validated, owner)
    with transaction.atomic():
        if CDR.objects.filter(owner=owner, ocpi_id__ci=validated["id"]).exists():
            raise serializers.ValidationError(
                {"id": ["We have this CDR already; a CDR never changes (send a credit CDR)."]}
            )
        emsp, _token = emsp_and_token(validated, version)
        cdr = CDR(owner=owner, emsp=emsp)
        _apply(cdr, validated, owner)
        _link(cdr, owner)
        full_clean(cdr, names=_NAMES, exclude=("emsp", "session", "location", "auth_method"))
        cdr.save()
    return cdr
