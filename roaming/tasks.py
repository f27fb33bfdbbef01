"""Celery tasks of roaming (found by autodiscovery): outbox delivery and sweeping, token pulls.

The push tasks live in ``roaming.push.tasks`` and are imported here so that the worker registers
them. Every task takes ids, may run twice without harm, and records its outcome on a row
(outbox rows, pull runs) that staff see in the admin.
"""

from __future__ import annotations

from typing import Any

from celery import Task, shared_task
from django.db import DatabaseError

from cpms.caching import cache_is_shared
from roaming.models import Partner, PullState
from roaming.modules.locations.warming import warm_rendered_locations
from roaming.pull.tokens import NotATokenSourceError, PullBusyError, token_sources, tokens_pull
from roaming.push.tasks import deliver_partner_outbox, purge_outbox, sweep_outbox

__all__ = [
    "deliver_partner_outbox",
    "pull_partner_tokens",
    "pull_tokens",
    "purge_outbox",
    "sweep_outbox",
    "warm_locations",
]

# A failed full pull is tried again after 5, 10 and 20 minutes; an incremental one is simply
# repeated by its schedule.
FULL_PULL_RETRY_SECONDS = 300


@shared_task(
    name="roaming.pull_tokens",
    ignore_result=True,
    soft_time_limit=60,
    time_limit=90,
    autoretry_for=(DatabaseError,),
    max_retries=2,
)
def pull_tokens(full: bool = False) -> list[int]:
    """Queue a token pull from every registered eMSP with a tokens sender (the schedules' entry)."""
    partner_ids = [partner.pk for partner in token_sources()]
    for partner_id in partner_ids:
        pull_partner_tokens.delay(partner_id, full=full, trigger="schedule")
    return partner_ids


@shared_task(
    name="roaming.pull_partner_tokens",
    bind=True,
    ignore_result=True,
    soft_time_limit=3300,
    time_limit=3600,
    max_retries=3,
)
def pull_partner_tokens(
    self: Task, partner_id: int, full: bool = False, trigger: str = ""
) -> dict[str, Any]:
    """Pull one partner's tokens; the PullRun row records progress, counters and errors."""
    partner = Partner.objects.filter(pk=partner_id).first()
    if partner is None:
        return {"skipped": f"no partner {partner_id}"}
    try:
        run = tokens_pull(partner=partner, full=full, trigger=trigger)
    except (PullBusyError, NotATokenSourceError) as reason:
        return {"skipped": str(reason)}
    if run.state == PullState.FAILED and full:
        countdown = FULL_PULL_RETRY_SECONDS * 2**self.request.retries
        raise self.retry(countdown=countdown)
    return {"run": run.pk, "state": run.state}


@shared_task(name="roaming.warm_locations", ignore_result=True, soft_time_limit=840, time_limit=900)
def warm_locations() -> list[dict[str, Any]]:
    """Render the locations changed since the last run (every one, daily), for pulls to find."""
    if not cache_is_shared():  # a per-process cache would only warm the worker's own memory
        return []
    return [vars(run) for run in warm_rendered_locations()]
