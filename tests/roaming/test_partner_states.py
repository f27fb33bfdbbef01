"""Suspending and reactivating a connection (services staff actions will call)."""

from __future__ import annotations

import pytest

from roaming.credentials.services import (
    RegistrationStateError,
    partner_reactivate,
    partner_suspend,
)
from roaming.models import PartnerState

pytestmark = pytest.mark.django_db


def test_a_registered_connection_can_be_suspended_and_reactivated(registered) -> None:
    partner, _ = registered
    partner_suspend(partner=partner)
    assert partner.state == PartnerState.SUSPENDED
    assert partner.has_registration
    partner_reactivate(partner=partner)
    assert partner.state == PartnerState.REGISTERED


def test_an_invited_connection_cannot_be_suspended(invited) -> None:
    partner, _ = invited
    with pytest.raises(RegistrationStateError):
        partner_suspend(partner=partner)


def test_only_a_suspended_connection_can_be_reactivated(registered) -> None:
    partner, _ = registered
    with pytest.raises(RegistrationStateError):
        partner_reactivate(partner=partner)
