"""Fixtures of the pull tests: an eMSP on loopback serving its tokens, and a connection to it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from roaming.models import Partner, Party
from tests.roaming.push.conftest import connect
from tests.roaming.push.receiver import ReceiverPeer


@pytest.fixture
def peer() -> Iterator[ReceiverPeer]:
    with ReceiverPeer(page_size=2) as running:
        yield running


@pytest.fixture
def source(peer: ReceiverPeer, emsp: Party) -> Partner:
    """A registered OCPI 2.2.1 connection to the peer, speaking for the eMSP DE-EMS."""
    return connect(peer, parties=[emsp], name="Token source")


def token_json(uid: str, *, party_id: str = "EMS", **overrides: Any) -> dict[str, Any]:
    """An OCPI 2.2.1 Token of DE-<party_id>."""
    return {
        "country_code": "DE",
        "party_id": party_id,
        "uid": uid,
        "type": "RFID",
        "contract_id": f"DE-{party_id}-C{uid[-6:]:0>8}",
        "issuer": "Example eMSP",
        "valid": True,
        "whitelist": "ALLOWED",
        "last_updated": "2026-03-01T10:00:00Z",
        **overrides,
    }
