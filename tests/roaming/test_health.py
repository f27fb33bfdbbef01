"""Partner health: figures per partner, trouble first, and the admin dashboard."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from roaming.health import Severity, partner_health
from roaming.models import PullRun, PullState, PushStats
from roaming.push.services import push_tariff_changed
from roaming.push.stats import BUCKETS, histogram_of, hour_of, percentile
from tests.billing.factories import PriceComponentFactory
from tests.roaming.push.conftest import connect, deliver
from tests.roaming.push.receiver import Answer, ReceiverPeer

DASHBOARD = reverse("admin:roaming_partnerhealth_changelist")


@pytest.fixture
def peers() -> Iterator[tuple[ReceiverPeer, ReceiverPeer]]:
    with ReceiverPeer() as healthy, ReceiverPeer() as failing:
        yield healthy, failing


@pytest.fixture
def receiver(peers, emsp):
    return connect(peers[0], parties=[emsp])


@pytest.fixture
def two_partners(peers, emsp, outsider):
    """'Alpha' delivers fine; 'Beta' refused one change and is down for the next."""
    healthy_peer, failing_peer = peers
    alpha = connect(healthy_peer, parties=[emsp], name="Alpha")
    beta = connect(failing_peer, parties=[outsider], name="Beta")
    for ocpi_id in ("T1", "T2"):
        tariff = PriceComponentFactory.create(element__tariff__ocpi_id=ocpi_id).element.tariff
        with transaction.atomic():
            push_tariff_changed(tariff=tariff)
    deliver(alpha)
    failing_peer.answer_next(Answer(400, 2001, "Tariff T1 refused"))
    failing_peer.fail_next(1, http_status=503)
    deliver(beta)
    return alpha, beta


def test_partners_in_trouble_come_first_with_their_reasons(two_partners) -> None:
    alpha, beta = two_partners

    rows = partner_health()

    assert [row.partner for row in rows] == [beta, alpha]
    trouble, fine = rows
    assert trouble.severity == Severity.TROUBLE
    assert any("given up" in reason for reason in trouble.reasons)
    assert any("Failing" in reason for reason in trouble.reasons)
    assert trouble.depth == {"DEAD": 1, "RETRYING": 1}
    assert "Tariff T1 refused" in trouble.errors[-1].partner_answer
    assert fine.severity == Severity.OK
    assert fine.day.delivered == 2
    assert fine.day.success_rate == 1.0
    assert fine.day.p95 is not None


def test_success_rate_and_latency_cover_24_hours_and_7_days(receiver) -> None:
    now = timezone.now()
    PushStats.objects.create(
        partner=receiver,
        hour=hour_of(now - timedelta(days=3)),
        delivered=90,
        failed=10,
        latency_histogram=histogram_of([0.2] * 90),
    )
    PushStats.objects.create(
        partner=receiver,
        hour=hour_of(now),
        delivered=10,
        latency_histogram=histogram_of([3.0] * 10),
    )

    [row] = partner_health(now=now)

    assert (row.day.delivered, row.day.success_rate, row.day.p95) == (10, 1.0, 5)
    assert (row.week.delivered, row.week.failed) == (100, 10)
    assert row.week.p50 == 0.25
    assert len(row.day.buckets) == 24
    assert len(row.week.buckets) == 28
    assert row.severity == Severity.OK


def test_a_failed_token_pull_is_trouble(receiver) -> None:
    PullRun.objects.create(
        partner=receiver, module="tokens", state=PullState.FAILED, error="HTTP 500"
    )
    [row] = partner_health()
    assert row.severity == Severity.TROUBLE
    assert "Last token pull failed: HTTP 500" in row.reasons


def test_percentiles_are_read_from_the_histogram() -> None:
    histogram = histogram_of([0.01] * 50 + [0.7] * 45 + [40] * 5)
    assert percentile(histogram, 0.5) == BUCKETS[0]
    assert percentile(histogram, 0.95) == 1
    assert percentile(histogram, 0.99) == 60
    assert percentile(histogram_of([]), 0.5) is None


def test_the_dashboard_shows_charts_and_colours_partners_in_trouble(
    admin_client, two_partners
) -> None:
    response = admin_client.get(DASHBOARD)

    assert response.status_code == 200
    page = response.content.decode()
    assert page.index("Beta") < page.index("Alpha")
    assert '<tr class="trouble">' in page
    assert page.count('<svg class="health-chart"') == 4  # 24 hours and 7 days per partner
    assert "Tariff T1 refused" in page
    assert "<script" not in page.split('id="content-main"')[1]


def test_the_dashboard_is_linked_from_the_admin_index(admin_client) -> None:
    assert DASHBOARD in admin_client.get(reverse("admin:index")).content.decode()
