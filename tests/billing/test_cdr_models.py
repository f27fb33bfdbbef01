"""Rules of CDRs: immutability, credit CDRs and totals, at the model and database level."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from billing.models import CDR, CdrImmutableError
from roaming.models import Party
from roaming.ownership import OwnershipError
from tests.billing.factories import START, CDRFactory

pytestmark = pytest.mark.django_db


def _rejected_by_database(**fields: object) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        CDRFactory.create(**fields)


def test_cdr_is_stored_with_its_totals(emsp: Party) -> None:
    cdr = CDRFactory.create(emsp=emsp)

    stored = CDR.objects.get(pk=cdr.pk)
    assert (stored.total_cost, stored.total_energy) == (Decimal("4.00"), Decimal("15.342"))


def test_saving_an_existing_cdr_is_refused(emsp: Party) -> None:
    cdr = CDRFactory.create(emsp=emsp)
    cdr.remark = "changed"

    with pytest.raises(CdrImmutableError, match="credit CDR"):
        cdr.save()

    assert CDR.objects.get(pk=cdr.pk).remark == ""


def test_deleting_a_cdr_is_refused(emsp: Party) -> None:
    cdr = CDRFactory.create(emsp=emsp)

    with pytest.raises(CdrImmutableError):
        cdr.delete()

    assert CDR.objects.filter(pk=cdr.pk).exists()


def test_updating_cdrs_through_a_queryset_is_refused(emsp: Party) -> None:
    cdr = CDRFactory.create(emsp=emsp)

    with pytest.raises(CdrImmutableError):
        CDR.objects.filter(pk=cdr.pk).update(remark="changed")

    assert CDR.objects.get(pk=cdr.pk).remark == ""


def test_deleting_cdrs_through_a_queryset_is_refused(emsp: Party) -> None:
    CDRFactory.create(emsp=emsp)

    with pytest.raises(CdrImmutableError):
        CDR.objects.all().delete()

    assert CDR.objects.count() == 1


def test_bulk_updating_cdrs_is_refused(emsp: Party) -> None:
    cdr = CDRFactory.create(emsp=emsp)
    cdr.remark = "changed"

    with pytest.raises(CdrImmutableError):
        CDR.objects.bulk_update([cdr], ["remark"])


def test_cdr_id_is_unique_per_owner_ignoring_case(emsp: Party) -> None:
    CDRFactory.create(emsp=emsp, ocpi_id="Cdr-1")

    _rejected_by_database(emsp=emsp, ocpi_id="CDR-1")


def test_cdr_ending_before_it_starts_is_rejected(emsp: Party) -> None:
    _rejected_by_database(
        emsp=emsp, start_date_time=START, end_date_time=START - datetime.timedelta(seconds=1)
    )


def test_credit_cdr_without_credit_reference_id_is_rejected(emsp: Party) -> None:
    _rejected_by_database(emsp=emsp, credit=True, total_cost=Decimal("-4.00"))


def test_credit_cdr_without_credit_reference_id_fails_full_clean(emsp: Party) -> None:
    cdr = CDRFactory.build(emsp=emsp, credit=True, total_cost=Decimal("-4.00"))

    with pytest.raises(ValidationError) as raised:
        cdr.full_clean()

    assert "needs the id of the CDR it credits" in str(raised.value.message_dict)


def test_credit_reference_id_on_a_normal_cdr_is_rejected(emsp: Party) -> None:
    _rejected_by_database(emsp=emsp, credit_reference_id="CDR-1")


def test_credit_cdr_with_negative_totals_is_accepted(emsp: Party) -> None:
    original = CDRFactory.create(emsp=emsp, ocpi_id="CDR-1")

    credit = CDRFactory.create(
        emsp=emsp,
        ocpi_id="CDR-1-C",
        credit=True,
        credit_reference_id=original.ocpi_id,
        total_cost=Decimal("-4.00"),
        total_time_cost=Decimal("-4.00"),
    )

    assert CDR.objects.get(pk=credit.pk).total_cost == Decimal("-4.00")


def test_credit_cdr_with_a_positive_total_cost_is_rejected(emsp: Party) -> None:
    _rejected_by_database(
        emsp=emsp, credit=True, credit_reference_id="CDR-1", total_cost=Decimal("4.00")
    )


def test_credit_cdr_cannot_credit_itself(emsp: Party) -> None:
    cdr = CDRFactory.build(
        emsp=emsp,
        ocpi_id="CDR-1",
        credit=True,
        credit_reference_id="cdr-1",
        total_cost=Decimal("-4.00"),
    )

    with pytest.raises(ValidationError) as raised:
        cdr.full_clean()

    assert "cannot credit itself" in str(raised.value.message_dict)


def test_normal_cdr_with_a_negative_total_cost_is_rejected(emsp: Party) -> None:
    _rejected_by_database(emsp=emsp, total_cost=Decimal("-0.01"))


def test_normal_cdr_with_a_negative_sub_cost_is_rejected(emsp: Party) -> None:
    _rejected_by_database(emsp=emsp, total_energy_cost=Decimal("-0.01"))


def test_credit_cdr_keeps_quantities_non_negative(emsp: Party) -> None:
    _rejected_by_database(
        emsp=emsp,
        credit=True,
        credit_reference_id="CDR-1",
        total_cost=Decimal("-4.00"),
        total_energy=Decimal("-15.342"),
    )


def test_negative_total_time_is_rejected(emsp: Party) -> None:
    _rejected_by_database(emsp=emsp, total_time=Decimal("-1"))


def test_parking_time_longer_than_the_total_time_is_rejected(emsp: Party) -> None:
    _rejected_by_database(emsp=emsp, total_time=Decimal(1), total_parking_time=Decimal(2))


def test_normal_cdr_id_longer_than_36_characters_is_rejected(emsp: Party) -> None:
    _rejected_by_database(emsp=emsp, ocpi_id="C" * 37)


def test_credit_cdr_id_may_have_39_characters(emsp: Party) -> None:
    CDRFactory.create(
        emsp=emsp,
        ocpi_id="C" * 36 + "-CR",
        credit=True,
        credit_reference_id="C" * 36,
        total_cost=Decimal("-4.00"),
    )


def test_cdr_owned_by_a_partner_cannot_be_saved(emsp: Party) -> None:
    with pytest.raises(OwnershipError):
        CDRFactory.create(emsp=emsp, owner=emsp)

    assert not CDR.objects.exists()


def test_cdr_emsp_must_be_the_issuer_of_its_token(emsp: Party, outsider: Party) -> None:
    cdr = CDRFactory.build(emsp=outsider, cdr_token={**CDRFactory.build(emsp=emsp).cdr_token})

    with pytest.raises(ValidationError) as raised:
        cdr.full_clean()

    assert "emsp" in raised.value.message_dict


def test_cdr_without_charging_periods_fails_full_clean(emsp: Party) -> None:
    cdr = CDRFactory.build(emsp=emsp, charging_periods=[])

    with pytest.raises(ValidationError) as raised:
        cdr.full_clean()

    assert "charging_periods" in raised.value.message_dict


def test_a_valid_cdr_passes_full_clean(emsp: Party) -> None:
    CDRFactory.build(emsp=emsp).full_clean()


def test_a_partner_sees_only_the_cdrs_of_its_own_drivers(emsp: Party, outsider: Party) -> None:
    own = CDRFactory.create(emsp=emsp)
    CDRFactory.create(
        emsp=outsider,
        cdr_token={
            **own.cdr_token,
            "party_id": outsider.party_id,
            "country_code": outsider.country_code,
        },
    )

    assert list(CDR.objects.visible_to(emsp)) == [own]
