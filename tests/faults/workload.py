"""Commands the process fault tests run in child processes, against DATABASE_URL and the broker.

    python -m tests.faults.workload migrate
    python -m tests.faults.workload seed <receiver base url>
    python -m tests.faults.workload change [--rounds N] [--pause S] [--survive-database-loss]
    python -m tests.faults.workload sweep
    python -m tests.faults.workload state
    python -m tests.faults.workload settle [--timeout S]   (sweep now and then until no row waits)
    python -m tests.faults.workload worker            (a Celery worker; FAULTS_POOL, default solo)

Each prints one JSON line (its result) last. The worker's partner leases last
FAULTS_LEASE_SECONDS instead of minutes, so that a killed worker's rows come back within a test.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import timedelta
from typing import Any

import django


def main(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cpms.settings")
    django.setup()
    parser = argparse.ArgumentParser(prog="workload")
    parser.add_argument("command")
    parser.add_argument("receiver", nargs="?", default="")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--pause", type=float, default=0.0)
    parser.add_argument("--survive-database-loss", action="store_true")
    parser.add_argument("--timeout", type=float, default=90.0)
    args = parser.parse_args(argv)
    commands = {
        "migrate": lambda: _migrate(),
        "seed": lambda: _seed(args.receiver),
        "change": lambda: _change(args.rounds, args.pause, args.survive_database_loss),
        "sweep": lambda: _sweep(),
        "state": lambda: _state(),
        "settle": lambda: _settle(args.timeout),
        "worker": lambda: _worker(),
    }
    result = commands[args.command]()
    print(json.dumps(result, default=str), flush=True)


def _migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


class _Receiver:
    """Stands for the receiver peer in ``connect``: only its URLs are needed."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def url(self, version: str, module: str) -> str:
        return f"{self.base_url}/{version}/{module}"


def _emsp() -> Any:
    from roaming.choices import Role
    from roaming.models import Party

    party, _ = Party.objects.get_or_create(
        country_code="DE", party_id="EMS", defaults={"name": "eMSP", "roles": [Role.EMSP.value]}
    )
    return party


def _seed(receiver: str) -> int:
    from roaming.services import parties_sync_ours
    from tests.faults.network import Network
    from tests.roaming.push.conftest import connect

    parties_sync_ours()
    emsp = _emsp()
    partner = connect(_Receiver(receiver), parties=[emsp])  # type: ignore[arg-type]
    Network.build(emsp)
    return int(partner.pk)


def _change(rounds: int, pause: float, survive_database_loss: bool) -> dict[str, int]:
    """Rounds of changes; with ``survive_database_loss`` a round the database broke off is done
    again once it answers (as a request would be by its client), and the losses are counted."""
    from django.db import DatabaseError, close_old_connections, connection

    from tests.faults.network import Network

    done = interrupted = 0
    while done < rounds:
        try:
            Network.load(_emsp()).change()
            done += 1
        except DatabaseError:
            if not survive_database_loss:
                raise
            interrupted += 1
            connection.close()
            time.sleep(0.5)
            close_old_connections()
        time.sleep(pause)
    return {"done": done, "interrupted": interrupted}


def _sweep() -> dict[str, object]:
    from roaming.push.sweeper import outbox_sweep

    return outbox_sweep().as_dict()


def _state() -> dict[str, Any]:
    from roaming.models import OutboxRow, Partner
    from tests.faults.sync import partner_should_hold

    partner = Partner.objects.get()
    rows = list(
        OutboxRow.objects.filter(partner=partner)
        .order_by("pk")
        .values("pk", "kind", "object_key", "state", "attempts", "outcome_unknown", "last_error")
    )
    return {"rows": rows, **partner_should_hold(partner)}


def _settle(timeout: float) -> dict[str, Any]:
    """Sweep every second (beat does every 30 s) until no row waits; the state then, with
    ``settled`` false if time ran out first."""
    from django.db import DatabaseError, close_old_connections

    from roaming.models import OUTBOX_WAITING_STATES, OutboxRow, OutboxState
    from roaming.push.sweeper import outbox_sweep

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            unfinished = [*OUTBOX_WAITING_STATES, OutboxState.IN_FLIGHT]
            if not OutboxRow.objects.filter(state__in=unfinished).exists():
                return {**_state(), "settled": True}
            outbox_sweep()
        except DatabaseError:
            close_old_connections()
        time.sleep(1)
    return {**_state(), "settled": False}


def _worker() -> None:
    from cpms.celery import app
    from roaming.push import delivery

    delivery.LEASE = timedelta(seconds=float(os.environ.get("FAULTS_LEASE_SECONDS", "8")))
    app.worker_main(
        [
            "worker",
            f"--pool={os.environ.get('FAULTS_POOL', 'solo')}",
            "--concurrency=1",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
    )


if __name__ == "__main__":
    main(sys.argv[1:])
