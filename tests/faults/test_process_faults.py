"""Real processes failing: a Celery worker killed mid-delivery, the broker lost and restarted,
PostgreSQL restarted under load. Nothing is lost, no CDR reaches the partner twice, no row is stuck.

Everything runs in processes of its own against private servers (a PostgreSQL cluster and a
redis-server started for these tests on free ports): the workload and the worker are children
running ``tests.faults.workload``; the receiver is this process's loopback partner. The workers'
leases last seconds rather than minutes (FAULTS_LEASE_SECONDS), so a dead worker's rows come back
within the test; the sweeper runs when the test says so, as beat would every 30 s.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.faults.partner import FaultyReceiver
from tests.faults.servers import (
    PYTHON,
    PrivatePostgres,
    PrivateRedis,
    Process,
    postgres_bin,
    run_workload,
    wait_until,
)
from tests.faults.sync import as_json, assert_holds

pytestmark = pytest.mark.slow

LEASE_SECONDS = 6
WAITING = {"PENDING", "RETRYING", "IN_FLIGHT"}


@pytest.fixture(scope="module")
def cluster() -> Iterator[PrivatePostgres]:
    """A private PostgreSQL cluster with a migrated template database."""
    reason = PrivatePostgres.usable()
    bin_dir = postgres_bin()
    if reason or bin_dir is None:
        pytest.skip(reason)
    server = PrivatePostgres(bin_dir)
    try:
        server.init()
        server.start()
        server.psql("CREATE DATABASE faults_template")
        env = {**os.environ, "DATABASE_URL": server.url("faults_template")}
        run_workload(env, "migrate", timeout=600)
        yield server
    finally:
        server.destroy()


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()


class Stack:
    """A database of its own on the private cluster, the private broker, and worker processes."""

    def __init__(self, cluster: PrivatePostgres, redis: PrivateRedis, logs: Path) -> None:
        self.cluster = cluster
        self.redis = redis
        self.logs = logs
        self.database = f"faults_{uuid.uuid4().hex[:12]}"
        cluster.psql(f"CREATE DATABASE {self.database} TEMPLATE faults_template")
        self.env = {
            **os.environ,
            "DATABASE_URL": cluster.url(self.database),
            "CELERY_BROKER_URL": redis.url,
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "FAULTS_LEASE_SECONDS": str(LEASE_SECONDS),
            "OCPI_CLIENT_READ_TIMEOUT": "5",
            "OCPI_PUSH_RETRY_BASE_SECONDS": "1",
            "OCPI_PUSH_RETRY_MAX_SECONDS": "2",
        }
        self.processes: list[Process] = []

    def run(self, *args: str) -> Any:
        return run_workload(self.env, *args)

    def start(self, *args: str, pool: str = "solo") -> Process:
        name = f"{args[0]}-{len(self.processes)}.log"
        process = Process(
            [PYTHON, "-m", "tests.faults.workload", *args],
            env={**self.env, "FAULTS_POOL": pool},
            log=self.logs / name,
        )
        self.processes.append(process)
        return process

    def state(self) -> dict[str, Any]:
        return dict(self.run("state"))

    def wait_until_settled(self, *, timeout: float = 90) -> dict[str, Any]:
        """Sweep now and then (as beat does) until no row waits; the final state."""
        state = dict(
            run_workload(self.env, "settle", "--timeout", str(timeout), timeout=timeout + 60)
        )
        waiting = [row for row in state["rows"] if row["state"] in WAITING]
        assert state["settled"], f"rows still waiting: {waiting}\n{self.worker_logs()}"
        return state

    def worker_logs(self) -> str:
        return "\n".join(p.output()[-3000:] for p in self.processes)

    def close(self) -> None:
        for process in self.processes:
            process.kill()


@pytest.fixture
def stack(cluster: PrivatePostgres, redis: PrivateRedis, tmp_path: Path) -> Iterator[Stack]:
    running = Stack(cluster, redis, tmp_path)
    try:
        yield running
    finally:
        running.close()


def assert_settled_in_sync(peer: FaultyReceiver, state: dict[str, Any], stack: Stack) -> None:
    """Nothing stuck or dead, the partner holds our latest state and each CDR once, and no task
    ended in an exception (a retry after a lost database is no failure)."""
    for process in stack.processes:
        log = process.output()
        assert "raised unexpected" not in log, log[-5000:]
        if "WorkerLostError" not in log:  # how a prefork pool reports its killed child
            assert "Traceback" not in log, log[-5000:]
    assert [row for row in state["rows"] if row["state"] in WAITING | {"DEAD"}] == []
    assert_holds(peer, as_json(state))
    for cdr_id in state["cdrs"]:
        assert len([key for key in peer.cdrs if key[2] == cdr_id]) == 1


def cdr_row(state: dict[str, Any], cdr_id: str) -> dict[str, Any]:
    return next(row for row in state["rows"] if row["object_key"].endswith(f"/{cdr_id}"))


def pool_children(process: Process) -> list[int]:
    found = subprocess.run(
        ["pgrep", "-P", str(process.popen.pid)], capture_output=True, text=True, check=False
    )
    return [int(pid) for pid in found.stdout.split()]


@pytest.mark.parametrize(
    "pool", ["solo", "prefork"], ids=["the whole worker", "the prefork pool's child"]
)
def test_a_worker_killed_while_posting_a_cdr_leaves_one_cdr_at_the_partner(
    peer, stack, pool
) -> None:
    peer.acknowledge_repeated_cdrs()
    peer.hold_cdr_posts()
    stack.run("seed", peer.base_url)  # queues a delivery task
    worker = stack.start("worker", pool=pool)

    assert peer.cdr_post_arrived.wait(timeout=60), stack.worker_logs()
    # SIGKILL, while the partner holds the CDR and we wait for its answer.
    if pool == "solo":
        worker.kill()
    else:
        [child] = pool_children(worker)
        os.kill(child, signal.SIGKILL)  # the main process lives on and forks a new child
    peer.release_cdr_posts()

    row = cdr_row(stack.state(), "CDR1")
    assert (row["state"], row["outcome_unknown"], row["attempts"]) == ("IN_FLIGHT", True, 1)
    if pool == "solo":
        stack.start("worker")
    time.sleep(LEASE_SECONDS + 1)  # the dead worker's lease runs out
    state = stack.wait_until_settled()

    assert len(peer.cdr_posts("CDR1")) == 2  # the same CDR again, after the lost answer
    row = cdr_row(state, "CDR1")
    assert (row["state"], row["outcome_unknown"], row["attempts"]) == ("DELIVERED", False, 2)
    assert_settled_in_sync(peer, state, stack)


def test_deliveries_lost_with_the_broker_are_made_once_it_is_back(peer, stack) -> None:
    stack.run("seed", peer.base_url)  # its delivery task waits in the broker: no worker yet
    stack.redis.kill()  # and is lost with it
    stack.redis.start()
    stack.start("worker")
    stack.run("change", "--rounds", "1")
    assert_settled_in_sync(peer, stack.wait_until_settled(), stack)

    stack.redis.kill()  # the worker loses its broker; changes go on meanwhile
    stack.run("change", "--rounds", "2")
    stack.run("sweep")  # cannot queue anything either
    stack.redis.start()
    state = stack.wait_until_settled()

    assert_settled_in_sync(peer, state, stack)
    assert len(peer.cdrs) == 4
    assert all(process.alive for process in stack.processes)


def test_a_database_restart_under_load_loses_nothing(peer, stack) -> None:
    peer.acknowledge_repeated_cdrs()
    stack.run("seed", peer.base_url)
    worker = stack.start("worker")
    load = stack.start("change", "--rounds", "12", "--pause", "0.3", "--survive-database-loss")
    wait_until(lambda: len(peer.cdrs) >= 3, timeout=60, what="deliveries under load")

    assert load.alive
    stack.cluster.restart()  # every connection is cut, as in a crash or failover

    wait_until(lambda: not load.alive, timeout=120, what="the load to finish")
    assert load.popen.returncode == 0, load.output()
    assert json.loads(load.output().strip().splitlines()[-1])["done"] == 12
    state = stack.wait_until_settled(timeout=120)

    assert worker.alive, worker.output()[-3000:]
    assert_settled_in_sync(peer, state, stack)
    assert len(peer.cdrs) == 13
