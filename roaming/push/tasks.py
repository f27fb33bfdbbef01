"""Celery tasks of the push outbox, and the nudge that queues a partner's delivery task.

Tasks take ids, are idempotent (a delivery task with nothing due does nothing; two at once for a
partner cannot both send, see ``roaming.push.delivery``) and keep their failures on the outbox
rows rather than in Celery.

A nudge queues a task only when none is needed already: the channel's ``nudge_pending`` flag is
set when a task is queued and cleared only by the worker that releases the partner's lease, which
then looks for rows committed meanwhile before it stops. So while a worker drains a busy partner,
new changes queue nothing (it will find them), and the change after it stops queues the next
task. A task lost with the broker leaves the flag set: the sweeper queues the partner's delivery
whatever the flag says.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from celery import shared_task
from django.db import DatabaseError
from django.utils import timezone

from roaming.models import PushChannel
from roaming.push.delivery import TASK_SOFT_TIME_LIMIT, TASK_TIME_LIMIT, deliver_partner
from roaming.push.sweeper import outbox_purge, outbox_sweep

logger = logging.getLogger(__name__)


@shared_task(
    name="roaming.deliver_partner_outbox",
    ignore_result=True,
    soft_time_limit=TASK_SOFT_TIME_LIMIT,
    time_limit=TASK_TIME_LIMIT,
    autoretry_for=(DatabaseError,),
    max_retries=3,
    retry_backoff=True,
)
def deliver_partner_outbox(partner_id: int) -> dict[str, Any]:
    """Deliver what is due for one partner; queue another run if time ran out first."""
    report = deliver_partner(partner_id=partner_id)
    if report.more:
        nudge_partners([partner_id])
    return report.as_dict()


@shared_task(
    name="roaming.sweep_outbox",
    ignore_result=True,
    soft_time_limit=25,
    time_limit=30,
    autoretry_for=(DatabaseError,),
    max_retries=2,
)
def sweep_outbox() -> dict[str, object]:
    """Re-nudge due rows, take back rows of dead workers, give up rows past the horizon."""
    return outbox_sweep().as_dict()


@shared_task(
    name="roaming.purge_outbox",
    ignore_result=True,
    soft_time_limit=1800,
    time_limit=1900,
    autoretry_for=(DatabaseError,),
    max_retries=2,
)
def purge_outbox() -> int:
    """Delete finished outbox rows past OCPI_PUSH_KEEP_DAYS (CDR and dead rows are kept)."""
    return outbox_purge()


def publish_delivery(partner_id: int) -> bool:
    """Queue the partner's delivery task; a broker failure is logged (the sweeper recovers)."""
    try:
        deliver_partner_outbox.delay(partner_id)
    except Exception:
        logger.exception("Could not queue the outbox delivery of partner %s", partner_id)
        PushChannel.objects.filter(partner_id=partner_id).update(nudge_pending=False)
        return False
    return True


def nudge_partners(partner_ids: Iterable[int]) -> list[int]:
    """Queue a delivery task for each partner that has none waiting and is not in backoff.

    Runs after the commit of the change (``transaction.on_commit``); returns the partners nudged.
    """
    ids = sorted(set(partner_ids))
    if not ids:
        return []
    now = timezone.now()
    channels = {
        partner_id: (pending, retry_at)
        for partner_id, pending, retry_at in PushChannel.objects.filter(
            partner_id__in=ids
        ).values_list("partner_id", "nudge_pending", "retry_at")
    }
    missing = [pk for pk in ids if pk not in channels]
    if missing:
        PushChannel.objects.bulk_create(
            [PushChannel(partner_id=pk) for pk in missing], ignore_conflicts=True
        )
    idle = [pk for pk in ids if pk in missing or _idle(*channels[pk], now=now)]
    if not idle:
        return []
    PushChannel.objects.filter(partner_id__in=idle).update(nudge_pending=True, nudged_at=now)
    return [pk for pk in idle if publish_delivery(pk)]


def _idle(pending: bool, retry_at: datetime | None, *, now: datetime) -> bool:
    """No task queued and the partner not in backoff."""
    return not pending and (retry_at is None or retry_at <= now)
