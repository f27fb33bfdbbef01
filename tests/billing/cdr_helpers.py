"""Builders for CDR tests: a tariff on a connector and a finished session there, and staff users."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import Group
from django.test import Client

from billing.choices import TariffDimensionType
from billing.models import PriceComponent, Tariff, TariffElement
from sessions_app.choices import SessionStatus
from sessions_app.models import Session, SessionChargingPeriod
from tests.billing.factories import our_first_cpo
from tests.locations.factories import ConnectorFactory
from tests.sessions_app.factories import SessionFactory

START = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)


def tariff_with(ocpi_id: str = "T-ENERGY", *, currency: str = "EUR", **prices: Any) -> Tariff:
    """A tariff of one unrestricted element: ENERGY 0.25/kWh (10% VAT) + FLAT 0.50 (20% VAT).

    Keyword ``energy`` / ``flat`` / ``time`` / ``parking`` give (price, vat, step) instead;
    None leaves the dimension out.
    """
    components = {
        TariffDimensionType.ENERGY: prices.get("energy", ("0.25", "10", 1)),
        TariffDimensionType.FLAT: prices.get("flat", ("0.50", "20", 1)),
        TariffDimensionType.TIME: prices.get("time"),
        TariffDimensionType.PARKING_TIME: prices.get("parking"),
    }
    tariff = Tariff.objects.create(owner=our_first_cpo(), ocpi_id=ocpi_id, currency=currency)
    element = TariffElement.objects.create(tariff=tariff, position=0)
    for position, (kind, spec) in enumerate(components.items()):
        if spec is None:
            continue
        price, vat, step = spec
        PriceComponent.objects.create(
            element=element,
            position=position,
            type=kind,
            price=Decimal(price),
            vat=None if vat is None else Decimal(vat),
            step_size=step,
        )
    return tariff


def finished_session(
    *,
    tariff_ids: list[str] | None = None,
    status: str = SessionStatus.COMPLETED,
    kwh: str = "12.5",
    charging_minutes: int = 90,
    parking_minutes: int = 30,
    **fields: Any,
) -> Session:
    """A session that charged `kwh` for `charging_minutes`, then stood parked."""
    connector = ConnectorFactory.create(
        tariff_ids=["T-ENERGY"] if tariff_ids is None else tariff_ids
    )
    end = START + timedelta(minutes=charging_minutes + parking_minutes)
    session = SessionFactory.create(
        connector=connector,
        start_date_time=START,
        end_date_time=None if status == SessionStatus.ACTIVE else end,
        kwh=Decimal(kwh),
        status=status,
        authorization_reference="AUTH-REF-1",
        meter_id="METER-7",
        **fields,
    )
    SessionChargingPeriod.objects.create(
        session=session,
        start_date_time=START,
        dimensions=[
            {"type": "ENERGY", "volume": float(kwh)},
            {"type": "TIME", "volume": charging_minutes / 60},
            {"type": "MAX_POWER", "volume": 11},
        ],
    )
    if parking_minutes:
        SessionChargingPeriod.objects.create(
            session=session,
            start_date_time=START + timedelta(minutes=charging_minutes),
            dimensions=[{"type": "PARKING_TIME", "volume": parking_minutes / 60}],
        )
    return session


def staff_client(django_user_model: Any, group: str, username: str | None = None) -> Client:
    """A logged-in staff member of one of the staff groups."""
    user = django_user_model.objects.create_user(
        username=username or group.lower(), password="not-used", is_staff=True
    )
    user.groups.add(Group.objects.get(name=group))
    client = Client()
    client.force_login(user)
    return client
