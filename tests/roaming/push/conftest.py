"""Fixtures of the push and pull tests: a receiver eMSP on loopback and connections to it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import pytest

from roaming.choices import InterfaceRole, ModuleID, OcpiVersion
from roaming.models import Partner, PartnerEndpoint, PartnerState, Party
from roaming.push.delivery import deliver_partner
from tests.roaming.conftest import make_partner
from tests.roaming.push.receiver import ReceiverPeer

RECEIVER_MODULES = (ModuleID.LOCATIONS, ModuleID.TARIFFS, ModuleID.SESSIONS, ModuleID.CDRS)


@pytest.fixture
def peer() -> Iterator[ReceiverPeer]:
    with ReceiverPeer() as running:
        yield running


def connect(
    peer: ReceiverPeer,
    *,
    parties: Iterable[Party],
    version: OcpiVersion = OcpiVersion.V2_2_1,
    modules: Iterable[ModuleID] = RECEIVER_MODULES,
    tokens_sender: bool = True,
    name: str = "Receiver eMSP",
    state: PartnerState = PartnerState.REGISTERED,
) -> Partner:
    """A connection to the peer, with the peer's receiver endpoints (2.1.1: without roles)."""
    partner, _ = make_partner(parties=parties, version=version, name=name, state=state)
    role = "" if version == OcpiVersion.V2_1_1 else InterfaceRole.RECEIVER
    endpoints = [
        PartnerEndpoint(
            partner=partner, module=module, role=role, url=peer.url(version, module.value)
        )
        for module in modules
    ]
    if tokens_sender:
        endpoints.append(
            PartnerEndpoint(
                partner=partner,
                module=ModuleID.TOKENS,
                role="" if version == OcpiVersion.V2_1_1 else InterfaceRole.SENDER,
                url=peer.url(version, "tokens"),
            )
        )
    PartnerEndpoint.objects.bulk_create(endpoints)
    return partner


@pytest.fixture
def receiver(peer: ReceiverPeer, emsp: Party) -> Partner:
    """A registered OCPI 2.2.1 connection to the peer, speaking for the eMSP DE-EMS."""
    return connect(peer, parties=[emsp])


def deliver(partner: Partner) -> None:
    """Run the partner's delivery as the Celery task would."""
    deliver_partner(partner_id=partner.pk)
