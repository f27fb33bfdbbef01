"""Benchmark of token authorization at the charger: decisions per second and p99 latency.

    .venv/bin/python bench/authorize.py                 # 1,000,000 tokens, 50,000 decisions
    .venv/bin/python bench/authorize.py --full --json   # the same, said explicitly (make bench FULL=1)
    .venv/bin/python bench/authorize.py --tokens 100000 --decisions 20000 --json

What it does, against the Postgres database named by DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/cpms_bench_authorize, created and migrated if missing; never the
`test` database):

1. makes sure the database holds exactly N tokens of 10 partner eMSPs: one token is made through
   the ORM (so it passes the model's validation), then copied N - 1 times by one INSERT ... SELECT
   over generate_series, varying uid (hex, mixed case), contract id, owner, and the whitelist
   (45 % ALLOWED, 45 % ALWAYS, 4 % ALLOWED_OFFLINE, 4 % NEVER, every 50th token invalid); then
   ANALYZE;
2. in each of --workers child processes (Django set up, DEBUG off, persistent connection) runs
   the production decision, ``sessions_app.authorization.token_authorize``, for random uids (2 %
   unknown, presented in another case than stored, as readers do), timing each call;
3. reports decisions/s (all workers together, wall clock) and p50/p99/max latency, and checks the
   targets (>= 5,000 decisions/s, p99 <= 5 ms); also the CPU time per decision of the workers
   and of their Postgres backends (read from /proc when Postgres runs on this machine), and the
   rate those would allow if the CPUs ran nothing else, which moves much less with the load of
   other work than the wall-clock figures. --json prints one JSON line for BENCHMARKS.md.

The eMSPs have no connection here, so the ALLOWED_OFFLINE and NEVER tokens take the "eMSP cannot
be asked" path (where an eMSP's tokens endpoint is, or that it has none, is kept per process for
30 seconds, so this costs no query after the first); no HTTP call is timed: a real-time call
costs what the eMSP takes to answer and is bounded by CHARGING_AUTHORIZE_TIMEOUT_SECONDS.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
from benchdb import database_ensure

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/cpms_bench_authorize"
TARGET_PER_SECOND = 5_000.0
TARGET_P99_MS = 5.0
SECRET_KEY = "benchmark-only-secret-key-not-for-production"
EMSPS = tuple(("DE", f"EA{chr(65 + n)}") for n in range(10))
UNKNOWN_SHARE = 0.02
FULL_TOKENS = 1_000_000
FULL_DECISIONS = 50_000


# --- the database --------------------------------------------------------------------------------


def child_env(url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": url,
        "DEBUG": "false",
        "SECRET_KEY": SECRET_KEY,
        "ALLOWED_HOSTS": "localhost",
    }


def django_setup(url: str) -> None:
    os.environ.update(child_env(url))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cpms.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings

    settings.DATABASES["default"]["CONN_MAX_AGE"] = None  # one connection per worker, as in prod


def token_count(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM sessions_app_token").fetchone()
    return int(row[0]) if row else 0


def template_create(url: str) -> int:
    """The partner eMSPs and one valid token through the ORM; returns the token's key."""
    django_setup(url)
    from datetime import UTC, datetime

    from roaming.choices import Role
    from roaming.models import Party
    from sessions_app.models import Token

    for country_code, party_id in EMSPS:
        Party.objects.get_or_create(
            country_code=country_code,
            party_id=party_id,
            defaults={"name": f"Bench eMSP {country_code}-{party_id}", "roles": [Role.EMSP]},
        )
    owner = Party.objects.get(country_code=EMSPS[0][0], party_id=EMSPS[0][1])
    token = Token(
        owner=owner,
        uid="BENCH-TEMPLATE",
        type="RFID",
        contract_id="DE-EAA-C00000000",
        issuer="Bench eMSP",
        valid=True,
        whitelist="ALLOWED",
        last_updated=datetime(2026, 1, 1, tzinfo=UTC),
    )
    token.full_clean()
    token.save()
    return int(token.pk)


def tokens_generate(url: str, count: int) -> float:
    """Fill the database with `count` tokens; returns the seconds it took."""
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DELETE FROM sessions_app_token")
    template = template_create(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            """
            INSERT INTO sessions_app_token (owner_id, uid, type, contract_id, visual_number,
                issuer, group_id, valid, whitelist, language, default_profile_type,
                energy_contract, last_updated, received_at)
            SELECT
                (ARRAY(SELECT id FROM roaming_party WHERE name LIKE 'Bench eMSP %%'
                       ORDER BY id))[1 + g %% 10],
                CASE WHEN g %% 2 = 0 THEN upper(%(prefix)s || lpad(to_hex(g), 8, '0'))
                     ELSE %(prefix)s || lpad(to_hex(g), 8, '0') END,
                t.type,
                'DE-EAA-C' || lpad(g::text, 8, '0'),
                t.visual_number, t.issuer, t.group_id,
                g %% 50 <> 0,
                CASE WHEN g %% 100 < 45 THEN 'ALLOWED' WHEN g %% 100 < 90 THEN 'ALWAYS'
                     WHEN g %% 100 < 94 THEN 'ALLOWED_OFFLINE' WHEN g %% 100 < 98 THEN 'NEVER'
                     ELSE 'ALLOWED' END,
                t.language, t.default_profile_type, t.energy_contract,
                t.last_updated + g * interval '1 second', now()
            FROM sessions_app_token t, generate_series(1, %(rows)s) AS g
            WHERE t.id = %(template)s
            """,
            {"prefix": "04ab", "rows": count - 1, "template": template},
        )
        conn.execute("ANALYZE sessions_app_token")
    return time.perf_counter() - started


def uid_of(g: int) -> str:
    """The uid the generator gave row g, presented in lower case as a reader may send it."""
    return f"04ab{g:08x}"


# --- the measurement -----------------------------------------------------------------------------


def backend_cpu_seconds(pid: int | None) -> float | None:
    """CPU time of this worker's Postgres backend so far, when Postgres runs on this machine."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def worker(url: str, tokens: int, decisions: int, seed: int, queue: Any) -> None:
    django_setup(url)
    from django.db import connection

    from sessions_app.authorization import token_authorize

    rng = random.Random(seed)
    latencies: list[float] = []
    allowed = 0
    token_authorize(uid=uid_of(1))  # connect before timing
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = int(cursor.fetchone()[0])
    server_began = backend_cpu_seconds(backend)
    cpu_began = time.process_time()
    began = time.time()
    for _ in range(decisions):
        if rng.random() < UNKNOWN_SHARE:
            uid = f"ffff{rng.randrange(16**8):08x}"
        else:
            uid = uid_of(rng.randrange(1, tokens))
        started = time.perf_counter()
        decision = token_authorize(uid=uid)
        latencies.append(time.perf_counter() - started)
        allowed += decision.is_allowed
    ended = time.time()
    client_cpu = time.process_time() - cpu_began
    server_ended = backend_cpu_seconds(backend)
    server_cpu = (
        None if server_began is None or server_ended is None else server_ended - server_began
    )
    queue.put(
        {
            "latencies": latencies,
            "allowed": allowed,
            "began": began,
            "ended": ended,
            "client_cpu": client_cpu,
            "server_cpu": server_cpu,
        }
    )


def measure(url: str, tokens: int, decisions: int, workers: int) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    share = decisions // workers
    processes = [
        context.Process(target=worker, args=(url, tokens, share, seed, queue))
        for seed in range(workers)
    ]
    started = time.perf_counter()
    for process in processes:
        process.start()
    results = [queue.get() for _ in processes]
    wall = time.perf_counter() - started
    for process in processes:
        process.join()
    # The rate is taken from the first timed call of any worker to the last one of any (child
    # start-up excluded); workers that did not overlap would lower it, never raise it.
    latencies = sorted(x for r in results for x in r["latencies"])
    span = max(r["ended"] for r in results) - min(r["began"] for r in results)
    count = len(latencies)
    client_cpu_us = sum(r["client_cpu"] for r in results) / count * 1e6
    server_cpus = [r["server_cpu"] for r in results]
    server_cpu_us = None if None in server_cpus else sum(server_cpus) / count * 1e6
    # What the CPUs could do if they ran only this: both sides' CPU time per decision.
    capacity = (
        None
        if server_cpu_us is None
        else round((os.cpu_count() or 1) * 1e6 / (client_cpu_us + server_cpu_us))
    )
    return {
        "decisions": count,
        "workers": workers,
        "allowed_share": round(sum(r["allowed"] for r in results) / count, 3),
        "decisions_per_second": round(count / span),
        "p50_ms": round(latencies[count // 2] * 1000, 3),
        "p99_ms": round(latencies[int(count * 0.99)] * 1000, 3),
        "max_ms": round(latencies[-1] * 1000, 3),
        "client_cpu_us_per_decision": round(client_cpu_us, 1),
        "server_cpu_us_per_decision": None if server_cpu_us is None else round(server_cpu_us, 1),
        "cpu_bound_decisions_per_second": capacity,
        "wall_seconds_with_startup": round(wall, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokens", type=int, default=FULL_TOKENS)
    parser.add_argument("--decisions", type=int, default=FULL_DECISIONS)
    parser.add_argument(
        "--full",
        action="store_true",
        help=f"The full size: {FULL_TOKENS:,} tokens, {FULL_DECISIONS:,} decisions (the default; "
        "overrides --tokens and --decisions).",
    )
    parser.add_argument("--workers", type=int, default=max(1, os.cpu_count() or 1))
    parser.add_argument("--json", action="store_true", help="Print one JSON line.")
    args = parser.parse_args()
    if args.full:
        args.tokens, args.decisions = FULL_TOKENS, FULL_DECISIONS
    url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)

    database_ensure(url)
    subprocess.run(
        [str(PYTHON), "manage.py", "migrate", "--verbosity", "0"],
        cwd=ROOT,
        env=child_env(url),
        check=True,
    )
    generated = None
    if token_count(url) != args.tokens:
        generated = round(tokens_generate(url, args.tokens), 1)
    result = measure(url, args.tokens, args.decisions, args.workers)
    result.update(
        tokens=args.tokens,
        generate_seconds=generated,
        machine=f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}",
        meets_rate=result["decisions_per_second"] >= TARGET_PER_SECOND,
        meets_p99=result["p99_ms"] <= TARGET_P99_MS,
    )
    if args.json:
        print(json.dumps(result))
        return
    for key, value in result.items():
        print(f"{key:>28}: {value}")


if __name__ == "__main__":
    main()
