"""JSON value objects of OCPI (nested types that are stored whole and never queried).

Each type has a JSON Schema here; model fields validate against it by name so that the admin and
the services reject a malformed value with a message that names the offending path.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible
from jsonschema import Draft202012Validator

_STR = {"type": "string"}
_NUM = {"type": "number"}
_INT = {"type": "integer"}
_BOOL = {"type": "boolean"}
_DATETIME = {"type": "string", "maxLength": 25}
_TIME = {"type": "string", "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9]$"}
_URL = {"type": "string", "maxLength": 255}


def _obj(required: list[str], **properties: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties}


def _list(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": item}


DISPLAY_TEXT = _obj(
    ["language", "text"], language={"type": "string", "maxLength": 2}, text={"maxLength": 512}
)
IMAGE = _obj(
    ["url", "category", "type"],
    url=_URL,
    thumbnail=_URL,
    category=_STR,
    type={"type": "string", "maxLength": 4},
    width=_INT,
    height=_INT,
)
BUSINESS_DETAILS = _obj(
    ["name"], name={"type": "string", "maxLength": 100}, website=_URL, logo=IMAGE
)
GEO_LOCATION = _obj(["latitude", "longitude"], latitude=_STR, longitude=_STR)
ADDITIONAL_GEO_LOCATION = _obj(
    ["latitude", "longitude"], latitude=_STR, longitude=_STR, name=DISPLAY_TEXT
)
REGULAR_HOURS = _obj(
    ["weekday", "period_begin", "period_end"],
    weekday={"type": "integer", "minimum": 1, "maximum": 7},
    period_begin=_TIME,
    period_end={"type": "string", "pattern": r"^([01][0-9]|2[0-4]):[0-5][0-9]$"},
)
EXCEPTIONAL_PERIOD = _obj(
    ["period_begin", "period_end"], period_begin=_DATETIME, period_end=_DATETIME
)
HOURS = _obj(
    ["twentyfourseven"],
    twentyfourseven=_BOOL,
    regular_hours=_list(REGULAR_HOURS),
    exceptional_openings=_list(EXCEPTIONAL_PERIOD),
    exceptional_closings=_list(EXCEPTIONAL_PERIOD),
)
ENERGY_MIX = _obj(
    ["is_green_energy"],
    is_green_energy=_BOOL,
    energy_sources=_list(_obj(["source", "percentage"], source=_STR, percentage=_NUM)),
    environ_impact=_list(_obj(["category", "amount"], category=_STR, amount=_NUM)),
    supplier_name={"type": "string", "maxLength": 64},
    energy_product_name={"type": "string", "maxLength": 64},
)
STATUS_SCHEDULE = _obj(
    ["period_begin", "status"], period_begin=_DATETIME, period_end=_DATETIME, status=_STR
)
PUBLISH_TOKEN_TYPE = _obj(
    [],
    uid={"type": "string", "maxLength": 36},
    type=_STR,
    visual_number={"type": "string", "maxLength": 64},
    issuer={"type": "string", "maxLength": 64},
    group_id={"type": "string", "maxLength": 36},
)
PARKING = _obj(
    ["id", "vehicle_types", "restricted_to_type", "reservation_required"],
    id={"type": "string", "maxLength": 36},
    physical_reference={"type": "string", "maxLength": 12},
    vehicle_types=_list(_STR),
    max_vehicle_weight=_NUM,
    max_vehicle_height=_NUM,
    max_vehicle_length=_NUM,
    max_vehicle_width=_NUM,
    parking_space_length=_NUM,
    parking_space_width=_NUM,
    dangerous_goods_allowed=_BOOL,
    direction=_STR,
    drive_through=_BOOL,
    restricted_to_type=_BOOL,
    reservation_required=_BOOL,
    time_limit=_NUM,
    roofed=_BOOL,
    images=_list(IMAGE),
    lighting=_BOOL,
    refrigeration_outlet=_BOOL,
    standards=_list(_STR),
    apds_reference={"type": "string", "maxLength": 36},
)
EVSE_PARKING = _obj(["parking_id"], parking_id=_STR, evse_position=_STR)
ENERGY_CONTRACT = _obj(
    ["supplier_name"],
    supplier_name={"type": "string", "maxLength": 64},
    contract_id={"type": "string", "maxLength": 64},
)
SIGNED_DATA = _obj(
    ["encoding_method", "signed_values"],
    encoding_method={"type": "string", "maxLength": 36},
    encoding_method_version=_INT,
    public_key={"type": "string", "maxLength": 512},
    signed_values=_list(
        _obj(
            ["nature", "plain_data", "signed_data"], nature=_STR, plain_data=_STR, signed_data=_STR
        )
    ),
    url=_URL,
)
CDR_TOKEN = _obj(
    ["uid", "type", "contract_id"],
    country_code=_STR,
    party_id=_STR,
    uid=_STR,
    type=_STR,
    contract_id=_STR,
)
CDR_LOCATION = _obj(
    [
        "id",
        "address",
        "city",
        "country",
        "coordinates",
        "evse_uid",
        "evse_id",
        "connector_id",
        "connector_standard",
        "connector_format",
        "connector_power_type",
    ],
    id=_STR,
    name=_STR,
    address=_STR,
    city=_STR,
    postal_code=_STR,
    state=_STR,
    country=_STR,
    coordinates=GEO_LOCATION,
    evse_uid=_STR,
    evse_id=_STR,
    connector_id=_STR,
    connector_standard=_STR,
    connector_format=_STR,
    connector_power_type=_STR,
)
CHARGING_PREFERENCES = _obj(
    ["profile_type"],
    profile_type=_STR,
    departure_time=_DATETIME,
    energy_need=_NUM,
    discharge_allowed=_BOOL,
)

TAX_AMOUNT = _obj(
    ["name", "amount"],
    name={"type": "string", "maxLength": 20},
    account_number={"type": "string", "maxLength": 64},
    percentage=_NUM,
    amount={"type": ["number", "string"]},
)

CDR_DIMENSION = _obj(["type", "volume"], type=_STR, volume=_NUM)
CDR_CHARGING_PERIOD = _obj(
    ["start_date_time", "dimensions"],
    start_date_time=_DATETIME,
    dimensions={**_list(CDR_DIMENSION), "minItems": 1},
    tariff_id={"type": "string", "maxLength": 36},
)
# A tariff as it was published when a CDR was made: only the keys every OCPI version has are
# required; the snapshot is otherwise stored whole as the OCPI object.
TARIFF_SNAPSHOT = _obj(
    ["id", "currency", "elements"],
    id={"type": "string", "maxLength": 36},
    currency={"type": "string", "maxLength": 3},
    elements={**_list(_obj(["price_components"], price_components=_list(_obj([])))), "minItems": 1},
)

SCHEMAS: dict[str, dict[str, Any]] = {
    "tax_amounts": _list(TAX_AMOUNT),
    "display_texts": _list(DISPLAY_TEXT),
    "images": _list(IMAGE),
    "business_details": BUSINESS_DETAILS,
    "additional_geo_locations": _list(ADDITIONAL_GEO_LOCATION),
    "hours": HOURS,
    "energy_mix": ENERGY_MIX,
    "status_schedules": _list(STATUS_SCHEDULE),
    "publish_tokens": _list(PUBLISH_TOKEN_TYPE),
    "parkings": _list(PARKING),
    "evse_parkings": _list(EVSE_PARKING),
    "strings": _list(_STR),
    "energy_contract": ENERGY_CONTRACT,
    "signed_data": SIGNED_DATA,
    "cdr_token": CDR_TOKEN,
    "cdr_location": CDR_LOCATION,
    "cdr_charging_periods": {**_list(CDR_CHARGING_PERIOD), "minItems": 1},
    "tariff_snapshots": _list(TARIFF_SNAPSHOT),
    "charging_preferences": CHARGING_PREFERENCES,
}
_VALIDATORS = {name: Draft202012Validator(schema) for name, schema in SCHEMAS.items()}


def _path(error_path: Any) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error_path).lstrip(".")


@deconstructible
class ValueObjectValidator:
    """Validates a JSONField value against one of the OCPI value-object schemas above."""

    def __init__(self, schema_name: str) -> None:
        if schema_name not in SCHEMAS:
            raise ValueError(f"Unknown value object schema {schema_name!r}")
        self.schema_name = schema_name

    def __call__(self, value: Any) -> None:
        if value is None:
            return
        error = next(iter(_VALIDATORS[self.schema_name].iter_errors(value)), None)
        if error is not None:
            where = _path(error.absolute_path)
            raise ValidationError(f"{where + ': ' if where else ''}{error.message}")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ValueObjectValidator) and other.schema_name == self.schema_name

    def __hash__(self) -> int:
        return hash(self.schema_name)


@deconstructible
class ChoicesListValidator:
    """Validates a JSON list of enum values (e.g. EVSE capabilities) against the allowed values."""

    def __init__(self, allowed: tuple[str, ...], label: str) -> None:
        self.allowed = tuple(allowed)
        self.label = label

    def __call__(self, value: Any) -> None:
        if value is None:
            return
        if not isinstance(value, list):
            raise ValidationError(f"{self.label} must be a list.")
        unknown = [v for v in value if v not in self.allowed]
        if unknown:
            raise ValidationError(f"Unknown {self.label}: {', '.join(map(str, unknown))}.")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ChoicesListValidator) and other.allowed == self.allowed

    def __hash__(self) -> int:
        return hash(self.allowed)
