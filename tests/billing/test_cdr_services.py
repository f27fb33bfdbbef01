"""Issuing CDRs from finished sessions, and credit CDRs with optional corrected CDRs."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction

from billing import cdrs as cdr_services
from billing.cdrs import CdrError, cdr_create_from_session, cdr_credit
from billing.models import CDR, PriceComponent
from roaming.modules.cdrs.serializers import cdr_to_ocpi
from roaming.modules.common import V2_2_1
from sessions_app.choices import SessionStatus
from tests.billing.cdr_helpers import START, finished_session, tariff_with

pytestmark = pytest.mark.django_db

SIGNED = {
    "encoding_method": "OCMF",
    "signed_values": [{"nature": "Start", "plain_data": "OCMF|{}", "signed_data": "c2lnbmVk"}],
}


@pytest.fixture
def pushed(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bool]]:
    """Records every push_cdr_created call: the CDR id and whether a transaction was open."""
    calls: list[tuple[str, bool]] = []

    def record(*, cdr: CDR) -> None:
        calls.append((cdr.ocpi_id, transaction.get_connection().in_atomic_block))

    monkeypatch.setattr(cdr_services, "push_cdr_created", record)
    return calls


def _issued(**session_fields: Any) -> CDR:
    tariff_with()
    return cdr_create_from_session(session=finished_session(**session_fields))


def test_cdr_of_a_completed_session_carries_the_engine_totals(pushed: list[Any]) -> None:
    cdr = _issued()

    # ENERGY 12.5 kWh * 0.25 = 3.125 (10% VAT: 3.4375) + FLAT 0.50 (20%: 0.60).
    assert (cdr.total_cost, cdr.total_energy_cost, cdr.total_fixed_cost) == (
        Decimal("3.63"),
        Decimal("3.13"),
        Decimal("0.50"),
    )
    assert [(t["percentage"], t["amount"]) for t in cdr.total_cost_taxes] == [
        (10, "0.31"),
        (20, "0.10"),
    ]
    assert cdr.total_time_cost is None
    assert cdr.total_parking_cost is None


def test_cdr_quantities_come_from_the_session_periods(pushed: list[Any]) -> None:
    cdr = _issued()

    assert (cdr.total_energy, cdr.total_time, cdr.total_parking_time) == (
        Decimal("12.5"),
        Decimal("2"),
        Decimal("0.5"),
    )
    assert [p["dimensions"][0]["type"] for p in cdr.charging_periods] == ["ENERGY", "PARKING_TIME"]
    assert {p["tariff_id"] for p in cdr.charging_periods} == {"T-ENERGY"}


def test_cdr_copies_session_token_location_and_authorization(pushed: list[Any]) -> None:
    tariff_with()
    session = finished_session()

    cdr = cdr_create_from_session(session=session, signed_data=SIGNED)

    assert cdr.session == session
    assert cdr.emsp == session.emsp
    assert cdr.cdr_token == session.cdr_token
    assert (cdr.auth_method, cdr.authorization_reference, cdr.meter_id) == (
        session.auth_method,
        "AUTH-REF-1",
        "METER-7",
    )
    assert cdr.cdr_location["evse_uid"] == session.evse.uid
    assert cdr.cdr_location["connector_id"] == session.connector.ocpi_id
    assert cdr.cdr_location["country"] == "NLD"
    assert cdr.signed_data == SIGNED
    assert (cdr.start_date_time, cdr.end_date_time) == (START, START + timedelta(hours=2))


def test_cdr_is_pushed_inside_the_transaction_that_creates_it(pushed: list[Any]) -> None:
    cdr = _issued()

    assert pushed == [(cdr.ocpi_id, True)]


@pytest.mark.parametrize("status", [SessionStatus.ACTIVE, SessionStatus.INVALID])
def test_only_a_completed_session_gets_a_cdr(pushed: list[Any], status: str) -> None:
    tariff_with()
    session = finished_session(status=status)

    with pytest.raises(CdrError, match="COMPLETED"):
        cdr_create_from_session(session=session)
    assert not CDR.objects.exists()
    assert not pushed


def test_a_session_gets_one_cdr_only(pushed: list[Any]) -> None:
    tariff_with()
    session = finished_session()
    first = cdr_create_from_session(session=session)

    with pytest.raises(CdrError, match=f"already has CDR {first.ocpi_id}"):
        cdr_create_from_session(session=session)
    assert CDR.objects.count() == 1


def test_later_tariff_edits_leave_the_cdr_snapshot_unchanged(pushed: list[Any]) -> None:
    tariff = tariff_with()
    cdr = cdr_create_from_session(session=finished_session())
    before = CDR.objects.get(pk=cdr.pk).tariffs

    PriceComponent.objects.filter(element__tariff=tariff, type="ENERGY").update(price=Decimal("9"))
    tariff.currency = "USD"
    tariff.save()

    stored = CDR.objects.get(pk=cdr.pk)
    assert stored.tariffs == before
    assert stored.tariffs[0]["currency"] == "EUR"
    energy = stored.tariffs[0]["elements"][0]["price_components"][0]
    assert (energy["type"], energy["price"]) == ("ENERGY", 0.25)
    assert stored.total_cost == Decimal("3.63")


def test_the_first_usable_tariff_of_the_connector_prices_the_session(pushed: list[Any]) -> None:
    deleted = tariff_with("T-OLD", energy=("1.00", "10", 1))
    deleted.delete()
    tariff_with("T-NEW", energy=("0.40", "10", 1), flat=None)
    tariff_with("T-LATER", energy=("0.80", "10", 1), flat=None)
    session = finished_session(tariff_ids=["T-OLD", "t-new", "T-LATER"])

    cdr = cdr_create_from_session(session=session)

    assert [t["id"] for t in cdr.tariffs] == ["T-NEW"]
    assert cdr.total_cost == Decimal("5.00")  # 12.5 kWh * 0.40


def test_a_connector_without_tariffs_charges_nothing(pushed: list[Any]) -> None:
    cdr = cdr_create_from_session(session=finished_session(tariff_ids=[]))

    assert cdr.total_cost == 0
    assert cdr.tariffs == []
    assert "free of charge" in cdr.remark
    assert cdr.total_energy == Decimal("12.5")


def test_listed_tariffs_that_cannot_be_used_refuse_the_cdr(pushed: list[Any]) -> None:
    tariff_with("T-GONE").delete()
    session = finished_session(tariff_ids=["T-GONE", "T-UNKNOWN"])

    with pytest.raises(CdrError, match="none of them exists, is active and is valid"):
        cdr_create_from_session(session=session)
    assert not CDR.objects.exists()


def test_a_tariff_not_yet_valid_at_the_session_start_is_skipped(pushed: list[Any]) -> None:
    future = tariff_with("T-FUTURE")
    future.start_date_time = START + timedelta(days=1)
    future.save()
    session = finished_session(tariff_ids=["T-FUTURE"])

    with pytest.raises(CdrError, match="T-FUTURE"):
        cdr_create_from_session(session=session)


def test_the_cdr_goes_out_as_an_ocpi_cdr(pushed: list[Any]) -> None:
    cdr = _issued()

    data = cdr_to_ocpi(cdr, V2_2_1)

    assert data["total_cost"] == {"excl_vat": Decimal("3.63"), "incl_vat": Decimal("4.04")}
    assert data["tariffs"][0]["id"] == "T-ENERGY"


# --- credits ----------------------------------------------------------------------------------------


def test_a_credit_cdr_reverses_every_amount_and_names_the_original(pushed: list[Any]) -> None:
    original = _issued()

    credit, corrected = cdr_credit(cdr=original, reason="Meter fault")

    assert corrected is None
    assert credit.credit
    assert credit.credit_reference_id == original.ocpi_id
    assert credit.ocpi_id == f"{original.ocpi_id}-C1"
    assert (credit.total_cost, credit.total_energy_cost, credit.total_fixed_cost) == (
        Decimal("-3.63"),
        Decimal("-3.13"),
        Decimal("-0.50"),
    )
    assert [t["amount"] for t in credit.total_cost_taxes] == ["-0.31", "-0.10"]
    assert credit.total_energy == original.total_energy
    assert "Meter fault" in credit.remark


def test_credit_and_corrected_cdrs_are_both_pushed(pushed: list[Any]) -> None:
    original = _issued()
    pushed.clear()

    credit, corrected = cdr_credit(
        cdr=original, reason="Wrong meter reading", corrected={"total_energy": Decimal("10")}
    )

    assert corrected is not None
    assert pushed == [(credit.ocpi_id, True), (corrected.ocpi_id, True)]


def test_a_corrected_cdr_is_priced_again_under_the_original_tariff_copy(
    pushed: list[Any],
) -> None:
    original = _issued()
    PriceComponent.objects.filter(type="ENERGY").update(price=Decimal("5"))

    _credit, corrected = cdr_credit(
        cdr=original, reason="Wrong meter reading", corrected={"total_energy": Decimal("10")}
    )

    assert corrected is not None
    assert not corrected.credit
    # 10 kWh * 0.25 (the copy, not today's 5.00) + 0.50 flat.
    assert corrected.total_cost == Decimal("3.00")
    assert corrected.total_energy == Decimal("10")
    assert corrected.total_time == original.total_time
    assert corrected.tariffs == original.tariffs
    assert corrected.ocpi_id != original.ocpi_id
    assert corrected.session == original.session


def test_a_corrected_cdr_takes_corrected_times(pushed: list[Any]) -> None:
    tariff_with(energy=None, flat=None, time=("2.00", None, 1), parking=("6.00", None, 1))
    original = cdr_create_from_session(session=finished_session())

    _credit, corrected = cdr_credit(
        cdr=original,
        reason="Parking was not the driver's fault",
        corrected={"total_time": Decimal("1.5"), "total_parking_time": Decimal("0")},
    )

    assert original.total_cost == Decimal("6.00")  # 1.5 h * 2.00 + 0.5 h * 6.00
    assert corrected is not None
    assert corrected.total_cost == Decimal("3.00")
    assert corrected.end_date_time == START + timedelta(hours=1.5)
    assert corrected.total_parking_time is None


def test_a_cdr_is_credited_once(pushed: list[Any]) -> None:
    original = _issued()
    cdr_credit(cdr=original, reason="Meter fault")

    with pytest.raises(CdrError, match="already credited"):
        cdr_credit(cdr=original, reason="Again")


def test_a_credit_cdr_cannot_be_credited(pushed: list[Any]) -> None:
    credit, _ = cdr_credit(cdr=_issued(), reason="Meter fault")

    with pytest.raises(CdrError, match="itself a credit"):
        cdr_credit(cdr=credit, reason="Undo")


def test_a_credit_needs_a_reason(pushed: list[Any]) -> None:
    original = _issued()

    with pytest.raises(CdrError, match="reason"):
        cdr_credit(cdr=original, reason="   ")
    assert CDR.objects.count() == 1


def test_only_known_quantities_can_be_corrected(pushed: list[Any]) -> None:
    original = _issued()

    with pytest.raises(CdrError, match="Cannot correct total_cost"):
        cdr_credit(cdr=original, reason="x", corrected={"total_cost": 1})
    assert CDR.objects.count() == 1


def test_period_lengths_come_from_timestamps_not_rounded_hours(pushed: list[Any]) -> None:
    tariff_with(energy=None, flat=None, time=("60.00", None, 60))
    session = finished_session(charging_minutes=1, parking_minutes=0)
    # One minute as OCPI writes it, rounded to 4 decimals: 0.0167 h is 60.12 s.
    session.charging_periods.update(dimensions=[{"type": "TIME", "volume": 0.0167}])

    cdr = cdr_create_from_session(session=session)

    assert cdr.total_cost == Decimal("1.00")  # one step of 60 s, not two
