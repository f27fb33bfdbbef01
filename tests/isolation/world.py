"""The isolation world, built once per test module: five eMSP parties and their objects.

* Three eMSPs each have their own connection: DE-AAA, NL-BBB and FR-CCC.
* A hub (NL-HUB) relays for two more, BE-DDD and IT-EEE, over one connection, and says which of
  them speaks with the OCPI-from-* headers.
* Every party owns a token, an ACTIVE session with a charging profile set, a CDR and a held
  reservation, all at one location of our first CPO.

The world is written inside a transaction that lives as long as the module; every test runs in a
savepoint inside it (pytest-django's ``db``), so what one case changes never reaches the next,
and the whole world is rolled back at the end.
"""

from __future__ import annotations

import base64
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db.models import Model
from django.utils import timezone

from billing.models import CDR
from locations.choices import Capability
from locations.models import EVSE, Location
from roaming.choices import Role
from roaming.models import Party
from sessions_app.models import ActiveChargingProfile, Reservation, Session, Token
from tests.billing.factories import CDRFactory
from tests.locations.factories import ConnectorFactory, EVSEFactory, LocationFactory
from tests.roaming.conftest import make_partner
from tests.sessions_app.factories import ReservationFactory, SessionFactory, TokenFactory

DIRECT = ("AAA", "BBB", "CCC")
VIA_HUB = ("DDD", "EEE")
CODES = {"AAA": "DE", "BBB": "NL", "CCC": "FR", "DDD": "BE", "EEE": "IT"}
# A uid every party uses for a token of its own: the same uid never reaches across parties.
SHARED_UID = "SHARED0001"
LOCATION_ID = "LOC-ISO"
# Free to start or reserve at.
FREE_EVSE_UID = "EVSE-FREE"
# Numeric reservation ids: OCPI 2.1.1 knows no others.
RESERVATION_IDS = {"AAA": "1001", "BBB": "1002", "CCC": "1003", "DDD": "1004", "EEE": "1005"}

# Per guarded model, the rows of some parties (see ``snapshot``).
Snapshot = list[list[tuple[Any, ...]]]


@dataclass
class Actor:
    """One eMSP party, the connection token it calls us with, and what it owns here."""

    name: str
    party: Party
    token: str
    via_hub: bool
    token_uid: str
    contract_id: str
    shared_contract_id: str
    session_id: str
    cdr_id: str
    reservation_id: str

    @property
    def identifiers(self) -> list[str]:
        """What must not show up in another party's answer (unless that party sent it)."""
        return [
            self.token_uid,
            self.contract_id,
            self.shared_contract_id,
            self.session_id,
            self.cdr_id,
        ]


@dataclass
class World:
    actors: dict[str, Actor]
    hub_token: str
    location: Location
    free_evse: EVSE
    # Each party's objects as stored when the world was built (see ``snapshot``).
    pristine: dict[int, Snapshot] = field(default_factory=dict)

    def actor_of(self, party: Party) -> Actor:
        return next(actor for actor in self.actors.values() if actor.party.pk == party.pk)

    def pristine_of(self, parties: list[Party]) -> Snapshot:
        """What ``snapshot(parties)`` gave when the world was built."""
        per_party = [self.pristine[party.pk] for party in parties]
        return [
            sorted(row for rows in per_model for row in rows)
            for per_model in zip(*per_party, strict=True)
        ]


def auth_header(token: str, version: str) -> dict[str, str]:
    """2.1.1 peers send the token plain; 2.2+ base64-encoded."""
    value = token if version == "2.1.1" else base64.b64encode(token.encode()).decode()
    return {"Authorization": f"Token {value}"}


def _party(party_id: str) -> Party:
    return Party.objects.create(
        country_code=CODES[party_id],
        party_id=party_id,
        name=f"eMSP {party_id}",
        roles=[Role.EMSP.value],
    )


def _capable_evse(location: Location, **fields: Any) -> EVSE:
    evse = EVSEFactory.create(
        location=location,
        **fields,
        capabilities=[
            Capability.CHARGING_PREFERENCES_CAPABLE,
            Capability.CHARGING_PROFILE_CAPABLE,
            Capability.REMOTE_START_STOP_CAPABLE,
            Capability.RESERVABLE,
        ],
    )
    ConnectorFactory.create(evse=evse)
    return evse


def _owned_objects(actor_name: str, party: Party, location: Location) -> dict[str, str]:
    token = TokenFactory.create(
        owner=party,
        uid=f"TOK{actor_name}01",
        contract_id=f"{party.country_code}-{party.party_id}-C00000001",
    )
    shared = TokenFactory.create(
        owner=party,
        uid=SHARED_UID,
        contract_id=f"{party.country_code}-{party.party_id}-C00000002",
    )
    evse = _capable_evse(location)
    session = SessionFactory.create(
        connector=evse.connectors.get(), token=token, ocpi_id=f"SES-{actor_name}"
    )
    ActiveChargingProfile.objects.create(
        session=session,
        start_date_time=session.start_date_time,
        charging_profile={"charging_rate_unit": "W", "charging_profile_period": []},
    )
    CDRFactory.create(emsp=party, ocpi_id=f"CDR-{actor_name}")
    reservation = ReservationFactory.create(
        token=token,
        emsp=party,
        reservation_id=RESERVATION_IDS[actor_name],
        evse=_capable_evse(location),
        location=location,
        expiry_date=timezone.now() + timedelta(days=1),
    )
    return {
        "token_uid": token.uid,
        "contract_id": token.contract_id,
        "shared_contract_id": shared.contract_id,
        "session_id": session.ocpi_id,
        "cdr_id": f"CDR-{actor_name}",
        "reservation_id": reservation.reservation_id,
    }


def build_world() -> World:
    location = LocationFactory.create(ocpi_id=LOCATION_ID)
    parties = {name: _party(name) for name in (*DIRECT, *VIA_HUB)}
    hub_party = Party.objects.create(
        country_code="NL", party_id="HUB", name="Roaming hub", roles=[Role.HUB.value]
    )
    _, hub_token = make_partner(
        parties=[hub_party, parties["DDD"], parties["EEE"]], name="Roaming hub"
    )
    tokens = {
        name: make_partner(parties=[parties[name]], name=f"eMSP {name}")[1] for name in DIRECT
    }
    tokens.update(dict.fromkeys(VIA_HUB, hub_token))
    actors = {
        name: Actor(
            name=name,
            party=party,
            token=tokens[name],
            via_hub=name in VIA_HUB,
            **_owned_objects(name, party, location),
        )
        for name, party in parties.items()
    }
    return World(
        actors=actors,
        hub_token=hub_token,
        location=location,
        free_evse=_capable_evse(location, uid=FREE_EVSE_UID),
        pristine={party.pk: snapshot([party]) for party in parties.values()},
    )


# What a foreign request must never change, per model: the rows of the guarded parties.
_GUARDED_FIELDS: tuple[tuple[type[Model], str, tuple[str, ...]], ...] = (
    (Token, "owner", ("uid", "type", "contract_id", "valid", "whitelist", "last_updated")),
    (
        Session,
        "emsp",
        (
            "ocpi_id",
            "status",
            "charging_preferences",
            "last_updated",
            "end_date_time",
            "active_charging_profile__charging_profile",
        ),
    ),
    (CDR, "emsp", ("ocpi_id", "last_updated")),
    (
        Reservation,
        "emsp",
        ("reservation_id", "status", "evse_id", "token_id", "expiry_date", "last_updated"),
    ),
)


def snapshot(parties: list[Party]) -> Snapshot:
    """Everything stored of the parties' objects, to compare before and after a request."""
    pks = [party.pk for party in parties]
    return [
        sorted(
            model._default_manager.filter(**{f"{owner_field}__in": pks}).values_list("pk", *fields)
        )
        for model, owner_field, fields in _GUARDED_FIELDS
    ]


# What ran, by (kind, channel): printed as the summary of the matrix.
CASE_COUNTS: Counter[tuple[str, str]] = Counter()
