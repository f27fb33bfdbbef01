"""Rules of tariffs, their elements and price components, at the model and database level."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from billing.choices import (
    DayOfWeek,
    ReservationRestrictionType,
    TariffDimensionType,
    TaxIncluded,
)
from billing.models import PriceComponent, Tariff, TariffElement
from roaming.models import Party
from roaming.ownership import OwnershipError
from roaming.services import parties_sync_ours
from tests.billing.factories import PriceComponentFactory, TariffElementFactory, TariffFactory

pytestmark = pytest.mark.django_db

T0 = datetime.datetime(2026, 3, 2, 8, 0, tzinfo=datetime.UTC)


def _integrity_error_on_save(obj: object) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        obj.save()  # type: ignore[attr-defined]


# --- Tariff --------------------------------------------------------------------------------------


def test_tariff_id_is_unique_per_owner_ignoring_case(our_cpo: Party) -> None:
    TariffFactory.create(owner=our_cpo, ocpi_id="Tariff-12")

    _integrity_error_on_save(Tariff(owner=our_cpo, ocpi_id="TARIFF-12", currency="EUR"))


def test_duplicate_tariff_id_fails_full_clean_with_a_clear_message(our_cpo: Party) -> None:
    TariffFactory.create(owner=our_cpo, ocpi_id="Tariff-12")

    with pytest.raises(ValidationError) as raised:
        Tariff(owner=our_cpo, ocpi_id="tariff-12", currency="EUR").full_clean()

    assert "already has a tariff with this OCPI id" in str(raised.value)


def test_the_same_tariff_id_may_be_used_by_two_of_our_identities() -> None:
    first, second = parties_sync_ours()[:2]
    TariffFactory.create(owner=first, ocpi_id="12")

    TariffFactory.create(owner=second, ocpi_id="12")

    assert Tariff.objects.filter(ocpi_id="12").count() == 2


def test_tariff_owned_by_a_partner_fails_full_clean(emsp: Party) -> None:
    tariff = Tariff(owner=emsp, ocpi_id="12", currency="EUR")

    with pytest.raises(ValidationError) as raised:
        tariff.full_clean()

    assert "DE-EMS is not one of our CPO identities" in str(raised.value.message_dict["owner"])


def test_tariff_owned_by_a_partner_cannot_be_saved(emsp: Party) -> None:
    with pytest.raises(OwnershipError):
        Tariff(owner=emsp, ocpi_id="12", currency="EUR").save()

    assert not Tariff.objects.exists()


def test_tariff_tax_included_defaults_to_no(our_cpo: Party) -> None:
    assert TariffFactory.create(owner=our_cpo).tax_included == TaxIncluded.NO


def test_tariff_save_touches_last_updated(our_cpo: Party) -> None:
    with time_machine.travel(T0, tick=False):
        tariff = TariffFactory.create(owner=our_cpo)
    with time_machine.travel(T0 + datetime.timedelta(hours=1), tick=False):
        tariff.currency = "USD"
        tariff.save()

    tariff.refresh_from_db()
    assert tariff.last_updated == T0 + datetime.timedelta(hours=1)


def test_changing_an_element_touches_its_tariff(our_cpo: Party) -> None:
    with time_machine.travel(T0, tick=False):
        element = TariffElementFactory.create(tariff__owner=our_cpo)
    with time_machine.travel(T0 + datetime.timedelta(minutes=5), tick=False):
        element.min_kwh = Decimal(10)
        element.save()

    assert Tariff.objects.get().last_updated == T0 + datetime.timedelta(minutes=5)


def test_changing_a_price_component_touches_its_tariff(our_cpo: Party) -> None:
    with time_machine.travel(T0, tick=False):
        component = PriceComponentFactory.create(element__tariff__owner=our_cpo)
    with time_machine.travel(T0 + datetime.timedelta(minutes=7), tick=False):
        component.price = Decimal("0.30")
        component.save()

    assert Tariff.objects.get().last_updated == T0 + datetime.timedelta(minutes=7)


def test_min_price_above_max_price_is_rejected(our_cpo: Party) -> None:
    tariff = Tariff(
        owner=our_cpo,
        ocpi_id="12",
        currency="EUR",
        min_price_before_taxes=Decimal(10),
        max_price_before_taxes=Decimal(5),
    )

    _integrity_error_on_save(tariff)


def test_price_after_taxes_without_price_before_taxes_is_rejected(our_cpo: Party) -> None:
    tariff = Tariff(owner=our_cpo, ocpi_id="12", currency="EUR", max_price_after_taxes=Decimal(11))

    with pytest.raises(ValidationError) as raised:
        tariff.full_clean()

    assert "Give the maximum price before taxes as well." in str(raised.value)


def test_price_limits_keep_both_amounts_of_either_version(our_cpo: Party) -> None:
    TariffFactory.create(
        owner=our_cpo, min_price_before_taxes=Decimal("0.50"), min_price_after_taxes=Decimal("0.55")
    )

    stored = Tariff.objects.get()
    assert (stored.min_price_before_taxes, stored.min_price_after_taxes) == (
        Decimal("0.50"),
        Decimal("0.55"),
    )


def test_negative_preauthorize_amount_is_rejected(our_cpo: Party) -> None:
    _integrity_error_on_save(
        Tariff(owner=our_cpo, ocpi_id="12", currency="EUR", preauthorize_amount=Decimal(-1))
    )


def test_tariff_ending_before_it_starts_is_rejected(our_cpo: Party) -> None:
    tariff = Tariff(
        owner=our_cpo,
        ocpi_id="12",
        currency="EUR",
        start_date_time=T0,
        end_date_time=T0 - datetime.timedelta(days=1),
    )

    _integrity_error_on_save(tariff)


def test_deleting_a_tariff_keeps_it_marked_deleted(our_cpo: Party) -> None:
    tariff = TariffFactory.create(owner=our_cpo)

    tariff.delete()

    stored = Tariff.objects.get(pk=tariff.pk)
    assert stored.deleted_at is not None
    assert not Tariff.objects.active().exists()


def test_deleting_tariffs_through_a_queryset_keeps_them_marked_deleted(our_cpo: Party) -> None:
    TariffFactory.create_batch(2, owner=our_cpo)

    Tariff.objects.all().delete()

    assert Tariff.objects.deleted().count() == 2


def test_deleting_a_tariff_touches_last_updated(our_cpo: Party) -> None:
    with time_machine.travel(T0, tick=False):
        tariff = TariffFactory.create(owner=our_cpo)
    with time_machine.travel(T0 + datetime.timedelta(days=1), tick=False):
        tariff.delete()

    assert Tariff.objects.get().last_updated == T0 + datetime.timedelta(days=1)


def test_restoring_a_deleted_tariff_makes_it_active_again(our_cpo: Party) -> None:
    tariff = TariffFactory.create(owner=our_cpo)
    tariff.delete()

    tariff.restore()

    assert Tariff.objects.active().get() == tariff


# --- TariffElement -----------------------------------------------------------------------------


def test_two_elements_cannot_share_a_position(our_cpo: Party) -> None:
    first = TariffElementFactory.create(tariff__owner=our_cpo, position=0)

    _integrity_error_on_save(TariffElement(tariff=first.tariff, position=0))


@pytest.mark.parametrize(
    ("low", "high", "value_low", "value_high"),
    [
        ("min_kwh", "max_kwh", Decimal(50), Decimal(20)),
        ("min_current", "max_current", Decimal(32), Decimal(16)),
        ("min_power", "max_power", Decimal(22), Decimal(11)),
        ("min_duration", "max_duration", 3600, 1800),
        ("start_date", "end_date", datetime.date(2026, 5, 1), datetime.date(2026, 4, 1)),
    ],
)
def test_element_minimum_above_its_maximum_is_rejected(
    our_cpo: Party, low: str, high: str, value_low: object, value_high: object
) -> None:
    element = TariffElement(
        tariff=TariffFactory.create(owner=our_cpo), **{low: value_low, high: value_high}
    )

    _integrity_error_on_save(element)


def test_element_range_that_can_never_match_fails_full_clean(our_cpo: Party) -> None:
    element = TariffElement(
        tariff=TariffFactory.create(owner=our_cpo), min_kwh=Decimal(20), max_kwh=Decimal(20)
    )

    with pytest.raises(ValidationError) as raised:
        element.full_clean()

    assert "Min kWh must be below max kWh." in str(raised.value)


def test_element_time_window_may_wrap_past_midnight(our_cpo: Party) -> None:
    element = TariffElement(
        tariff=TariffFactory.create(owner=our_cpo),
        start_time=datetime.time(20, 0),
        end_time=datetime.time(0, 0),
    )

    element.full_clean()
    element.save()


def test_element_with_equal_start_and_end_time_is_rejected(our_cpo: Party) -> None:
    element = TariffElement(
        tariff=TariffFactory.create(owner=our_cpo),
        start_time=datetime.time(9, 0),
        end_time=datetime.time(9, 0),
    )

    _integrity_error_on_save(element)


def test_element_time_with_seconds_fails_full_clean(our_cpo: Party) -> None:
    element = TariffElement(
        tariff=TariffFactory.create(owner=our_cpo), start_time=datetime.time(9, 0, 30)
    )

    with pytest.raises(ValidationError) as raised:
        element.full_clean()

    assert "whole minutes" in str(raised.value)


def test_element_negative_energy_restriction_is_rejected(our_cpo: Party) -> None:
    _integrity_error_on_save(TariffElement(tariff=TariffFactory.create(owner=our_cpo), min_kwh=-1))


def test_element_unknown_day_of_week_fails_full_clean(our_cpo: Party) -> None:
    element = TariffElement(
        tariff=TariffFactory.create(owner=our_cpo), day_of_week=["MONDAY", "FUNDAY"]
    )

    with pytest.raises(ValidationError) as raised:
        element.full_clean()

    assert "FUNDAY" in str(raised.value)


def test_element_days_are_kept_once_each_monday_first(our_cpo: Party) -> None:
    element = TariffElement(
        tariff=TariffFactory.create(owner=our_cpo),
        day_of_week=[DayOfWeek.SUNDAY, DayOfWeek.MONDAY, DayOfWeek.SUNDAY],
    )

    element.full_clean()

    assert element.day_of_week == ["MONDAY", "SUNDAY"]


# --- PriceComponent ----------------------------------------------------------------------------


def test_negative_price_is_rejected_by_the_database(our_cpo: Party) -> None:
    element = TariffElementFactory.create(tariff__owner=our_cpo)

    _integrity_error_on_save(
        PriceComponent(element=element, type=TariffDimensionType.ENERGY, price=Decimal("-0.01"))
    )


def test_negative_price_fails_full_clean(our_cpo: Party) -> None:
    component = PriceComponent(
        element=TariffElementFactory.create(tariff__owner=our_cpo),
        type=TariffDimensionType.ENERGY,
        price=Decimal("-0.01"),
    )

    with pytest.raises(ValidationError) as raised:
        component.full_clean()

    assert "price" in raised.value.message_dict


def test_zero_step_size_is_rejected_by_the_database(our_cpo: Party) -> None:
    element = TariffElementFactory.create(tariff__owner=our_cpo)

    _integrity_error_on_save(
        PriceComponent(
            element=element, type=TariffDimensionType.TIME, price=Decimal(2), step_size=0
        )
    )


def test_flat_component_may_have_a_zero_step_size(our_cpo: Party) -> None:
    component = PriceComponent(
        element=TariffElementFactory.create(tariff__owner=our_cpo),
        type=TariffDimensionType.FLAT,
        price=Decimal(0),
        step_size=0,
    )

    component.full_clean()
    component.save()


def test_zero_step_size_fails_full_clean(our_cpo: Party) -> None:
    component = PriceComponent(
        element=TariffElementFactory.create(tariff__owner=our_cpo),
        type=TariffDimensionType.TIME,
        price=Decimal(2),
        step_size=0,
    )

    with pytest.raises(ValidationError) as raised:
        component.full_clean()

    assert "step_size" in raised.value.message_dict


def test_vat_above_one_hundred_percent_is_rejected(our_cpo: Party) -> None:
    element = TariffElementFactory.create(tariff__owner=our_cpo)

    _integrity_error_on_save(
        PriceComponent(
            element=element, type=TariffDimensionType.FLAT, price=Decimal(1), vat=Decimal(101)
        )
    )


def test_free_of_charge_component_is_accepted(our_cpo: Party) -> None:
    component = PriceComponent(
        element=TariffElementFactory.create(tariff__owner=our_cpo),
        type=TariffDimensionType.FLAT,
        price=Decimal(0),
    )

    component.full_clean()
    component.save()


def test_reservation_element_cannot_price_energy(our_cpo: Party) -> None:
    element = TariffElementFactory.create(
        tariff__owner=our_cpo, reservation=ReservationRestrictionType.RESERVATION
    )
    component = PriceComponent(element=element, type=TariffDimensionType.ENERGY, price=Decimal(1))

    with pytest.raises(ValidationError) as raised:
        component.full_clean()

    assert "only price FLAT and TIME" in str(raised.value)


def test_reservation_element_may_price_time(our_cpo: Party) -> None:
    element = TariffElementFactory.create(
        tariff__owner=our_cpo, reservation=ReservationRestrictionType.RESERVATION
    )

    PriceComponent(element=element, type=TariffDimensionType.TIME, price=Decimal(5)).full_clean()


def test_deleting_a_tariff_keeps_its_elements_and_price_components(our_cpo: Party) -> None:
    component = PriceComponentFactory.create(element__tariff__owner=our_cpo)

    component.element.tariff.delete()

    assert PriceComponent.objects.filter(pk=component.pk).exists()


def test_tariff_id_cannot_change_once_stored(our_cpo: Party) -> None:
    tariff = TariffFactory.create(owner=our_cpo, ocpi_id="12")
    tariff.ocpi_id = "13"

    with pytest.raises(ValidationError) as raised:
        tariff.full_clean()

    assert "cannot change" in str(raised.value.message_dict["ocpi_id"])


def test_tariff_owner_cannot_change_once_stored() -> None:
    first, second = parties_sync_ours()[:2]
    tariff = Tariff.objects.get(pk=TariffFactory.create(owner=first).pk)
    tariff.owner = second

    with pytest.raises(ValidationError) as raised:
        tariff.full_clean()

    assert "cannot change" in str(raised.value.message_dict["ocpi_id"])
