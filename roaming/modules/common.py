"""Shared wire helpers of the per-version OCPI serializers: prices, texts, numbers, times, enums.

Outbound, every module builds plain dicts (fast, no DRF machinery): optional fields that are empty
are left out because OCPI reads an absent field as "unknown"; numbers are ``Decimal`` (the renderer
encodes them) and date-times go through ``format_datetime``.

Inbound, every module validates with explicit DRF serializers, one per object per version. Unknown
fields are ignored. Values of 2.3.0 "open" enums that we do not know yet are tolerated (see
``EnumField`` and ``EnumListField``); closed enums are checked against the values the version has.

Prices are stored as an amount before taxes plus tax lines (``cpms.money``):

* 2.1.1 sends a bare number (before taxes); no tax lines are known (``None``).
* 2.2.1 sends ``{excl_vat, incl_vat}``; ``incl_vat - excl_vat`` becomes one "VAT" tax line. Out,
  ``incl_vat`` is the amount plus all tax lines, and is left out when no tax lines are known.
* 2.3.0 sends ``{before_taxes, taxes}``; tax lines are kept as given (amounts as strings so that
  they stay exact inside JSON).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from rest_framework import serializers

from cpms.money import taxes_total
from roaming.choices import OcpiVersion
from roaming.models import Party
from roaming.transport.datetimes import format_datetime, parse_datetime

Json = dict[str, Any]

V2_1_1 = OcpiVersion.V2_1_1
V2_2_1 = OcpiVersion.V2_2_1
V2_3_0 = OcpiVersion.V2_3_0

MONEY_PLACES = 4
VAT = "VAT"
# A new value of an open enum still has the shape of an OCPI enum value.
_ENUM_WORD = re.compile(r"^[A-Za-z0-9_]+$")
_LATITUDE = re.compile(r"^-?[0-9]{1,2}\.[0-9]{1,7}$")
_LONGITUDE = re.compile(r"^-?[0-9]{1,3}\.[0-9]{1,7}$")
HH_MM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


# --- outbound -------------------------------------------------------------------------------------


# The kinds whose empty value says nothing (None aside); an empty one of any other kind (0,
# False) is a value.
_EMPTIABLE = (str, list, dict)


def omit_empty(obj: Mapping[str, Any]) -> Json:
    """Leave out None, "" , [] and {}: OCPI reads an absent optional field as unknown."""
    # Every rendered object passes through here, field by field: a value that is true (most
    # are) is kept on one truth test, without a call.
    return {
        key: value
        for key, value in obj.items()
        if value or not (value is None or isinstance(value, _EMPTIABLE))
    }


def decimal_out(value: Decimal | int | float | str) -> Decimal:
    """A Decimal without trailing zeros or exponent (8.5000 -> 8.5, 1E+2 -> 100)."""
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    normal = number.normalize()
    return normal.quantize(Decimal(1)) if normal == normal.to_integral_value() else normal


def optional_decimal(value: Decimal | int | float | str | None) -> Decimal | None:
    return None if value is None else decimal_out(value)


def datetime_out(value: datetime | None) -> str | None:
    return None if value is None else format_datetime(value)


def coordinate_out(value: Decimal) -> str:
    """OCPI coordinates are strings with (here always) six decimals."""
    return f"{value:.6f}"


def tax_to_ocpi(tax: Mapping[str, Any]) -> Json:
    return omit_empty(
        {
            "name": tax["name"],
            "account_number": tax.get("account_number"),
            "percentage": optional_decimal(tax.get("percentage")),
            "amount": decimal_out(tax["amount"]),
        }
    )


def price_to_ocpi(
    amount: Decimal | None, taxes: list[Json] | None, version: OcpiVersion
) -> Decimal | Json | None:
    """One money pair as the version's Price: a number (2.1.1) or a Price object."""
    if amount is None:
        return None
    if version == V2_1_1:
        return decimal_out(amount)
    if version == V2_2_1:
        incl_vat = None if taxes is None else decimal_out(amount + taxes_total(taxes))
        return omit_empty({"excl_vat": decimal_out(amount), "incl_vat": incl_vat})
    return omit_empty(
        {"before_taxes": decimal_out(amount), "taxes": [tax_to_ocpi(t) for t in taxes or []]}
    )


def keep_known(values: Iterable[str], known: Collection[str]) -> list[str]:
    """Values of an enum list that the receiving version can read (others are left out)."""
    return [value for value in values if value in known]


def energy_mix_to_ocpi(energy_mix: Json | None, version: OcpiVersion) -> Json | None:
    """2.1.1 names the environmental impact category ``source``; later versions ``category``."""
    if not energy_mix or version != V2_1_1:
        return energy_mix
    impacts = [
        {"source" if key == "category" else key: value for key, value in impact.items()}
        for impact in energy_mix.get("environ_impact", [])
    ]
    return omit_empty({**energy_mix, "environ_impact": impacts})


# --- inbound: fields ------------------------------------------------------------------------------


class DateTimeField(serializers.Field):
    """OCPI DateTime: a missing zone means UTC, fractions of a second are accepted."""

    default_error_messages = {
        "invalid": "Expected an RFC 3339 date-time such as 2024-01-31T12:00:00Z, got {input!r}."
    }

    def to_internal_value(self, data: Any) -> datetime:
        try:
            return parse_datetime(data)
        except ValueError:
            self.fail("invalid", input=data)

    def to_representation(self, value: datetime) -> str:
        return format_datetime(value)


class DecimalField(serializers.DecimalField):
    """A JSON number as Decimal, rounded (not rejected) when it has more decimals than we keep."""

    def __init__(self, *, places: int = MONEY_PLACES, digits: int | None = 14, **kwargs: Any):
        kwargs.setdefault("coerce_to_string", False)
        super().__init__(max_digits=digits, decimal_places=places, rounding=ROUND_HALF_UP, **kwargs)

    def validate_precision(self, value: Decimal) -> Decimal:
        step = Decimal(1).scaleb(-(self.decimal_places or 0))
        try:
            rounded = value.quantize(step, rounding=ROUND_HALF_UP)
        except InvalidOperation:  # more digits than Decimal's context holds (1e30 at 6 places)
            self.fail("invalid")
        return super().validate_precision(rounded)


class NumberField(DecimalField):
    """A JSON number kept inside a JSON value object: exact to six decimals, stored as int/float."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(places=6, digits=None, **kwargs)

    def to_internal_value(self, data: Any) -> int | float:  # type: ignore[override]
        return json_number(super().to_internal_value(data))


def json_number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def jsonable(value: Any) -> Any:
    """Outbound data as plain JSON to store in a JSONField: Decimals become numbers."""
    if isinstance(value, Mapping):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, Decimal):
        return json_number(value)
    if isinstance(value, datetime):
        return format_datetime(value)
    return value


def storable_json(value: Any) -> Any:
    """A partner's JSON as PostgreSQL can keep it: jsonb refuses NUL characters.

    Keys holding one are dropped (no field of ours has such a name); in texts each becomes U+FFFD,
    so the stored copy still shows that something was there.
    """
    if isinstance(value, Mapping):
        return {key: storable_json(item) for key, item in value.items() if "\x00" not in key}
    if isinstance(value, list):
        return [storable_json(item) for item in value]
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    return value


class EnumField(serializers.CharField):
    """One value of an OCPI enum as the version knows it.

    Open enums of 2.3.0 may gain values: an unknown value that looks like an enum value is kept
    as given (``open_enum=True``), so that a partner's newer data is not refused.
    """

    default_error_messages = {"invalid_choice": "{input!r} is not one of: {choices}."}

    def __init__(self, values: Collection[str], *, open_enum: bool = False, **kwargs: Any):
        self.values = frozenset(values)
        self.open_enum = open_enum
        kwargs.setdefault("max_length", 36)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if value in self.values or (self.open_enum and _ENUM_WORD.fullmatch(value)):
            return value
        self.fail("invalid_choice", input=value, choices=", ".join(sorted(self.values)))


class EnumListField(serializers.ListField):
    """A list of enum values; unknown values of an open enum are dropped (we cannot store them)."""

    def __init__(self, values: Collection[str], *, open_enum: bool = False, **kwargs: Any):
        self.values = frozenset(values)
        self.open_enum = open_enum
        super().__init__(child=EnumField(values, open_enum=open_enum), **kwargs)

    def to_internal_value(self, data: Any) -> list[str]:
        return [value for value in super().to_internal_value(data) if value in self.values]


def optional(field: serializers.Field) -> serializers.Field:
    """Mark a field optional; an explicit null counts as absent."""
    # DRF rebuilds declared fields from their constructor arguments, so set them there too.
    for name, value in (("required", False), ("allow_null", True)):
        setattr(field, name, value)
        field._kwargs[name] = value  # type: ignore[attr-defined]
    return field


def string(max_length: int, *, required: bool = True, **kwargs: Any) -> serializers.CharField:
    field = serializers.CharField(max_length=max_length, allow_blank=not required, **kwargs)
    return field if required else optional(field)  # type: ignore[return-value]


def url_field(*, required: bool = False) -> serializers.Field:
    field = serializers.URLField(max_length=255)
    return field if required else optional(field)


# --- inbound: shared value objects ------------------------------------------------------------------


class DisplayTextSerializer(serializers.Serializer):
    language = serializers.RegexField(r"^[A-Za-z]{2}$", max_length=2)
    text = serializers.CharField(max_length=512)


class ImageSerializer(serializers.Serializer):
    url = url_field(required=True)
    thumbnail = url_field()
    category = EnumField(
        ("CHARGER", "ENTRANCE", "LOCATION", "NETWORK", "OPERATOR", "OTHER", "OWNER"),
        open_enum=True,
    )
    type = serializers.CharField(max_length=4)
    width = optional(serializers.IntegerField(min_value=0, max_value=99999))
    height = optional(serializers.IntegerField(min_value=0, max_value=99999))


class BusinessDetailsSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    website = url_field()
    logo = optional(ImageSerializer())


class GeoLocationSerializer(serializers.Serializer):
    """Coordinates as Decimals (six decimals, WGS 84)."""

    latitude = serializers.CharField(max_length=12)
    longitude = serializers.CharField(max_length=12)

    def validate_latitude(self, value: str) -> Decimal:
        return _coordinate(value, _LATITUDE, 90)

    def validate_longitude(self, value: str) -> Decimal:
        return _coordinate(value, _LONGITUDE, 180)


def _coordinate(value: str, pattern: re.Pattern[str], limit: int) -> Decimal:
    if not pattern.fullmatch(value.strip()):
        raise serializers.ValidationError(f"{value!r} is not a decimal degree such as 51.047599.")
    number = Decimal(value.strip()).quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)
    if abs(number) > limit:
        raise serializers.ValidationError(f"{value} is out of range (-{limit} to {limit}).")
    return number


class _EnergySourceSerializer(serializers.Serializer):
    source = EnumField(  # type: ignore[assignment]
        ("NUCLEAR", "GENERAL_FOSSIL", "COAL", "GAS", "GENERAL_GREEN", "SOLAR", "WIND", "WATER")
    )
    percentage = NumberField(min_value=Decimal(0), max_value=Decimal(100))


class _EnvironmentalImpactSerializer(serializers.Serializer):
    category = EnumField(("NUCLEAR_WASTE", "CARBON_DIOXIDE"), open_enum=True)
    amount = NumberField(min_value=Decimal(0))

    def to_internal_value(self, data: Any) -> Any:
        # 2.1.1 calls the category "source".
        if isinstance(data, dict) and "category" not in data and "source" in data:
            data = {**data, "category": data["source"]}
        return super().to_internal_value(data)


class EnergyMixSerializer(serializers.Serializer):
    is_green_energy = serializers.BooleanField()
    energy_sources = optional(_EnergySourceSerializer(many=True))
    environ_impact = optional(_EnvironmentalImpactSerializer(many=True))
    supplier_name = string(64, required=False)
    energy_product_name = string(64, required=False)


class _TaxAmountSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=20)
    account_number = string(64, required=False)
    percentage = optional(NumberField(min_value=Decimal(0)))
    amount = DecimalField()

    def validate(self, attrs: Json) -> Json:
        return compact({**attrs, "amount": str(attrs["amount"])})


@dataclass(frozen=True)
class Money:
    """One Price as stored: the amount before taxes and the tax lines (None when unknown)."""

    amount: Decimal
    taxes: list[Json] | None


class _Price211Field(DecimalField):
    def to_internal_value(self, data: Any) -> Money:  # type: ignore[override]
        return Money(super().to_internal_value(data), None)


class _Price221Serializer(serializers.Serializer):
    excl_vat = DecimalField()
    incl_vat = optional(DecimalField())

    def validate(self, attrs: Json) -> Money:
        excl, incl = attrs["excl_vat"], attrs.get("incl_vat")
        if incl is None:
            return Money(excl, None)
        return Money(excl, [{"name": VAT, "amount": str(incl - excl)}])


class _Price230Serializer(serializers.Serializer):
    before_taxes = DecimalField()
    taxes = optional(_TaxAmountSerializer(many=True))

    def validate(self, attrs: Json) -> Money:
        taxes = attrs.get("taxes")
        return Money(attrs["before_taxes"], list(taxes) if taxes else None)


def price_field(version: OcpiVersion, *, required: bool = False) -> serializers.Field:
    """The version's Price as a field whose validated value is ``Money``."""
    field: serializers.Field
    if version == V2_1_1:
        field = _Price211Field()
    elif version == V2_2_1:
        field = _Price221Serializer()
    else:
        field = _Price230Serializer()
    return field if required else optional(field)


def money(validated: Mapping[str, Any], key: str) -> tuple[Decimal | None, list[Json] | None]:
    """The (amount, taxes) pair of an optional Price field of validated data."""
    value: Money | None = validated.get(key)
    return (None, None) if value is None else (value.amount, value.taxes)


# --- inbound: helpers ---------------------------------------------------------------------------------


def compact(value: Any) -> Any:
    """Validated nested data as plain JSON: dicts and lists, without None values."""
    if isinstance(value, Mapping):
        return {k: compact(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [compact(v) for v in value]
    if isinstance(value, datetime):
        return format_datetime(value)
    return value


def validate(serializer_class: type[serializers.Serializer], data: Any) -> Json:
    """Run an inbound serializer; a DRF ValidationError names every bad field."""
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def error_paths(detail: Any, prefix: str = "") -> list[str]:
    """Flatten a DRF error detail into 'evses[0].connectors[1].standard: message' lines."""
    if isinstance(detail, Mapping):
        return [
            line for key, value in detail.items() for line in error_paths(value, _join(prefix, key))
        ]
    if isinstance(detail, list) and any(isinstance(item, Mapping | list) for item in detail):
        return [
            line
            for index, value in enumerate(detail)
            if value
            for line in error_paths(value, f"{prefix}[{index}]")
        ]
    if isinstance(detail, list):
        return [f"{prefix}: {message}" for message in detail]
    return [f"{prefix}: {detail}"]


def _join(prefix: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{prefix}[{key}]"
    if key in ("non_field_errors", NON_FIELD_ERRORS):
        return prefix or "non_field_errors"
    return f"{prefix}.{key}" if prefix else key


def ensure_owner_code(validated: Mapping[str, Any], owner: Party) -> None:
    """The object's country_code/party_id (2.2+) must be those of the party it is stored under."""
    for key in ("country_code", "party_id"):
        given = validated.get(key)
        if given is not None and given.upper() != getattr(owner, key):
            raise serializers.ValidationError(
                {key: [f"{given!r} does not match {owner.code}, the party this is stored for."]}
            )


def full_clean(
    instance: models.Model,
    *,
    names: Mapping[str, str],
    prefix: str = "",
    exclude: Iterable[str] = (),
) -> None:
    """Run the model's own validation and report its errors under OCPI field names.

    Check constraints are validated too, so that a violation is a named validation error rather
    than an IntegrityError; errors of the whole object are reported under ``prefix`` (or
    ``non_field_errors``).
    """
    try:
        instance.full_clean(exclude=["owner", *exclude], validate_unique=False)
    except DjangoValidationError as error:
        raise serializers.ValidationError(
            {
                _join(prefix, names.get(field, field)): messages
                for field, messages in error.message_dict.items()
            }
        ) from error


def party_by_code(country_code: str, party_id: str, *, field: str) -> Party:
    try:
        return Party.objects.get_by_code(country_code, party_id)
    except Party.DoesNotExist:
        raise serializers.ValidationError(
            {field: [f"Unknown party {country_code.upper()}-{party_id.upper()}."]}
        ) from None
