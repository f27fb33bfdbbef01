"""Shared fixtures: our CPO identity, a connected eMSP and an outsider."""

from __future__ import annotations

import pytest

from roaming.choices import Role
from roaming.models import Party
from roaming.services import parties_sync_ours


@pytest.fixture
def our_cpo(db: None) -> Party:
    """Our first CPO identity from settings (present after migrate)."""
    return parties_sync_ours()[0]


@pytest.fixture
def emsp(db: None) -> Party:
    """A partner eMSP connected to us."""
    return Party.objects.create(
        country_code="DE", party_id="EMS", name="Example eMSP", roles=[Role.EMSP.value]
    )


@pytest.fixture
def outsider(db: None) -> Party:
    """Another eMSP that has no business with the first one's objects."""
    return Party.objects.create(
        country_code="FR", party_id="OUT", name="Outsider eMSP", roles=[Role.EMSP.value]
    )
