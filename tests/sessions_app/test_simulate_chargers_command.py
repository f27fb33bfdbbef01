"""`manage.py simulate_chargers`: runs the simulator over our EVSEs for a while."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from sessions_app.models import Session
from tests.locations.factories import ConnectorFactory
from tests.sessions_app.conftest import Recorded
from tests.sessions_app.factories import TokenFactory

pytestmark = pytest.mark.django_db


def test_drivers_arriving_start_sessions_at_the_simulated_location(recorded: Recorded) -> None:
    connector = ConnectorFactory.create()
    ConnectorFactory.create()  # another location, not simulated
    TokenFactory.create()
    out = StringIO()
    call_command(
        "simulate_chargers",
        "--location",
        connector.evse.location.ocpi_id.lower(),
        "--speed=100000",
        "--step=60",
        "--duration=300",
        "--arrivals=1",
        "--seed=3",
        stdout=out,
    )
    assert "Simulating 1 chargers" in out.getvalue()
    assert [s.evse_id for s in Session.objects.all()] == [connector.evse_id]


def test_a_chance_above_one_is_refused(db) -> None:
    with pytest.raises(CommandError, match="--faults"):
        call_command("simulate_chargers", "--faults=2", "--duration=1")


def test_nothing_to_simulate_is_an_error(db) -> None:
    with pytest.raises(CommandError, match="No EVSE"):
        call_command("simulate_chargers", "--location=NOWHERE", "--duration=1")
