"""Tariff, its elements and price components on the OCPI wire, per version.

Every tariff goes out through one path: the rows (or a CDR's stored copy) as a 2.3.0 Tariff,
then ``tariff_for_version`` makes that fit an older version. A CDR keeps the tariffs that applied
as such 2.3.0 objects (``tariff_snapshot``), so they can be sent in any version later.

Choices for versions that cannot say what we store:

* 2.2.1: no tax_included, preauthorize_amount or booking restrictions. Elements that price a
  booking are left out. min/max_price go out as Price {excl_vat, incl_vat}. Prices of a tariff
  whose prices include taxes (tax_included YES) are sent without the VAT of the component when
  it gives one (2.2.1 prices exclude VAT); without a VAT figure the price is sent as it is.
* 2.1.1 additionally has no owner fields, type, min/max_price, validity dates, VAT, current
  restrictions or reservations: elements restricted by current or pricing a reservation are left
  out (sending them without the restriction would charge every session by them). A tariff with
  no element left is not sent at all (``tariff_to_ocpi`` returns None).

Inbound (``tariff_from_ocpi``) creates or replaces one of our tariffs with its elements and price
components, in order, keeping ``last_updated``. A 2.2.1 or 2.1.1 tariff is stored with
tax_included NO, which is what its prices mean. A FLAT component's step size has no unit, so the
0 some senders use is stored as 1 (our smallest step).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, time
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from rest_framework import serializers

from billing.choices import (
    BookingRestrictionType,
    DayOfWeek,
    ReservationRestrictionType,
    TariffDimensionType,
    TariffType,
    TaxIncluded,
)
from billing.models import PriceComponent, Tariff, TariffElement
from roaming.choices import OcpiVersion
from roaming.models import Party
from roaming.modules.common import (
    V2_1_1,
    V2_2_1,
    V2_3_0,
    DateTimeField,
    DecimalField,
    DisplayTextSerializer,
    EnergyMixSerializer,
    EnumField,
    EnumListField,
    Json,
    compact,
    datetime_out,
    decimal_out,
    energy_mix_to_ocpi,
    ensure_owner_code,
    full_clean,
    jsonable,
    omit_empty,
    optional,
    optional_decimal,
    url_field,
    validate,
)
from roaming.ownership import ensure_our_cpo

# Restriction keys each version has.
_RESTRICTIONS_211 = frozenset(
    {"start_time", "end_time", "start_date", "end_date", "min_kwh", "max_kwh", "min_power"}
    | {"max_power", "min_duration", "max_duration", "day_of_week"}
)
_RESTRICTIONS_221 = _RESTRICTIONS_211 | {"min_current", "max_current", "reservation"}
# A restriction of these keys cannot be dropped without changing what the element charges.
_BLOCKING_221 = frozenset({"booking"})
_BLOCKING_211 = frozenset({"booking", "reservation", "min_current", "max_current"})
_TARIFF_KEYS_211 = (
    *("id", "currency", "tariff_alt_text", "tariff_alt_url"),
    *("elements", "energy_mix", "last_updated"),
)
_CENT = Decimal("0.0001")
_NAMES = {
    "ocpi_id": "id",
    "min_price_before_taxes": "min_price",
    "min_price_after_taxes": "min_price",
    "max_price_before_taxes": "max_price",
    "max_price_after_taxes": "max_price",
}


# --- outbound -------------------------------------------------------------------------------------


def tariffs_for_ocpi(queryset: QuerySet[Tariff]) -> QuerySet[Tariff]:
    """What ``tariff_to_ocpi`` reads, in three queries for any number of tariffs."""
    return queryset.select_related("owner").prefetch_related("elements__price_components")


def _hh_mm(value: time | None) -> str | None:
    return None if value is None else value.strftime("%H:%M")


def _iso_date(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _restrictions_230(element: TariffElement) -> Json:
    return omit_empty(
        {
            "start_time": _hh_mm(element.start_time),
            "end_time": _hh_mm(element.end_time),
            "start_date": _iso_date(element.start_date),
            "end_date": _iso_date(element.end_date),
            "min_kwh": optional_decimal(element.min_kwh),
            "max_kwh": optional_decimal(element.max_kwh),
            "min_current": optional_decimal(element.min_current),
            "max_current": optional_decimal(element.max_current),
            "min_power": optional_decimal(element.min_power),
            "max_power": optional_decimal(element.max_power),
            "min_duration": element.min_duration,
            "max_duration": element.max_duration,
            "day_of_week": element.day_of_week,
            "reservation": element.reservation,
            "booking": element.booking,
        }
    )


def _component_230(component: PriceComponent) -> Json:
    return omit_empty(
        {
            "type": component.type,
            "price": decimal_out(component.price),
            "vat": optional_decimal(component.vat),
            "step_size": component.step_size,
        }
    )


def _element_230(element: TariffElement) -> Json:
    return omit_empty(
        {
            "price_components": [_component_230(c) for c in element.price_components.all()],
            "restrictions": _restrictions_230(element),
        }
    )


def _price_limit(before: Decimal | None, after: Decimal | None) -> Json | None:
    if before is None:
        return None
    return omit_empty({"before_taxes": decimal_out(before), "after_taxes": optional_decimal(after)})


def tariff_230(tariff: Tariff) -> Json:
    """The tariff rows as a 2.3.0 Tariff (elements and components must be prefetched)."""
    return omit_empty(
        {
            "country_code": tariff.country_code,
            "party_id": tariff.party_id,
            "id": tariff.ocpi_id,
            "currency": tariff.currency,
            "type": tariff.type,
            "tariff_alt_text": tariff.tariff_alt_text,
            "tariff_alt_url": tariff.tariff_alt_url,
            "min_price": _price_limit(tariff.min_price_before_taxes, tariff.min_price_after_taxes),
            "max_price": _price_limit(tariff.max_price_before_taxes, tariff.max_price_after_taxes),
            "preauthorize_amount": optional_decimal(tariff.preauthorize_amount),
            "tax_included": tariff.tax_included,
            "elements": [_element_230(element) for element in tariff.elements.all()],
            "start_date_time": datetime_out(tariff.start_date_time),
            "end_date_time": datetime_out(tariff.end_date_time),
            "energy_mix": tariff.energy_mix,
            "last_updated": datetime_out(tariff.last_updated),
        }
    )


def tariff_snapshot(tariff: Tariff) -> Json:
    """The tariff as a CDR keeps it: a 2.3.0 Tariff in plain JSON (numbers, no Decimals)."""
    result: Json = jsonable(tariff_230(tariff))
    return result


def _price_221(limit: Mapping[str, Any] | None) -> Json | None:
    if not limit:
        return None
    return omit_empty({"excl_vat": limit["before_taxes"], "incl_vat": limit.get("after_taxes")})


def _price_excl_vat(component: Mapping[str, Any], tax_included: str | None) -> Any:
    vat = component.get("vat")
    if tax_included != TaxIncluded.YES or vat is None:
        return component["price"]
    price = Decimal(str(component["price"])) / (1 + Decimal(str(vat)) / 100)
    return decimal_out(price.quantize(_CENT, rounding=ROUND_HALF_UP))


def _element_for_version(
    element: Mapping[str, Any], version: OcpiVersion, tax_included: str | None
) -> Json | None:
    restrictions = element.get("restrictions") or {}
    blocking = _BLOCKING_211 if version == V2_1_1 else _BLOCKING_221
    if blocking & restrictions.keys():
        return None
    keys = _RESTRICTIONS_211 if version == V2_1_1 else _RESTRICTIONS_221
    components = [
        omit_empty(
            {
                **component,
                "price": _price_excl_vat(component, tax_included),
                "vat": None if version == V2_1_1 else component.get("vat"),
            }
        )
        for component in element["price_components"]
    ]
    kept = {key: value for key, value in restrictions.items() if key in keys}
    return omit_empty({"price_components": components, "restrictions": kept})


def tariff_for_version(tariff: Mapping[str, Any], version: OcpiVersion) -> Json | None:
    """A 2.3.0 Tariff (from rows or a CDR's copy) as the version's Tariff; None if inexpressible."""
    if version == V2_3_0:
        return dict(tariff)
    tax_included = tariff.get("tax_included")
    elements = [
        e for e in (_element_for_version(e, version, tax_included) for e in tariff["elements"]) if e
    ]
    if not elements:
        return None
    result = {
        **tariff,
        "elements": elements,
        "min_price": _price_221(tariff.get("min_price")),
        "max_price": _price_221(tariff.get("max_price")),
        "energy_mix": energy_mix_to_ocpi(tariff.get("energy_mix"), version),
    }
    result.pop("tax_included", None)
    result.pop("preauthorize_amount", None)
    if version == V2_1_1:
        result = {key: result.get(key) for key in _TARIFF_KEYS_211}
    return omit_empty(result)


def tariff_to_ocpi(tariff: Tariff, version: OcpiVersion) -> Json | None:
    """The tariff as the version's Tariff; None when the version can express none of it."""
    return tariff_for_version(tariff_230(tariff), version)


# --- inbound ----------------------------------------------------------------------------------------


class _Restrictions221Serializer(serializers.Serializer):
    start_time = optional(serializers.TimeField(input_formats=["%H:%M"]))
    end_time = optional(serializers.TimeField(input_formats=["%H:%M"]))
    start_date = optional(serializers.DateField(input_formats=["%Y-%m-%d"]))
    end_date = optional(serializers.DateField(input_formats=["%Y-%m-%d"]))
    min_kwh = optional(DecimalField(min_value=Decimal(0)))
    max_kwh = optional(DecimalField(min_value=Decimal(0)))
    min_current = optional(DecimalField(places=3, digits=10, min_value=Decimal(0)))
    max_current = optional(DecimalField(places=3, digits=10, min_value=Decimal(0)))
    min_power = optional(DecimalField(places=3, digits=10, min_value=Decimal(0)))
    max_power = optional(DecimalField(places=3, digits=10, min_value=Decimal(0)))
    min_duration = optional(serializers.IntegerField(min_value=0))
    max_duration = optional(serializers.IntegerField(min_value=0))
    day_of_week = optional(EnumListField(DayOfWeek.values))
    reservation = optional(EnumField(ReservationRestrictionType.values))


class _Restrictions230Serializer(_Restrictions221Serializer):
    booking = optional(EnumField(BookingRestrictionType.values))


class _Restrictions211Serializer(_Restrictions221Serializer):
    min_current = None  # type: ignore[assignment]
    max_current = None  # type: ignore[assignment]
    reservation = None  # type: ignore[assignment]


class _PriceComponent221Serializer(serializers.Serializer):
    type = EnumField(TariffDimensionType.values)
    price = DecimalField(min_value=Decimal(0))
    vat = optional(DecimalField(places=3, digits=6, min_value=Decimal(0), max_value=Decimal(100)))
    step_size = serializers.IntegerField(min_value=0)

    def validate(self, attrs: Json) -> Json:
        # FLAT has no unit to step over, so 0 is kept as sent (the spec's free tariff uses it).
        if attrs["step_size"] == 0 and attrs["type"] != TariffDimensionType.FLAT:
            raise serializers.ValidationError({"step_size": ["Must be at least 1."]})
        return attrs


class _PriceComponent211Serializer(_PriceComponent221Serializer):
    vat = None  # type: ignore[assignment]


class _Element221Serializer(serializers.Serializer):
    price_components: serializers.Field = _PriceComponent221Serializer(many=True, allow_empty=False)
    restrictions = optional(_Restrictions221Serializer())


class _Element230Serializer(_Element221Serializer):
    restrictions = optional(_Restrictions230Serializer())


class _Element211Serializer(_Element221Serializer):
    price_components = _PriceComponent211Serializer(many=True, allow_empty=False)
    restrictions = optional(_Restrictions211Serializer())


class _PriceLimit221Serializer(serializers.Serializer):
    """2.2.1 Price as a tariff limit: both figures stand on their own."""

    excl_vat = DecimalField(min_value=Decimal(0))
    incl_vat = optional(DecimalField(min_value=Decimal(0)))

    def validate(self, attrs: Json) -> tuple[Decimal, Decimal | None]:
        return attrs["excl_vat"], attrs.get("incl_vat")


class _PriceLimit230Serializer(serializers.Serializer):
    before_taxes = DecimalField(min_value=Decimal(0))
    after_taxes = optional(DecimalField(min_value=Decimal(0)))

    def validate(self, attrs: Json) -> tuple[Decimal, Decimal | None]:
        return attrs["before_taxes"], attrs.get("after_taxes")


class _TariffBaseSerializer(serializers.Serializer):
    id = serializers.CharField(max_length=36)
    currency = serializers.RegexField(r"^[A-Z]{3}$")
    tariff_alt_text = optional(DisplayTextSerializer(many=True))
    tariff_alt_url = url_field()
    elements: serializers.Field = _Element221Serializer(many=True, allow_empty=False)
    energy_mix = optional(EnergyMixSerializer())
    last_updated = DateTimeField()


class Tariff221Serializer(_TariffBaseSerializer):
    country_code = serializers.RegexField(r"^[A-Za-z]{2}$")
    party_id = serializers.RegexField(r"^[A-Za-z0-9]{3}$")
    type = optional(EnumField(TariffType.values))
    min_price = optional(_PriceLimit221Serializer())
    max_price = optional(_PriceLimit221Serializer())
    start_date_time = optional(DateTimeField())
    end_date_time = optional(DateTimeField())


class Tariff230Serializer(Tariff221Serializer):
    min_price = optional(_PriceLimit230Serializer())
    max_price = optional(_PriceLimit230Serializer())
    preauthorize_amount = optional(DecimalField(min_value=Decimal(0)))
    tax_included = EnumField(TaxIncluded.values)
    elements = _Element230Serializer(many=True, allow_empty=False)


class Tariff211Serializer(_TariffBaseSerializer):
    elements = _Element211Serializer(many=True, allow_empty=False)


TARIFF_SERIALIZERS: dict[str, type[serializers.Serializer]] = {
    V2_1_1: Tariff211Serializer,
    V2_2_1: Tariff221Serializer,
    V2_3_0: Tariff230Serializer,
}


def _apply(tariff: Tariff, v: Mapping[str, Any], version: OcpiVersion) -> None:
    tariff.ocpi_id = v["id"]
    tariff.currency = v["currency"]
    tariff.tariff_alt_text = compact(v.get("tariff_alt_text") or [])
    tariff.tariff_alt_url = v.get("tariff_alt_url") or ""
    energy_mix = v.get("energy_mix")
    tariff.energy_mix = None if energy_mix is None else compact(energy_mix)
    tariff.last_updated = v["last_updated"]
    # Before 2.3.0 prices exclude VAT: that is what tax_included NO says.
    tariff.tax_included = v.get("tax_included") or TaxIncluded.NO
    if version == V2_1_1:
        return
    tariff.type = v.get("type") or ""
    tariff.min_price_before_taxes, tariff.min_price_after_taxes = v.get("min_price") or (None,) * 2
    tariff.max_price_before_taxes, tariff.max_price_after_taxes = v.get("max_price") or (None,) * 2
    tariff.start_date_time = v.get("start_date_time")
    tariff.end_date_time = v.get("end_date_time")
    if version == V2_3_0:
        tariff.preauthorize_amount = v.get("preauthorize_amount")


def _element(tariff: Tariff, position: int, restrictions: Mapping[str, Any]) -> TariffElement:
    return TariffElement(
        tariff=tariff,
        position=position,
        **{k: v for k, v in restrictions.items() if v is not None and k != "day_of_week"},
        day_of_week=restrictions.get("day_of_week") or [],
    )


def _save_elements(tariff: Tariff, items: list[Json]) -> None:
    tariff.elements.all().delete()
    for index, item in enumerate(items):
        element = _element(tariff, index, item.get("restrictions") or {})
        where = f"elements[{index}]"
        full_clean(element, names={}, prefix=f"{where}.restrictions", exclude=("tariff",))
        element.save(touch=False)
        for position, data in enumerate(item["price_components"]):
            component = PriceComponent(element=element, position=position, **data)
            full_clean(
                component, names={}, prefix=f"{where}.price_components[{position}]",
                exclude=("element",),
            )  # fmt: skip
            component.save(touch=False)


def tariff_from_ocpi(data: Any, *, owner: Party, version: OcpiVersion) -> Tariff:
    """Create or replace one of our tariffs, its elements and price components, from a Tariff.

    ``last_updated`` is kept as given. Raises DRF ``ValidationError`` naming the bad field.
    """
    ensure_our_cpo(owner)
    validated = validate(TARIFF_SERIALIZERS[version], data)
    ensure_owner_code(validated, owner)
    with transaction.atomic():
        tariff = Tariff.objects.filter(owner=owner, ocpi_id__ci=validated["id"]).first() or Tariff(
            owner=owner
        )
        _apply(tariff, validated, version)
        full_clean(tariff, names=_NAMES)
        tariff.save(touch=False)
        _save_elements(tariff, validated["elements"])
    return tariff


def tariff_copy(validated: Mapping[str, Any], *, owner: Party) -> Json:
    """A validated Tariff of any version (e.g. inside a CDR) as a 2.3.0 Tariff in plain JSON.

    A 2.1.1 tariff names no owner: it is the given CPO's.
    """
    limits = {
        key: _price_limit(*validated[key]) if validated.get(key) else None
        for key in ("min_price", "max_price")
    }
    elements = [
        omit_empty(
            {
                "price_components": item["price_components"],
                "restrictions": _restrictions_json(item.get("restrictions") or {}),
            }
        )
        for item in validated["elements"]
    ]
    body = {
        "country_code": owner.country_code,
        "party_id": owner.party_id,
        **validated,
        **limits,
        "elements": elements,
        "tax_included": validated.get("tax_included") or TaxIncluded.NO.value,
    }
    result: Json = jsonable(compact(body))
    return result


def _restrictions_json(restrictions: Mapping[str, Any]) -> Json:
    out = {}
    for key, value in restrictions.items():
        if isinstance(value, time):
            out[key] = value.strftime("%H:%M")
        elif isinstance(value, date):
            out[key] = value.isoformat()
        else:
            out[key] = value
    return out
