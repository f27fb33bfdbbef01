"""Factories of locations, EVSEs and connectors that obey OCPI's identifier formats."""

from __future__ import annotations

from decimal import Decimal

import factory

from locations.choices import ConnectorFormat, ConnectorType, PowerType, Status
from locations.models import EVSE, Connector, Location
from roaming.models import Party
from roaming.services import parties_sync_ours


def our_first_cpo() -> Party:
    """Our first CPO identity from settings (the row exists after migrate; synced to be sure)."""
    return parties_sync_ours()[0]


class LocationFactory(factory.django.DjangoModelFactory[Location]):
    class Meta:
        model = Location

    owner = factory.LazyFunction(our_first_cpo)
    ocpi_id = factory.Sequence(lambda n: f"LOC{n + 1:05d}")
    publish = True
    name = factory.Sequence(lambda n: f"Charging site {n + 1}")
    address = "Stationsplein 1"
    city = "Amsterdam"
    postal_code = "1012AB"
    country = "NLD"
    latitude = Decimal("52.378901")
    longitude = Decimal("4.900272")
    time_zone = "Europe/Amsterdam"


class EVSEFactory(factory.django.DjangoModelFactory[EVSE]):
    class Meta:
        model = EVSE

    location = factory.SubFactory(LocationFactory)
    uid = factory.Sequence(lambda n: f"EVSE-{n + 1:05d}")
    # eMI3: <country>*<operator>*E<power outlet id>, the operator being the location's owner.
    evse_id = factory.LazyAttributeSequence(
        lambda o, n: f"{o.location.owner.country_code}*{o.location.owner.party_id}*E{n + 1:04d}"
    )
    status = Status.AVAILABLE


class ConnectorFactory(factory.django.DjangoModelFactory[Connector]):
    class Meta:
        model = Connector

    evse = factory.SubFactory(EVSEFactory)
    ocpi_id = factory.Sequence(lambda n: str(n + 1))
    standard = ConnectorType.IEC_62196_T2
    format = ConnectorFormat.SOCKET
    power_type = PowerType.AC_3_PHASE
    max_voltage = 230
    max_amperage = 32
    max_electric_power = 22080
