"""`manage.py simulate_chargers [--locations ...] [--rate ...] [--speedup ...]`."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from sessions_app.management.commands.simulate_chargers import simulated_evses
from sessions_app.models import Session
from tests.locations.factories import ConnectorFactory
from tests.sessions_app.conftest import Recorded
from tests.sessions_app.factories import TokenFactory

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("simulate_chargers", *args, stdout=out)
    return out.getvalue()


def test_drivers_arrive_at_the_rate_asked_at_the_named_location(recorded: Recorded) -> None:
    connector = ConnectorFactory.create()
    ConnectorFactory.create()  # another location, not named
    TokenFactory.create()
    out = run(
        "--locations",
        connector.evse.location.ocpi_id.lower(),
        "--rate=60",  # one a simulated minute: the first comes in the first step
        "--speedup=100000",
        "--step=60",
        "--duration=300",
        "--seed=3",
    )
    assert "Simulating 1 chargers at 100000x, 60 arrivals per simulated hour" in out
    assert [s.evse_id for s in Session.objects.all()] == [connector.evse_id]


def test_rate_zero_starts_nothing_on_its_own(recorded: Recorded) -> None:
    ConnectorFactory.create()
    TokenFactory.create()
    run("--rate=0", "--speedup=100000", "--step=60", "--duration=600")
    assert not Session.objects.exists()


def test_locations_takes_several_ids(db) -> None:
    first, second, _third = (ConnectorFactory.create() for _ in range(3))
    evses = simulated_evses([first.evse.location.ocpi_id, second.evse.location.ocpi_id])
    assert {e.pk for e in evses} == {first.evse_id, second.evse_id}


def test_by_default_every_published_location_of_ours_is_simulated(db) -> None:
    published = ConnectorFactory.create()
    ConnectorFactory.create(evse__location__publish=False)
    assert [e.pk for e in simulated_evses([])] == [published.evse_id]


def test_an_unknown_location_is_named_in_the_error(db) -> None:
    ConnectorFactory.create()
    with pytest.raises(CommandError, match="NOWHERE"):
        run("--locations", "NOWHERE", "--duration=1")


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("--speedup=0", "--speedup"),
        ("--rate=-1", "--rate"),
        ("--faults=2", "--faults"),
    ],
)
def test_impossible_options_are_refused(db, option: str, message: str) -> None:
    with pytest.raises(CommandError, match=message):
        run(option, "--duration=1")


def test_nothing_to_simulate_is_an_error(db) -> None:
    with pytest.raises(CommandError, match="No EVSE"):
        run("--duration=1")
