"""Factories of billing objects: tariffs with elements and price components, and CDRs."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import factory

from billing.choices import TariffDimensionType
from billing.models import CDR, PriceComponent, Tariff, TariffElement
from roaming.choices import Role
from roaming.models import Party
from roaming.services import parties_sync_ours
from sessions_app.choices import AuthMethod

START = datetime.datetime(2026, 3, 2, 9, 30, tzinfo=datetime.UTC)


def our_first_cpo() -> Party:
    return parties_sync_ours()[0]


class PartnerEmspFactory(factory.django.DjangoModelFactory[Party]):
    class Meta:
        model = Party
        django_get_or_create = ("country_code", "party_id")

    country_code = "DE"
    party_id = "EMS"
    name = "Example eMSP"
    roles = factory.LazyFunction(lambda: [Role.EMSP.value])


class TariffFactory(factory.django.DjangoModelFactory[Tariff]):
    class Meta:
        model = Tariff

    owner = factory.LazyFunction(our_first_cpo)
    ocpi_id = factory.Sequence(lambda n: f"T{n}")
    currency = "EUR"


class TariffElementFactory(factory.django.DjangoModelFactory[TariffElement]):
    class Meta:
        model = TariffElement

    tariff = factory.SubFactory(TariffFactory)
    position = factory.Sequence(lambda n: n)


class PriceComponentFactory(factory.django.DjangoModelFactory[PriceComponent]):
    class Meta:
        model = PriceComponent

    element = factory.SubFactory(TariffElementFactory)
    type = TariffDimensionType.ENERGY
    price = Decimal("0.25")
    vat = Decimal("10")
    step_size = 1


def _cdr_token(emsp: Party) -> dict[str, Any]:
    return {
        "country_code": emsp.country_code,
        "party_id": emsp.party_id,
        "uid": "012345678",
        "type": "RFID",
        "contract_id": "DE8ACC12E46L89",
    }


class CDRFactory(factory.django.DjangoModelFactory[CDR]):
    class Meta:
        model = CDR

    owner = factory.LazyFunction(our_first_cpo)
    ocpi_id = factory.Sequence(lambda n: f"CDR{n}")
    start_date_time = START
    end_date_time = START + datetime.timedelta(hours=2)
    emsp = factory.SubFactory(PartnerEmspFactory)
    cdr_token = factory.LazyAttribute(lambda cdr: _cdr_token(cdr.emsp))
    auth_method = AuthMethod.WHITELIST
    cdr_location = factory.LazyFunction(
        lambda: {
            "id": "LOC1",
            "name": "Gent Zuid",
            "address": "F.Rooseveltlaan 3A",
            "city": "Gent",
            "postal_code": "9000",
            "country": "BEL",
            "coordinates": {"latitude": "51.047599", "longitude": "3.729944"},
            "evse_uid": "3256",
            "evse_id": "BE*BEC*E041503003",
            "connector_id": "1",
            "connector_standard": "IEC_62196_T2",
            "connector_format": "SOCKET",
            "connector_power_type": "AC_1_PHASE",
        }
    )
    currency = "EUR"
    tariffs = factory.LazyFunction(
        lambda: [
            {
                "id": "12",
                "currency": "EUR",
                "elements": [
                    {"price_components": [{"type": "TIME", "price": 2.0, "step_size": 300}]}
                ],
            }
        ]
    )
    charging_periods = factory.LazyFunction(
        lambda: [
            {
                "start_date_time": "2026-03-02T09:30:00Z",
                "dimensions": [{"type": "TIME", "volume": 1.973}],
                "tariff_id": "12",
            }
        ]
    )
    total_cost = Decimal("4.00")
    total_cost_taxes = factory.LazyFunction(lambda: [{"name": "VAT", "amount": 0.4}])
    total_time_cost = Decimal("4.00")
    total_energy = Decimal("15.342")
    total_time = Decimal("1.973")
