"""Location, EVSE and Connector on the OCPI wire, per version.

Outbound (``location_to_ocpi``, ``evse_to_ocpi``, ``connector_to_ocpi``) expects the location's
owner selected and its EVSEs with their connectors prefetched (``locations_for_ocpi``).

Choices for versions that cannot say what we store:

* 2.3.0-only fields (parking_places, help_phone, EVSE parking and accepted_service_providers,
  connector capabilities) are left out for 2.2.1 and 2.1.1; list values a version does not know
  (capabilities, facilities, parking restrictions) are dropped from the list.
* Connector standard SAE_J3400 goes out as TESLA_S (the same plug) to versions without it; a
  connector whose standard the version has no name for is left out, and so is an EVSE left
  without connectors (OCPI requires at least one).
* 2.1.1: ``type`` stands for parking_type (ALONG_MOTORWAY and ON_DRIVEWAY become OTHER, none is
  UNKNOWN); connectors say ``voltage``/``amperage`` and carry one ``tariff_id`` (the first of
  ours); power types AC_2_PHASE and AC_2_PHASE_SPLIT go out as AC_1_PHASE (never promise a car
  more phases than it gets); postal_code is always sent because 2.1.1 requires it; publish is not
  sent (2.1.1 has no unpublished locations).
* Publish tokens of a type the version does not know are sent without ``type``.

Inbound (``location_from_ocpi``) creates or updates the location, its EVSEs and their connectors
from a full Location object and keeps the ``last_updated`` values given. We require
``time_zone`` even from 2.1.1 (where it is optional) because tariffs and opening hours are
evaluated in it. EVSEs missing from the object are left as they are (OCPI removes an EVSE by
status REMOVED, never by omission); connectors missing from an EVSE are deleted. Fields the
sending version does not have are left untouched.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.db import transaction
from django.db.models import ProtectedError, QuerySet
from rest_framework import serializers

from locations.choices import (
    Capability,
    ConnectorCapability,
    ConnectorFormat,
    ConnectorType,
    EVSEPosition,
    Facility,
    ParkingDirection,
    ParkingRestriction,
    ParkingType,
    PowerType,
    Status,
    VehicleType,
)
from locations.models import EVSE, Connector, Location
from roaming.choices import OcpiVersion
from roaming.models import Party
from roaming.modules.common import (
    HH_MM,
    V2_1_1,
    V2_2_1,
    V2_3_0,
    BusinessDetailsSerializer,
    DateTimeField,
    DisplayTextSerializer,
    EnergyMixSerializer,
    EnumField,
    EnumListField,
    GeoLocationSerializer,
    ImageSerializer,
    Json,
    NumberField,
    compact,
    coordinate_out,
    datetime_out,
    energy_mix_to_ocpi,
    ensure_owner_code,
    full_clean,
    keep_known,
    omit_empty,
    optional,
    string,
    url_field,
    validate,
)
from roaming.ownership import ensure_our_cpo
from sessions_app.choices import TokenType

_ALL = frozenset

CONNECTOR_TYPES: dict[str, frozenset[str]] = {
    V2_1_1: _ALL(
        {"CHADEMO", "IEC_60309_2_single_16", "IEC_60309_2_three_16", "IEC_60309_2_three_32"}
        | {"IEC_60309_2_three_64", "IEC_62196_T1", "IEC_62196_T1_COMBO", "IEC_62196_T2"}
        | {"IEC_62196_T2_COMBO", "IEC_62196_T3A", "IEC_62196_T3C", "TESLA_R", "TESLA_S"}
        | {f"DOMESTIC_{letter}" for letter in "ABCDEFGHIJKL"}
    ),
    V2_2_1: _ALL(ConnectorType.values) - {ConnectorType.MCS, ConnectorType.SAE_J3400},
    V2_3_0: _ALL(ConnectorType.values),
}
POWER_TYPES: dict[str, frozenset[str]] = {
    V2_1_1: _ALL({PowerType.AC_1_PHASE, PowerType.AC_3_PHASE, PowerType.DC}),
    V2_2_1: _ALL(PowerType.values),
    V2_3_0: _ALL(PowerType.values),
}
CAPABILITIES: dict[str, frozenset[str]] = {
    V2_1_1: _ALL(
        {Capability.CHARGING_PROFILE_CAPABLE, Capability.CREDIT_CARD_PAYABLE}
        | {Capability.REMOTE_START_STOP_CAPABLE, Capability.RESERVABLE}
        | {Capability.RFID_READER, Capability.UNLOCK_CAPABLE}
    ),
    V2_2_1: _ALL(Capability.values),
    V2_3_0: _ALL(Capability.values),
}
FACILITIES: dict[str, frozenset[str]] = {
    V2_1_1: _ALL(Facility.values)
    - {Facility.BIKE_SHARING, Facility.TRAM_STOP, Facility.METRO_STATION, Facility.PARKING_LOT},
    V2_2_1: _ALL(Facility.values),
    V2_3_0: _ALL(Facility.values),
}
_OLD_RESTRICTIONS = _ALL(ParkingRestriction.values) - {"EMPLOYEES", "TAXIS", "TENANTS"}
PARKING_RESTRICTIONS: dict[str, frozenset[str]] = {
    V2_1_1: _OLD_RESTRICTIONS,
    V2_2_1: _OLD_RESTRICTIONS,
    V2_3_0: _ALL(ParkingRestriction.values),
}
PUBLISH_TOKEN_TYPES: dict[str, frozenset[str]] = {
    V2_2_1: _ALL(TokenType.values) - {TokenType.EMAID},
    V2_3_0: _ALL(TokenType.values),
}
# 2.1.1 LocationType <-> our parking type.
_LOCATION_TYPES_211 = _ALL(
    {ParkingType.ON_STREET, ParkingType.PARKING_GARAGE}
    | {ParkingType.UNDERGROUND_GARAGE, ParkingType.PARKING_LOT}
)
_LOCATION_TYPE_211_IN = _LOCATION_TYPES_211 | {"OTHER", "UNKNOWN"}
_OPEN = {V2_1_1: False, V2_2_1: False, V2_3_0: True}

# Model field -> OCPI field, for model validation errors.
_LOCATION_NAMES = {
    "ocpi_id": "id",
    "owner_details": "owner",
    "latitude": "coordinates.latitude",
    "longitude": "coordinates.longitude",
}
_EVSE_NAMES = {"latitude": "coordinates.latitude", "longitude": "coordinates.longitude"}
_CONNECTOR_NAMES = {"ocpi_id": "id"}
# Enum columns are checked per version by the serializers (2.3.0 open enums may hold new values).
_ENUM_COLUMNS = ("parking_type", "status", "standard", "format", "power_type")


# --- outbound -------------------------------------------------------------------------------------


def locations_for_ocpi(queryset: QuerySet[Location]) -> QuerySet[Location]:
    """What the outbound functions read, fetched in three queries for any number of locations."""
    return queryset.select_related("owner").prefetch_related("evses__connectors")


def standard_out(standard: str, version: OcpiVersion) -> str | None:
    known = CONNECTOR_TYPES[version]
    if standard in known or (version == V2_3_0 and standard not in ConnectorType.values):
        return standard
    if standard == ConnectorType.SAE_J3400 and ConnectorType.TESLA_S in known:
        return ConnectorType.TESLA_S.value
    return None


def power_type_out(power_type: str, version: OcpiVersion) -> str:
    if power_type in POWER_TYPES[version]:
        return power_type
    return PowerType.AC_1_PHASE.value


def connector_to_ocpi(connector: Connector, version: OcpiVersion) -> Json | None:
    """The connector as the version's Connector; None when the version cannot name its standard."""
    standard = standard_out(connector.standard, version)
    if standard is None:
        return None
    common = {
        "id": connector.ocpi_id,
        "standard": standard,
        "format": connector.format,
        "power_type": power_type_out(connector.power_type, version),
    }
    if version == V2_1_1:
        tariff_ids = connector.tariff_ids or [None]
        return omit_empty(
            {
                **common,
                "voltage": connector.max_voltage,
                "amperage": connector.max_amperage,
                "tariff_id": tariff_ids[0],
                "terms_and_conditions": connector.terms_and_conditions,
                "last_updated": datetime_out(connector.last_updated),
            }
        )
    return omit_empty(
        {
            **common,
            "max_voltage": connector.max_voltage,
            "max_amperage": connector.max_amperage,
            "max_electric_power": connector.max_electric_power,
            "tariff_ids": connector.tariff_ids,
            "terms_and_conditions": connector.terms_and_conditions,
            "capabilities": connector.capabilities if version == V2_3_0 else None,
            "last_updated": datetime_out(connector.last_updated),
        }
    )


def _coordinates(latitude: Any, longitude: Any) -> Json | None:
    if latitude is None or longitude is None:
        return None
    return {"latitude": coordinate_out(latitude), "longitude": coordinate_out(longitude)}


def evse_to_ocpi(
    evse: EVSE, version: OcpiVersion, *, connectors: Iterable[Connector] | None = None
) -> Json | None:
    """The EVSE as the version's EVSE; None when the version can show none of its connectors.

    ``connectors`` limits the output to those (a 2.1.1 session or CDR shows only the one used).
    """
    chosen = evse.connectors.all() if connectors is None else connectors
    connector_objects = [c for c in (connector_to_ocpi(c, version) for c in chosen) if c]
    if not connector_objects:
        return None
    is_230 = version == V2_3_0
    return omit_empty(
        {
            "uid": evse.uid,
            "evse_id": evse.evse_id,
            "status": evse.status,
            "status_schedule": evse.status_schedule,
            "capabilities": keep_known(evse.capabilities, CAPABILITIES[version]),
            "connectors": connector_objects,
            "floor_level": evse.floor_level,
            "coordinates": _coordinates(evse.latitude, evse.longitude),
            "physical_reference": evse.physical_reference,
            "directions": evse.directions,
            "parking_restrictions": keep_known(
                evse.parking_restrictions, PARKING_RESTRICTIONS[version]
            ),
            "parking": evse.parking if is_230 else None,
            "accepted_service_providers": evse.accepted_service_providers if is_230 else None,
            "images": evse.images,
            "last_updated": datetime_out(evse.last_updated),
        }
    )


def _publish_allowed_to(entries: list[Json], version: OcpiVersion) -> list[Json]:
    known = PUBLISH_TOKEN_TYPES[version]
    return [
        {key: value for key, value in entry.items() if key != "type" or value in known}
        for entry in entries
    ]


def location_type_211(parking_type: str) -> str:
    if parking_type in _LOCATION_TYPES_211:
        return parking_type
    return "OTHER" if parking_type else "UNKNOWN"


def _location_body(location: Location, version: OcpiVersion, evses: list[Json]) -> Json:
    return {
        "id": location.ocpi_id,
        "name": location.name,
        "address": location.address,
        "city": location.city,
        "postal_code": location.postal_code,
        "country": location.country,
        "coordinates": _coordinates(location.latitude, location.longitude),
        "related_locations": location.related_locations,
        "evses": evses,
        "directions": location.directions,
        "operator": location.operator,
        "suboperator": location.suboperator,
        "owner": location.owner_details,
        "facilities": keep_known(location.facilities, FACILITIES[version]),
        "time_zone": location.time_zone,
        "opening_times": location.opening_times,
        "charging_when_closed": location.charging_when_closed,
        "images": location.images,
        "energy_mix": energy_mix_to_ocpi(location.energy_mix, version),
        "last_updated": datetime_out(location.last_updated),
    }


def location_json(location: Location, version: OcpiVersion, evses: list[Json]) -> Json:
    """The location as the version's Location, with the given EVSE objects."""
    body = _location_body(location, version, evses)
    if version == V2_1_1:
        # 2.1.1 requires postal_code and type.
        return {
            **omit_empty(body),
            "postal_code": location.postal_code,
            "type": location_type_211(location.parking_type),
        }
    parking_type = location.parking_type
    extra = {
        "country_code": location.country_code,
        "party_id": location.party_id,
        "publish": location.publish,
        "publish_allowed_to": _publish_allowed_to(location.publish_allowed_to, version),
        "state": location.state,
        "parking_type": parking_type if parking_type in ParkingType.values else None,
    }
    if version == V2_3_0:
        extra["parking_places"] = location.parking_places
        extra["help_phone"] = location.help_phone
        extra["parking_type"] = parking_type
    return omit_empty({**extra, **body})


def location_to_ocpi(location: Location, version: OcpiVersion) -> Json:
    """The location with all its EVSEs (those the version can show) as the version's Location."""
    evses = [e for e in (evse_to_ocpi(evse, version) for evse in location.evses.all()) if e]
    return location_json(location, version, evses)


# --- inbound: value objects -----------------------------------------------------------------------


class _RegularHoursSerializer(serializers.Serializer):
    weekday = serializers.IntegerField(min_value=1, max_value=7)
    period_begin = serializers.RegexField(HH_MM)
    period_end = serializers.RegexField(r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$")


class _ExceptionalPeriodSerializer(serializers.Serializer):
    period_begin = DateTimeField()
    period_end = DateTimeField()


class HoursSerializer(serializers.Serializer):
    twentyfourseven: serializers.Field = serializers.BooleanField()
    regular_hours = optional(_RegularHoursSerializer(many=True))
    exceptional_openings = optional(_ExceptionalPeriodSerializer(many=True))
    exceptional_closings = optional(_ExceptionalPeriodSerializer(many=True))


class Hours211Serializer(HoursSerializer):
    """2.1.1 gives either regular_hours or twentyfourseven."""

    twentyfourseven = optional(serializers.BooleanField())

    def validate(self, attrs: Json) -> Json:
        if attrs.get("twentyfourseven") is None:
            attrs["twentyfourseven"] = not attrs.get("regular_hours")
        return attrs


class _StatusScheduleSerializer(serializers.Serializer):
    period_begin = DateTimeField()
    period_end = optional(DateTimeField())
    status = EnumField(Status.values)


class _AdditionalGeoLocationSerializer(GeoLocationSerializer):
    name = optional(DisplayTextSerializer())

    def validate(self, attrs: Json) -> Json:
        # Stored as the OCPI strings.
        return {
            **attrs,
            "latitude": coordinate_out(attrs["latitude"]),
            "longitude": coordinate_out(attrs["longitude"]),
        }


class _PublishToken221Serializer(serializers.Serializer):
    uid = string(36, required=False)
    type = optional(EnumField(PUBLISH_TOKEN_TYPES[V2_2_1]))
    visual_number = string(64, required=False)
    issuer = string(64, required=False)
    group_id = string(36, required=False)


class _PublishToken230Serializer(_PublishToken221Serializer):
    type = optional(EnumField(PUBLISH_TOKEN_TYPES[V2_3_0], open_enum=True))


class _ParkingSerializer(serializers.Serializer):
    id = serializers.CharField(max_length=36)
    physical_reference = string(12, required=False)
    vehicle_types = EnumListField(VehicleType.values, open_enum=True)
    max_vehicle_weight = optional(NumberField(min_value=0))
    max_vehicle_height = optional(NumberField(min_value=0))
    max_vehicle_length = optional(NumberField(min_value=0))
    max_vehicle_width = optional(NumberField(min_value=0))
    parking_space_length = optional(NumberField(min_value=0))
    parking_space_width = optional(NumberField(min_value=0))
    dangerous_goods_allowed = optional(serializers.BooleanField())
    direction = optional(EnumField(ParkingDirection.values))
    drive_through = optional(serializers.BooleanField())
    restricted_to_type = serializers.BooleanField()
    reservation_required = serializers.BooleanField()
    time_limit = optional(NumberField(min_value=0))
    roofed = optional(serializers.BooleanField())
    images = optional(ImageSerializer(many=True))
    lighting = optional(serializers.BooleanField())
    refrigeration_outlet = optional(serializers.BooleanField())
    standards = optional(serializers.ListField(child=serializers.CharField(max_length=36)))
    apds_reference = string(36, required=False)


class _EVSEParkingSerializer(serializers.Serializer):
    parking_id = serializers.CharField(max_length=36)
    evse_position = optional(EnumField(EVSEPosition.values))

    def to_internal_value(self, data: Any) -> Any:
        # The 2.3.0 examples list bare parking ids; read those as {"parking_id": id}.
        if isinstance(data, str):
            data = {"parking_id": data}
        return super().to_internal_value(data)


# --- inbound: Connector, EVSE, Location ---------------------------------------------------------------


class Connector221Serializer(serializers.Serializer):
    id = serializers.CharField(max_length=36)
    standard = EnumField(CONNECTOR_TYPES[V2_2_1])
    format = EnumField(ConnectorFormat.values)
    power_type = EnumField(POWER_TYPES[V2_2_1])
    max_voltage = serializers.IntegerField(min_value=0)
    max_amperage = serializers.IntegerField(min_value=0)
    max_electric_power = optional(serializers.IntegerField(min_value=0))
    tariff_ids = optional(serializers.ListField(child=serializers.CharField(max_length=36)))
    terms_and_conditions = url_field()
    last_updated = DateTimeField()


class Connector230Serializer(Connector221Serializer):
    standard = EnumField(CONNECTOR_TYPES[V2_3_0], open_enum=True, max_length=32)
    capabilities = optional(EnumListField(ConnectorCapability.values, open_enum=True))


class Connector211Serializer(serializers.Serializer):
    id = serializers.CharField(max_length=36)
    standard = EnumField(CONNECTOR_TYPES[V2_1_1])
    format = EnumField(ConnectorFormat.values)
    power_type = EnumField(POWER_TYPES[V2_1_1])
    voltage = serializers.IntegerField(min_value=0)
    amperage = serializers.IntegerField(min_value=0)
    tariff_id = string(36, required=False)
    terms_and_conditions = url_field()
    last_updated = DateTimeField()

    def validate(self, attrs: Json) -> Json:
        tariff_id = attrs.pop("tariff_id", None)
        attrs["max_voltage"] = attrs.pop("voltage")
        attrs["max_amperage"] = attrs.pop("amperage")
        attrs["tariff_ids"] = [tariff_id] if tariff_id else []
        return attrs


class EVSE221Serializer(serializers.Serializer):
    uid = serializers.CharField(max_length=36)
    evse_id = string(48, required=False)
    status = EnumField(Status.values)
    status_schedule = optional(_StatusScheduleSerializer(many=True))
    capabilities = optional(EnumListField(CAPABILITIES[V2_2_1]))
    connectors: serializers.Field = Connector221Serializer(many=True, allow_empty=False)
    floor_level = string(4, required=False)
    coordinates = optional(GeoLocationSerializer())
    physical_reference = string(16, required=False)
    directions = optional(DisplayTextSerializer(many=True))
    parking_restrictions = optional(EnumListField(PARKING_RESTRICTIONS[V2_2_1]))
    images = optional(ImageSerializer(many=True))
    last_updated = DateTimeField()


class EVSE230Serializer(EVSE221Serializer):
    capabilities = optional(EnumListField(CAPABILITIES[V2_3_0], open_enum=True))
    connectors = Connector230Serializer(many=True, allow_empty=False)
    parking_restrictions = optional(EnumListField(PARKING_RESTRICTIONS[V2_3_0], open_enum=True))
    parking = optional(_EVSEParkingSerializer(many=True))
    accepted_service_providers = optional(
        serializers.ListField(child=serializers.CharField(max_length=50))
    )


class EVSE211Serializer(EVSE221Serializer):
    capabilities = optional(EnumListField(CAPABILITIES[V2_1_1]))
    connectors = Connector211Serializer(many=True, allow_empty=False)
    parking_restrictions = optional(EnumListField(PARKING_RESTRICTIONS[V2_1_1]))


class _LocationBaseSerializer(serializers.Serializer):
    """The fields every version has."""

    id = serializers.CharField(max_length=36)
    name = string(255, required=False)
    address = serializers.CharField(max_length=45)
    city = serializers.CharField(max_length=45)
    postal_code = string(10, required=False)
    country = serializers.RegexField(r"^[A-Z]{3}$")
    coordinates = GeoLocationSerializer()
    related_locations = optional(_AdditionalGeoLocationSerializer(many=True))
    directions = optional(DisplayTextSerializer(many=True))
    operator = optional(BusinessDetailsSerializer())
    suboperator = optional(BusinessDetailsSerializer())
    owner = optional(BusinessDetailsSerializer())
    time_zone = serializers.CharField(max_length=255)
    opening_times = optional(HoursSerializer())
    charging_when_closed = optional(serializers.BooleanField())
    images = optional(ImageSerializer(many=True))
    energy_mix = optional(EnergyMixSerializer())
    last_updated = DateTimeField()


class Location221Serializer(_LocationBaseSerializer):
    country_code = serializers.RegexField(r"^[A-Za-z]{2}$")
    party_id = serializers.RegexField(r"^[A-Za-z0-9]{3}$")
    publish = serializers.BooleanField()
    publish_allowed_to = optional(_PublishToken221Serializer(many=True))
    state = string(20, required=False)
    parking_type = optional(EnumField(ParkingType.values))
    evses = optional(EVSE221Serializer(many=True))
    facilities = optional(EnumListField(FACILITIES[V2_2_1]))


class Location230Serializer(Location221Serializer):
    publish_allowed_to = optional(_PublishToken230Serializer(many=True))
    parking_type = optional(EnumField(ParkingType.values, open_enum=True, max_length=32))
    evses = optional(EVSE230Serializer(many=True))
    parking_places = optional(_ParkingSerializer(many=True))
    help_phone = string(25, required=False)
    facilities = optional(EnumListField(FACILITIES[V2_3_0], open_enum=True))


class Location211Serializer(_LocationBaseSerializer):
    type = EnumField(_LOCATION_TYPE_211_IN)
    evses = optional(EVSE211Serializer(many=True))
    facilities = optional(EnumListField(FACILITIES[V2_1_1]))
    opening_times = optional(Hours211Serializer())

    def validate(self, attrs: Json) -> Json:
        location_type = attrs.pop("type")
        attrs["parking_type"] = location_type if location_type in _LOCATION_TYPES_211 else ""
        return attrs


LOCATION_SERIALIZERS: dict[str, type[serializers.Serializer]] = {
    V2_1_1: Location211Serializer,
    V2_2_1: Location221Serializer,
    V2_3_0: Location230Serializer,
}


# --- inbound: saving ----------------------------------------------------------------------------------


def _json(validated: Mapping[str, Any], key: str, empty: Any) -> Any:
    value = validated.get(key)
    return empty if value is None else compact(value)


def _apply_location(location: Location, v: Mapping[str, Any], version: OcpiVersion) -> None:
    location.ocpi_id = v["id"]
    location.name = v.get("name") or ""
    location.address = v["address"]
    location.city = v["city"]
    location.postal_code = v.get("postal_code") or ""
    location.country = v["country"]
    location.latitude = v["coordinates"]["latitude"]
    location.longitude = v["coordinates"]["longitude"]
    location.related_locations = _json(v, "related_locations", [])
    location.parking_type = v.get("parking_type") or ""
    location.directions = _json(v, "directions", [])
    location.operator = _json(v, "operator", None)
    location.suboperator = _json(v, "suboperator", None)
    location.owner_details = _json(v, "owner", None)
    location.facilities = v.get("facilities") or []
    location.time_zone = v["time_zone"]
    location.opening_times = _json(v, "opening_times", None)
    location.charging_when_closed = v.get("charging_when_closed")
    location.images = _json(v, "images", [])
    location.energy_mix = _json(v, "energy_mix", None)
    location.last_updated = v["last_updated"]
    if version != V2_1_1:
        location.publish = v["publish"]
        location.publish_allowed_to = _json(v, "publish_allowed_to", [])
        location.state = v.get("state") or ""
    if version == V2_3_0:
        location.parking_places = _json(v, "parking_places", [])
        location.help_phone = v.get("help_phone") or ""


def _apply_evse(evse: EVSE, v: Mapping[str, Any], version: OcpiVersion) -> None:
    coordinates = v.get("coordinates") or {}
    evse.uid = v["uid"]
    evse.evse_id = v.get("evse_id") or ""
    evse.status = v["status"]
    evse.status_schedule = _json(v, "status_schedule", [])
    evse.capabilities = v.get("capabilities") or []
    evse.floor_level = v.get("floor_level") or ""
    evse.latitude = coordinates.get("latitude")
    evse.longitude = coordinates.get("longitude")
    evse.physical_reference = v.get("physical_reference") or ""
    evse.directions = _json(v, "directions", [])
    evse.parking_restrictions = v.get("parking_restrictions") or []
    evse.images = _json(v, "images", [])
    evse.last_updated = v["last_updated"]
    if version == V2_3_0:
        evse.parking = _json(v, "parking", [])
        evse.accepted_service_providers = v.get("accepted_service_providers") or []


def _apply_connector(connector: Connector, v: Mapping[str, Any], version: OcpiVersion) -> None:
    connector.ocpi_id = v["id"]
    connector.standard = v["standard"]
    connector.format = v["format"]
    connector.power_type = v["power_type"]
    connector.max_voltage = v["max_voltage"]
    connector.max_amperage = v["max_amperage"]
    connector.max_electric_power = v.get("max_electric_power")
    connector.tariff_ids = v.get("tariff_ids") or []
    connector.terms_and_conditions = v.get("terms_and_conditions") or ""
    connector.last_updated = v["last_updated"]
    if version == V2_3_0:
        connector.capabilities = v.get("capabilities") or []


def _save_connectors(evse: EVSE, items: list[Json], version: OcpiVersion, prefix: str) -> None:
    existing = {c.ocpi_id.lower(): c for c in evse.connectors.all()}
    for index, item in enumerate(items):
        connector = existing.pop(item["id"].lower(), None) or Connector(evse=evse)
        _apply_connector(connector, item, version)
        where = f"{prefix}.connectors[{index}]"
        full_clean(
            connector, names=_CONNECTOR_NAMES, prefix=where, exclude=("evse", *_ENUM_COLUMNS)
        )
        connector.save(touch=False)
    for gone in existing.values():
        try:
            gone.delete()
        except ProtectedError:
            raise serializers.ValidationError(
                {f"{prefix}.connectors": [f"Connector {gone.ocpi_id} has sessions; keep it."]}
            ) from None


def _save_evses(location: Location, items: list[Json], version: OcpiVersion) -> None:
    existing = {e.uid.lower(): e for e in location.evses.all()}
    for index, item in enumerate(items):
        evse = existing.get(item["uid"].lower()) or EVSE(location=location)
        _apply_evse(evse, item, version)
        where = f"evses[{index}]"
        full_clean(evse, names=_EVSE_NAMES, prefix=where, exclude=("location", *_ENUM_COLUMNS))
        evse.save(touch=False)
        _save_connectors(evse, item["connectors"], version, where)


def location_from_ocpi(data: Any, *, owner: Party, version: OcpiVersion) -> Location:
    """Create or update one of our locations, its EVSEs and connectors from a Location object.

    Raises DRF ``ValidationError`` naming the offending field (dotted paths for nested ones).
    """
    ensure_our_cpo(owner)
    validated = validate(LOCATION_SERIALIZERS[version], data)
    ensure_owner_code(validated, owner)
    with transaction.atomic():
        location = Location.objects.filter(
            owner=owner, ocpi_id__ci=validated["id"]
        ).first() or Location(owner=owner)
        _apply_location(location, validated, version)
        full_clean(location, names=_LOCATION_NAMES, exclude=_ENUM_COLUMNS)
        location.save(touch=False)
        if validated.get("evses") is not None:
            _save_evses(location, validated["evses"], version)
    return location
