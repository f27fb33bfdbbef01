"""A small network of ours with a partner's driver charging: the objects the fault tests push."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.db import transaction

from billing.models import CDR
from locations.choices import Status
from locations.models import EVSE, Location
from locations.services import evse_set_status
from roaming.models import Party
from roaming.push.services import push_cdr_created, push_location_changed, push_session_changed
from sessions_app.models import Session
from tests.billing.factories import CDRFactory
from tests.locations.factories import ConnectorFactory
from tests.sessions_app.factories import (
    SessionChargingPeriodFactory,
    SessionFactory,
    TokenFactory,
)


@dataclass
class Network:
    """Two locations of ours, a session of the partner's driver and its CDRs."""

    emsp: Party
    locations: list[Location]
    evses: list[EVSE]
    session: Session
    cdrs: list[CDR] = field(default_factory=list)
    changes: int = 0

    @classmethod
    def build(cls, emsp: Party) -> Network:
        connectors = [
            ConnectorFactory.create(evse__location__ocpi_id=f"LOC{n}", evse__uid=f"EVSE{n}")
            for n in (1, 2)
        ]
        evses = [connector.evse for connector in connectors]
        locations = [evse.location for evse in evses]
        session = SessionFactory.create(
            ocpi_id="S1", token=TokenFactory.create(owner=emsp), connector=connectors[0]
        )
        SessionChargingPeriodFactory.create(session=session)
        network = cls(emsp=emsp, locations=locations, evses=evses, session=session)
        with transaction.atomic():
            for location in locations:
                push_location_changed(location=location)
            push_session_changed(session=session)
        network.add_cdr()
        return network

    def add_cdr(self) -> None:
        with transaction.atomic():
            cdr = CDRFactory.create(emsp=self.emsp, ocpi_id=f"CDR{len(self.cdrs) + 1}")
            push_cdr_created(cdr=cdr)
        self.cdrs.append(cdr)

    def change(self) -> None:
        """One round of everyday changes: a status, a rename, a meter value, a CDR."""
        self.changes += 1
        evse = self.evses[self.changes % 2]
        evse.refresh_from_db()
        status = Status.CHARGING if evse.status != Status.CHARGING else Status.AVAILABLE
        evse_set_status(evses=[evse], status=status)
        location = self.locations[(self.changes + 1) % 2]
        location.name = f"Charging site, version {self.changes}"
        with transaction.atomic():
            location.save()
            push_location_changed(location=location)
        session = self.session
        session.kwh += Decimal("1.5")
        with transaction.atomic():
            session.save()
            SessionChargingPeriodFactory.create(
                session=session,
                start_date_time=session.start_date_time + timedelta(minutes=15 * self.changes),
                dimensions=[{"type": "ENERGY", "volume": float(session.kwh)}],
            )
            push_session_changed(session=session)
        self.add_cdr()

    @classmethod
    def load(cls, emsp: Party) -> Network:
        """The network built earlier (by another process)."""
        locations = list(Location.objects.filter(ocpi_id__in=["LOC1", "LOC2"]).order_by("ocpi_id"))
        evses = [EVSE.objects.get(location=location) for location in locations]
        session = Session.objects.get(ocpi_id="S1")
        cdrs = list(CDR.objects.filter(emsp=emsp).order_by("pk"))
        periods = session.charging_periods.count()
        return cls(
            emsp=emsp,
            locations=locations,
            evses=evses,
            session=session,
            cdrs=cdrs,
            changes=periods - 1,
        )
