"""Rendering locations ahead of partners' pulls: a worker keeps the cached texts current."""

from __future__ import annotations

from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client

from locations.choices import Status
from locations.models import EVSE
from roaming.choices import OcpiVersion
from roaming.models import Partner, PartnerState
from roaming.modules.locations import views
from roaming.modules.locations.cache import LOCATION_TEXTS
from roaming.modules.locations.warming import (
    _LOCK_KEY,
    versions_in_use,
    warm_rendered_locations,
)
from roaming.tasks import warm_locations
from roaming.transport.rendered import Rendered, stamp
from tests.roaming.conftest import make_partner
from tests.roaming.modules.conftest import data, ocpi_get
from tests.roaming.modules.test_locations_sender import site, url

pytestmark = pytest.mark.django_db

V221 = [OcpiVersion.V2_2_1]


def _render_nothing(*args: object, **kwargs: object) -> list[Rendered]:
    raise AssertionError("the page rendered a location the worker had rendered")


def test_a_pull_after_warming_renders_nothing(
    client: Client, emsp_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    site("LOC1", evses=2, connectors=2)
    site("LOC2")
    warm_rendered_locations(versions=V221)
    monkeypatch.setattr(views, "locations_render", _render_nothing)

    listed = data(ocpi_get(client, emsp_token, url("2.2.1")))

    assert [item["id"] for item in listed] == ["LOC1", "LOC2"]
    assert len(listed[0]["evses"]) == 2


def test_a_warmed_text_is_the_one_the_endpoint_renders(client: Client, emsp_token: str) -> None:
    site("LOC1", name="Gare du Nord \u2028 quai", evses=2, connectors=2)
    rendered_by_the_endpoint = ocpi_get(client, emsp_token, url("2.2.1")).json()["data"]
    cache.clear()
    warm_rendered_locations(versions=V221)

    assert ocpi_get(client, emsp_token, url("2.2.1")).json()["data"] == rendered_by_the_endpoint


def test_the_first_run_renders_every_location_and_the_next_only_the_changed_ones() -> None:
    location = site("LOC1")
    site("LOC2")
    site("LOC3")
    [first] = warm_rendered_locations(versions=V221)
    evse = EVSE.objects.filter(location=location).first()
    assert evse is not None
    evse.status = Status.CHARGING
    evse.save()

    [second] = warm_rendered_locations(versions=V221)

    assert (first.full, first.checked, first.rendered) == (True, 3, 3)
    assert (second.full, second.rendered) == (False, 1)


def test_a_stale_text_is_rendered_again_and_served_fresh(client: Client, emsp_token: str) -> None:
    location = site("LOC1")
    warm_rendered_locations(versions=V221)
    EVSE.objects.filter(location=location).update(status=Status.OUTOFORDER)
    location.save()  # what every change of an EVSE does: the location's stamp moves

    warm_rendered_locations(versions=V221)

    listed = data(ocpi_get(client, emsp_token, url("2.2.1")))
    assert listed[0]["evses"][0]["status"] == "OUTOFORDER"


def test_a_location_keeps_one_entry_per_version_whatever_its_changes() -> None:
    before = stamp(7, datetime(2026, 1, 1, tzinfo=UTC), "NL", "CPO")
    after = stamp(7, datetime(2026, 1, 2, tzinfo=UTC), "NL", "NEW")

    assert LOCATION_TEXTS.key("2.2.1", before.pk) == LOCATION_TEXTS.key("2.2.1", after.pk)
    assert LOCATION_TEXTS.key("2.2.1", before.pk) != LOCATION_TEXTS.key("2.1.1", before.pk)
    assert before.tag != after.tag


def test_only_the_versions_of_registered_connections_are_rendered(emsp_token: str) -> None:
    make_partner(version=OcpiVersion.V2_1_1, name="Legacy eMSP")
    make_partner(version=OcpiVersion.V2_3_0, name="Leaving", state=PartnerState.SUSPENDED)

    assert versions_in_use() == [OcpiVersion.V2_1_1, OcpiVersion.V2_2_1]


def test_a_second_run_while_one_is_under_way_does_nothing() -> None:
    site("LOC1")
    cache.add(_LOCK_KEY, 1)

    assert warm_rendered_locations(versions=V221) == []


def test_the_scheduled_task_leaves_a_per_process_cache_alone(emsp_token: str) -> None:
    site("LOC1")  # the tests' cache is local memory, which no web process would read

    assert warm_locations() == []


def test_the_command_renders_every_location_for_the_versions_in_use(emsp_token: str) -> None:
    site("LOC1")
    site("LOC2")
    out = StringIO()

    call_command("render_locations", stdout=out)

    assert "OCPI 2.2.1: 2 locations, 2 rendered" in out.getvalue()
    assert Partner.objects.registered().count() == 1
