"""Soak: simulated chargers and partner traffic for a long time; memory, errors and the outbox.

    .venv/bin/python bench/soak.py             # 30 minutes
    .venv/bin/python bench/soak.py --quick     # 4 minutes, to try it
    make soak                                  # the same as the first line

What it does, against the Postgres database named by DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/cpms_bench_soak, created and migrated if missing; only a
database whose name contains "bench" is used, never `test`) and the Redis database --redis
(default redis://127.0.0.1:6379/7: Celery broker and cache, emptied first, so it must be used by
nothing else):

1. drops and regenerates the database with a small network (`manage.py generate_network
   --locations 100 --evses-per-location 3 --tokens 3000 --cdrs 2000 --seed 1`: 300 EVSEs; three
   partner eMSPs; about a minute), so that every soak starts from the same state;
2. starts a loopback receiver (a separate process answering OCPI 1000, 201 to CDR POSTs) and
   registers one OCPI 2.2.1 connection per eMSP with receiver endpoints there for locations,
   tariffs, sessions and CDRs, so that every push really travels over HTTP;
3. starts gunicorn (2 sync workers), a Celery worker (prefork, 2 processes) and Celery beat (the
   database schedule: outbox sweeper, charging sweeper, token pulls), each logging to a file;
4. starts `manage.py simulate_chargers` for every EVSE, faster than real time, with drivers
   arriving with RFID cards, and a few faults and outages: sessions start, meter, stop and end in
   CDRs; EVSE status changes, session updates and CDRs are pushed to the eMSPs;
5. runs the partner traffic of `bench/mixed_traffic.py` (the same mix: pulls, token PUT/PATCH,
   START/STOP commands whose results go back to the receiver) at --rate requests/s;
6. every --sample seconds records the resident memory (RSS) of every process (gunicorn master and
   workers, Celery worker and its children, beat, simulator, receiver, traffic clients) and the
   outbox depth;
7. after --duration stops the traffic and the simulator, waits (up to --drain-timeout) until no
   outbox row is open, stops everything, and reports: requests and their errors, sessions and CDRs
   made, deliveries (rows delivered, requests at the receiver), dead rows, outbox depth at the end,
   ERROR lines and tracebacks in the logs, and per process group the RSS after the warm-up
   (--warm-up), at mid-run and at the end, the growth and the least-squares slope (MB per hour).
   Memory counts as flat when every group grew by less than --flat-bound (10 %) after the warm-up.

Everything shares this machine's CPUs; the soak measures stability, not speed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

import mixed_traffic as mt

ROOT = mt.ROOT
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/cpms_bench_soak"
NETWORK = {"locations": 100, "evses_per_location": 3, "tokens": 3_000, "cdrs": 2_000}
RECEIVER_MODULES = ("locations", "tariffs", "sessions", "cdrs")
FULL_SECONDS = 1800.0
QUICK_SECONDS = 240.0
_ERROR_LINE = re.compile(r"\bERROR\b|\bCRITICAL\b|Traceback \(most recent call last\)")
_OPEN_STATES = "('PENDING', 'IN_FLIGHT', 'RETRYING')"


# --- processes ----------------------------------------------------------------------------------------


def start_logged(
    name: str, command: list[str], env: dict[str, str], logs: Path
) -> subprocess.Popen[bytes]:
    log = (logs / f"{name}.log").open("ab")
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def celery_command(*args: str) -> list[str]:
    return [str(ROOT / ".venv" / "bin" / "celery"), "-A", "cpms", *args]


def simulator_command(speedup: float, step: float, arrivals: float, faults: float) -> list[str]:
    """`manage.py simulate_chargers` for every published location of ours."""
    return [
        str(mt.PYTHON),
        "manage.py",
        "simulate_chargers",
        *("--seed", "1"),
        *("--speedup", f"{speedup:g}"),
        *("--step", f"{step:g}"),
        *("--rate", f"{arrivals:g}"),
        *("--faults", f"{faults:g}"),
        *("--offline", f"{faults:g}"),
    ]


# --- memory -----------------------------------------------------------------------------------------


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


@dataclass
class MemorySeries:
    """RSS samples of one process group: (seconds since start, MB of every process summed)."""

    samples: list[tuple[float, float]] = field(default_factory=list)
    processes: int = 0

    def after(self, warm_up: float) -> list[tuple[float, float]]:
        kept = [sample for sample in self.samples if sample[0] >= warm_up]
        return kept or self.samples[-1:]

    def summary(self, warm_up: float) -> dict[str, Any]:
        kept = self.after(warm_up)
        if not kept:
            return {}
        first, middle, last = kept[0][1], kept[len(kept) // 2][1], kept[-1][1]
        return {
            "processes": self.processes,
            "start_mb": round(self.samples[0][1], 1),
            "after_warm_up_mb": round(first, 1),
            "mid_mb": round(middle, 1),
            "end_mb": round(last, 1),
            "peak_mb": round(max(mb for _, mb in kept), 1),
            "growth_percent": round(100 * (last - first) / first, 1) if first else 0.0,
            "slope_mb_per_hour": round(_slope(kept) * 3600, 1),
        }


def _slope(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope, MB per second."""
    if len(samples) < 2:
        return 0.0
    n = len(samples)
    mean_t = sum(t for t, _ in samples) / n
    mean_m = sum(m for _, m in samples) / n
    spread = sum((t - mean_t) ** 2 for t, _ in samples)
    if not spread:
        return 0.0
    return sum((t - mean_t) * (m - mean_m) for t, m in samples) / spread


def sample_memory(groups: dict[str, int], series: dict[str, MemorySeries], elapsed: float) -> None:
    for name, root in groups.items():
        pids = mt.process_tree(root)
        item = series.setdefault(name, MemorySeries())
        item.processes = len(pids)
        item.samples.append((elapsed, sum(rss_mb(pid) for pid in pids)))


# --- the database -------------------------------------------------------------------------------------


def scalar(url: str, sql: str) -> int:
    with psycopg.connect(mt.pg_url(url)) as conn:
        row = conn.execute(sql).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def outbox_open(url: str) -> int:
    return scalar(url, f"SELECT count(*) FROM roaming_outboxrow WHERE state IN {_OPEN_STATES}")


def outbox_states(url: str) -> dict[str, int]:
    with psycopg.connect(mt.pg_url(url)) as conn:
        rows = conn.execute(
            "SELECT state, count(*) FROM roaming_outboxrow GROUP BY state"
        ).fetchall()
    return {state: int(count) for state, count in rows}


def counts(url: str) -> dict[str, int]:
    return {
        "sessions": scalar(url, "SELECT count(*) FROM sessions_app_session"),
        "cdrs": scalar(url, "SELECT count(*) FROM billing_cdr"),
        "commands": scalar(url, "SELECT count(*) FROM sessions_app_command"),
        "exchange_failures": scalar(
            url,
            "SELECT count(*) FROM roaming_exchangelog WHERE NOT (http_status BETWEEN 200 AND 299)",
        ),
    }


def outbox_reset(url: str) -> None:
    """Start from an empty outbox and no open sessions, so that the figures are this run's."""
    with psycopg.connect(mt.pg_url(url), autocommit=True) as conn:
        conn.execute(
            "TRUNCATE roaming_outboxrow, roaming_pushstats, roaming_exchangelog, "
            "roaming_deliveredobject, roaming_pushchannel"
        )


def wait_drained(url: str, timeout: float) -> float | None:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if outbox_open(url) == 0:
            return time.monotonic() - started
        time.sleep(2)
    return None


def log_errors(logs: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for log in sorted(logs.glob("*.log")):
        lines = [
            line
            for line in log.read_text(errors="replace").splitlines()
            if _ERROR_LINE.search(line)
        ]
        if lines:
            found[log.stem] = lines
    return found


# --- the run ------------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    seconds = args.duration or (QUICK_SECONDS if args.quick else FULL_SECONDS)
    warm_up = args.warm_up if args.warm_up is not None else min(300.0, seconds / 6)
    port = mt.free_port()
    env = mt.server_env(url, args.redis, port)
    env["LOG_LEVEL"] = "WARNING"
    # Sessions left charging by an earlier run would occupy the chargers: start afresh.
    mt.network_ensure(url, env, NETWORK, regenerate=True)
    mt.redis_empty(args.redis)
    outbox_reset(url)
    logs = Path(args.logs or f"/tmp/soak-{datetime.now(UTC):%Y%m%dT%H%M%S}")
    logs.mkdir(parents=True, exist_ok=True)
    receiver = mt.Receiver()
    mt.django_setup(env)
    plans = mt.partners_prepare(receiver.base, modules=RECEIVER_MODULES)
    from django.db import connections

    connections.close_all()
    before = counts(url)
    processes: dict[str, subprocess.Popen[Any]] = {}
    series: dict[str, MemorySeries] = {}
    depth: list[tuple[float, int]] = []
    clients: list[subprocess.Popen[str]] = []
    try:
        processes["gunicorn"] = mt.server_start(env, port, 2, log=logs / "gunicorn.log")
        processes["celery-worker"] = start_logged(
            "celery-worker",
            celery_command(
                "worker",
                "--concurrency",
                "2",
                "--loglevel",
                "WARNING",
                "--hostname",
                f"soak-{os.getpid()}@%h",
            ),
            env,
            logs,
        )
        processes["celery-beat"] = start_logged(
            "celery-beat",
            celery_command(
                "beat", "--loglevel", "WARNING", "--schedule", str(logs / "beat-schedule")
            ),
            env,
            logs,
        )
        processes["simulator"] = start_logged(
            "simulator",
            simulator_command(args.speedup, args.step, args.arrivals, args.faults),
            env,
            logs,
        )
        clients = mt.clients_start(
            count=1,
            port=port,
            plans=plans,
            response_url=receiver.base,
            rate=args.rate,
            seconds=seconds,
            warm_up=0.0,
            max_in_flight=100,
            workdir=logs,
        )
        groups = {name: process.pid for name, process in processes.items()}
        groups["receiver"] = receiver.process.pid
        groups["traffic-client"] = clients[0].pid
        started = time.monotonic()
        server_cpu_before = mt.tree_cpu_seconds(processes["gunicorn"].pid)
        while (elapsed := time.monotonic() - started) < seconds:
            sample_memory(groups, series, elapsed)
            depth.append((elapsed, outbox_open(url)))
            for name, process in processes.items():
                if process.poll() is not None:
                    raise SystemExit(f"{name} exited early (code {process.returncode}); see {logs}")
            time.sleep(min(args.sample, max(0.5, seconds - elapsed)))
        sample_memory(groups, series, time.monotonic() - started)
        server_cpu = mt.tree_cpu_seconds(processes["gunicorn"].pid) - server_cpu_before
        collected = mt.clients_collect(clients)
        mt.stop_group(processes.pop("simulator"))
        depth_at_stop = outbox_open(url)
        drained_after = wait_drained(url, args.drain_timeout)
        after = counts(url)
        received = receiver.counts()
    finally:
        for process in clients:
            if process.poll() is None:
                process.kill()
        for process in processes.values():
            mt.stop_group(process)
        receiver.stop()
        mt.redis_empty(args.redis)
    traffic = mt.summarize(collected["kinds"], seconds)
    errors_in_logs = log_errors(logs)
    states = outbox_states(url)
    memory = {name: item.summary(warm_up) for name, item in series.items()}
    flat = all(abs(item.get("growth_percent", 0.0)) < args.flat_bound for item in memory.values())
    deliveries_received = sum(count for key, count in received.items() if " GET " not in key)
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": mt.machine(url),
        "seconds": seconds,
        "warm_up_seconds": warm_up,
        "network": NETWORK,
        "traffic": {
            "offered_rate": args.rate,
            **traffic["overall"],
            "kinds": traffic["kinds"],
            "server_cpu_seconds": round(server_cpu, 1),
            "client_cpu_seconds": round(collected["cpu_seconds"], 1),
        },
        "made": {key: after[key] - before[key] for key in ("sessions", "cdrs", "commands")},
        "outbox": {
            "states": states,
            "open_at_stop": depth_at_stop,
            "open_at_end": outbox_open(url),
            "drained_after_seconds": None if drained_after is None else round(drained_after, 1),
            "max_open": max((d for _, d in depth), default=0),
        },
        "receiver_requests": deliveries_received,
        "receiver": received,
        "exchange_failures": after["exchange_failures"],
        "traffic_error_samples": [
            sample for item in collected["kinds"].values() for sample in item.error_samples
        ][:10],
        "log_errors": {name: len(lines) for name, lines in errors_in_logs.items()},
        "log_error_samples": {name: lines[:5] for name, lines in errors_in_logs.items()},
        "memory": memory,
        "memory_flat": flat,
        "flat_bound_percent": args.flat_bound,
        "logs": str(logs),
    }


def report(result: dict[str, Any]) -> None:
    traffic, outbox = result["traffic"], result["outbox"]
    print()
    print(f"Machine:  {mt.machine_line(result['machine'])}")
    print(
        f"Soak:     {result['seconds']:g} s; network {result['network']['locations']} locations "
        f"x {result['network']['evses_per_location']} EVSEs; logs in {result['logs']}"
    )
    print(
        f"Traffic:  {traffic['requests']} requests ({traffic['per_second']}/s offered "
        f"{traffic['offered_rate']:g}/s), {traffic['errors']} errors, p50 {traffic['p50_ms']} ms, "
        f"p99 {traffic['p99_ms']} ms, max {traffic['max_ms']} ms; server CPU "
        f"{traffic['server_cpu_seconds']} s, client CPU {traffic['client_cpu_seconds']} s"
    )
    made = result["made"]
    print(
        f"Made:     {made['sessions']} sessions, {made['cdrs']} CDRs, {made['commands']} commands"
    )
    print(
        f"Outbox:   {outbox['states']}; open at stop {outbox['open_at_stop']}, at end "
        f"{outbox['open_at_end']} (drained after {outbox['drained_after_seconds']} s), most open "
        f"{outbox['max_open']}; {result['receiver_requests']} requests at the receiver; "
        f"{result['exchange_failures']} outbound calls not 2xx"
    )
    for sample in result["traffic_error_samples"]:
        print(f"  traffic error: {sample[:300]}")
    print(f"Logs:     ERROR/traceback lines {result['log_errors'] or 'none'}")
    for name, lines in result["log_error_samples"].items():
        for line in lines:
            print(f"  {name}: {line[:200]}")
    print(
        f"Memory:   RSS per process group (MB) after the {result['warm_up_seconds']:g} s warm-up; "
        f"flat = every group grew < {result['flat_bound_percent']:g} %: "
        f"{'yes' if result['memory_flat'] else 'NO'}"
    )
    print(
        f"  {'group':<16}{'procs':>6}{'start':>8}{'warm':>8}{'mid':>8}{'end':>8}{'peak':>8}"
        f"{'growth':>9}{'MB/h':>8}"
    )
    for name, item in result["memory"].items():
        print(
            f"  {name:<16}{item['processes']:>6}{item['start_mb']:>8}{item['after_warm_up_mb']:>8}"
            f"{item['mid_mb']:>8}{item['end_mb']:>8}{item['peak_mb']:>8}"
            f"{item['growth_percent']:>8}%{item['slope_mb_per_hour']:>8}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_SECONDS:g} s")
    parser.add_argument("--duration", type=float, help=f"seconds (default {FULL_SECONDS:g})")
    parser.add_argument("--rate", type=float, default=5.0, help="partner requests/s")
    parser.add_argument("--speedup", type=float, default=20.0, help="simulated s per real s")
    parser.add_argument("--step", type=float, default=60.0, help="simulated s between readings")
    parser.add_argument("--arrivals", type=float, default=40.0, help="drivers per simulated hour")
    parser.add_argument("--faults", type=float, default=0.0002, help="fault/outage chance per step")
    parser.add_argument("--sample", type=float, default=15.0, help="seconds between samples")
    parser.add_argument("--warm-up", type=float, help="seconds before memory counts (default 1/6)")
    parser.add_argument("--flat-bound", type=float, default=10.0, help="percent growth allowed")
    parser.add_argument("--drain-timeout", type=float, default=300.0, help="seconds")
    parser.add_argument("--redis", default=mt.DEFAULT_REDIS_URL, help="broker and cache (emptied)")
    parser.add_argument("--logs", help="directory for the logs (default /tmp/soak-<time>)")
    parser.add_argument("--json", action="store_true", help="also print one JSON result line")
    args = parser.parse_args()
    result = run(args)
    report(result)
    if args.json:
        print(json.dumps({k: v for k, v in result.items() if not k.endswith("error_samples")}))


if __name__ == "__main__":
    main()
