"""Benchmark of the token pull: a partner eMSP's whole token list ingested into our token cache.

    .venv/bin/python bench/pull_tokens.py            # quick: 50,000 tokens
    .venv/bin/python bench/pull_tokens.py --full     # 1,000,000 tokens

What it does, against the Postgres database named by DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/cpms_bench_tokens, created and migrated if missing; never the
`test` database):

1. starts an eMSP on loopback in a separate process (this script with --serve): an OCPI 2.2.1
   tokens sender interface serving N tokens, made on the fly from their index (no database of
   its own), in pages of at most 1,000 with Link, X-Total-Count and X-Limit headers, over HTTP/1.1
   keep-alive; every 10,000th token is invalid (an unknown whitelist value), as a real list may
   hold a few bad objects;
2. registers a connection to it (a partner eMSP with a tokens sender endpoint), empties our token
   cache, and runs `manage.py ocpi_sync --partner ... --module tokens --full` in a fresh child
   process (DEBUG off) twice: into the empty cache (every token created), then again (every token
   updated), with the largest page the eMSP allows;
3. prints, for each pass, tokens/s (received over the pull run's duration), created / updated /
   rejected counts, the CPU seconds of the puller, of its Postgres backend and of the eMSP, and
   the puller's peak resident memory; --profile adds a third, profiled pass and prints where the
   puller's time goes; --json prints one JSON line for BENCHMARKS.md.

Everything runs on the same machine (puller, eMSP, Postgres), so figures from a loaded machine
are pessimistic; the CPU seconds per token move less with the load of others.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import psycopg
from benchdb import database_ensure, database_name

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/cpms_bench_tokens"
QUICK = 50_000
FULL = 1_000_000
TARGET = 5_000.0
MAX_PAGE = 1_000
BAD_EVERY = 10_000
PARTNER_NAME = "Benchmark token eMSP"
COUNTRY_CODE, PARTY_ID = "DE", "EMB"
SECRET_KEY = "benchmark-only-secret-key-not-for-production"


# --- the eMSP on loopback -------------------------------------------------------------------------

_BASE_TIME = datetime(2026, 1, 1, tzinfo=UTC)
_TOKEN = (
    '{"country_code":"DE","party_id":"EMB","uid":"%s","type":"%s","contract_id":"DE-EMB-C%08d",'
    '"visual_number":"DE-EMB-%08d-X","issuer":"Benchmark Mobility","group_id":"%s","valid":%s,'
    '"whitelist":"%s","language":%s,"last_updated":"%s"}'
)


def token_text(index: int) -> str:
    """The eMSP's token number `index` as OCPI 2.2.1 JSON (varied types, fleets, languages)."""
    updated = (_BASE_TIME + timedelta(seconds=index * 7)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return _TOKEN % (
        f"04{index:012X}",
        "APP_USER" if index % 7 == 0 else "RFID",
        index,
        index,
        f"FLEET{index % 500:03d}" if index % 3 == 0 else "",
        "false" if index % 97 == 0 else "true",
        "SOMETIMES" if index % BAD_EVERY == BAD_EVERY - 1 else "ALLOWED",
        ('"de"', '"nl"', "null")[index % 3],
        updated,
    )


class _TokensHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the puller reuses one connection
    server: _EmspServer

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path != "/ocpi/2.2.1/tokens":
            self._answer(404, b'{"status_code":2000,"status_message":"Not found"}', {})
            return
        query = parse_qs(parts.query)
        offset = int(query.get("offset", ["0"])[0])
        limit = min(int(query.get("limit", [str(MAX_PAGE)])[0]), MAX_PAGE)
        total = self.server.tokens
        last = min(offset + limit, total)
        data = ",".join(token_text(index) for index in range(offset, last))
        body = (
            '{"data":[' + data + '],"status_code":1000,"status_message":"Success",'
            f'"timestamp":"{datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}"}}'
        ).encode()
        headers = {"X-Total-Count": str(total), "X-Limit": str(MAX_PAGE)}
        if last < total:
            base = f"http://127.0.0.1:{self.server.server_address[1]}{parts.path}"
            headers["Link"] = f'<{base}?offset={last}&limit={limit}>; rel="next"'
        self._answer(200, body, headers)

    def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


class _EmspServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, tokens: int) -> None:
        super().__init__(("127.0.0.1", port), _TokensHandler)
        self.tokens = tokens


def emsp_serve(port: int, tokens: int) -> None:
    with _EmspServer(port, tokens) as server:
        server.serve_forever()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def emsp_start(port: int, tokens: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [str(PYTHON), __file__, f"--serve={port}", f"--tokens={tokens}"], cwd=ROOT
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/ocpi/2.2.1/tokens?limit=1", timeout=1)
            return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.terminate()
    raise SystemExit("the eMSP did not start within 15 s")


def pid_cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- the database --------------------------------------------------------------------------------


def child_env(url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": url,
        "DEBUG": "false",
        "SECRET_KEY": SECRET_KEY,
        "ALLOWED_HOSTS": "localhost",
    }


def _django(url: str) -> None:
    os.environ.update(child_env(url))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cpms.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def prepare_child(url: str, port: int) -> None:
    """Runs in a child: the connection to the eMSP, and an empty token cache."""
    _django(url)
    from django.db import connection

    from roaming.choices import InterfaceRole, ModuleID, OcpiVersion, Role
    from roaming.crypto import token_generate
    from roaming.models import Partner, PartnerEndpoint, PartnerState, Party
    from sessions_app.models import Token

    party, _ = Party.objects.get_or_create(
        country_code=COUNTRY_CODE,
        party_id=PARTY_ID,
        defaults={"name": "Benchmark Mobility", "roles": [Role.EMSP.value]},
    )
    Partner.objects.filter(name=PARTNER_NAME).delete()
    partner = Partner(
        name=PARTNER_NAME,
        state=PartnerState.REGISTERED,
        version=OcpiVersion.V2_2_1,
        versions_url=f"http://127.0.0.1:{port}/ocpi/versions",
    )
    partner.set_token(token_generate())
    partner.set_their_token(token_generate())
    partner.save()
    partner.parties.set([party])
    PartnerEndpoint.objects.create(
        partner=partner,
        module=ModuleID.TOKENS,
        role=InterfaceRole.SENDER,
        url=f"http://127.0.0.1:{port}/ocpi/2.2.1/tokens",
    )
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {Token._meta.db_table}")
        cursor.execute(f"VACUUM ANALYZE {Token._meta.db_table}")


def pull_child(url: str, *, profile: bool) -> dict[str, Any]:
    """Runs in a child: one full pull through the management command, measured."""
    import io
    import resource

    _django(url)
    from django.core.management import call_command
    from django.db import connection

    from roaming.models import PullRun

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = int(cursor.fetchone()[0])
    backend_cpu = pid_cpu_seconds(backend)
    own_before = resource.getrusage(resource.RUSAGE_SELF)
    arguments = ("ocpi_sync", "--partner", PARTNER_NAME, "--module", "tokens", "--full")
    out = io.StringIO()
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    call_command(*arguments, stdout=out)
    if profiler is not None:
        profiler.disable()
    own = resource.getrusage(resource.RUSAGE_SELF)
    run = PullRun.objects.latest("started_at")
    finished = run.finished_at or run.started_at  # a finished run always has it
    seconds = max((finished - run.started_at).total_seconds(), 0.001)
    result = {
        "state": run.state,
        "received": run.received,
        "created": run.created,
        "updated": run.updated,
        "rejected": run.rejected,
        "seconds": round(seconds, 2),
        "tokens_per_s": round(run.received / seconds),
        "puller_cpu_s": round(
            own.ru_utime + own.ru_stime - own_before.ru_utime - own_before.ru_stime, 2
        ),
        "postgres_cpu_s": round(pid_cpu_seconds(backend) - backend_cpu, 2),
        "peak_mb": round(own.ru_maxrss / 1024, 1),
    }
    if profiler is not None:
        import pstats

        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(25)
        print(text.getvalue(), file=sys.stderr)
    return result


def child(url: str, *arguments: str) -> dict[str, Any]:
    output = subprocess.run(
        [str(PYTHON), __file__, f"--database-url={url}", *arguments],
        cwd=ROOT,
        env=child_env(url),
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    ).stdout
    lines = output.strip().splitlines()
    return json.loads(lines[-1]) if lines else {}


def machine(url: str) -> dict[str, Any]:
    with psycopg.connect(url) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    memory_kb = 0
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                memory_kb = int(line.split()[1])
    return {
        "cpus": os.cpu_count(),
        "memory_gb": round(memory_kb / 1_048_576, 1),
        "load_average": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "postgres": row[0] if row else "?",
    }


def _print_pass(label: str, result: dict[str, Any], emsp_cpu: float) -> None:
    per_token_ms = 1000 / result["received"] if result["received"] else 0.0
    print(
        f"{label}: {result['received']:,} tokens in {result['seconds']} s = "
        f"{result['tokens_per_s']:,} tokens/s (target {TARGET:,.0f})  "
        f"created {result['created']:,}, updated {result['updated']:,}, "
        f"rejected {result['rejected']:,}\n"
        f"    CPU: puller {result['puller_cpu_s']} s, Postgres {result['postgres_cpu_s']} s, "
        f"eMSP {emsp_cpu:.2f} s ({result['puller_cpu_s'] * per_token_ms * 1000:.0f} + "
        f"{result['postgres_cpu_s'] * per_token_ms * 1000:.0f} + "
        f"{emsp_cpu * per_token_ms * 1000:.0f} us/token); puller peak {result['peak_mb']} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help=f"{FULL:,} tokens (default {QUICK:,}).")
    parser.add_argument("--tokens", type=int, help="Any other number of tokens.")
    parser.add_argument(
        "--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    )
    parser.add_argument("--profile", action="store_true", help="Add a profiled pass.")
    parser.add_argument("--json", action="store_true", help="Also print one JSON line.")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--prepare", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--pull", choices=("plain", "profiled"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    url = args.database_url
    count = args.tokens or (FULL if args.full else QUICK)

    if args.serve:
        emsp_serve(args.serve, count)
        return
    if args.prepare:
        prepare_child(url, args.prepare)
        return
    if args.pull:
        print(json.dumps(pull_child(url, profile=args.pull == "profiled")))
        return

    database_ensure(url)
    subprocess.run(
        [str(PYTHON), "manage.py", "migrate", "--verbosity", "0"],
        cwd=ROOT,
        env=child_env(url),
        check=True,
    )
    port = free_port()
    emsp = emsp_start(port, count)
    passes: dict[str, dict[str, Any]] = {}
    try:
        child(url, f"--prepare={port}")
        print(
            f"{count:,} tokens served by an OCPI 2.2.1 eMSP on 127.0.0.1:{port}, pages of "
            f"{MAX_PAGE:,}; pulled into {database_name(url)}"
        )
        labels = ["create", "update"] + (["profiled"] if args.profile else [])
        for label in labels:
            emsp_before = pid_cpu_seconds(emsp.pid)
            result = child(url, "--pull=" + ("profiled" if label == "profiled" else "plain"))
            result["emsp_cpu_s"] = round(pid_cpu_seconds(emsp.pid) - emsp_before, 2)
            passes[label] = result
            _print_pass(f"{label:>8}", result, result["emsp_cpu_s"])
    finally:
        emsp.terminate()
        emsp.wait(timeout=10)
    info = machine(url)
    print("machine: " + ", ".join(f"{key} {value}" for key, value in info.items()))
    if args.json:
        print(json.dumps({"tokens": count, "passes": passes, "machine": info}))
    met = all(
        passes[label]["tokens_per_s"] >= TARGET and passes[label]["state"] == "SUCCEEDED"
        for label in ("create", "update")
    )
    if not met:
        sys.exit(1)


if __name__ == "__main__":
    main()
