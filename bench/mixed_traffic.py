"""Benchmark of mixed partner traffic: several eMSPs pulling, pushing tokens and sending commands.

    .venv/bin/python bench/mixed_traffic.py               # quick: 500 requests/s for 60 s
    .venv/bin/python bench/mixed_traffic.py --full --json # the target's 10 minutes

What it does, against the Postgres database named by DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/cpms_bench_mixed, created and migrated if missing; never the
`test` database, and only a database whose name contains "bench" is ever dropped):

1. makes sure the database holds the benchmark's network (`manage.py generate_network
   --locations 5000 --evses-per-location 3 --tokens 30000 --cdrs 50000 --seed 1`: 15,000 EVSEs,
   the tokens, finished sessions and CDRs of three partner eMSPs DE*EMS, NL*MSP and FR*EVM),
   regenerating it (after dropping the database) when it holds another network;
2. registers one OCPI 2.2.1 connection per eMSP, and starts a loopback receiver (a separate
   process) that answers OCPI 1000 to everything: the commands' ``response_url`` points there;
   renders every location ahead (``manage.py render_locations``), as the worker's warming task
   keeps them in production (tariff, session and CDR texts are rendered on their first read);
3. starts gunicorn (`cpms.wsgi`, --workers sync workers, DEBUG off, rate limit off, the Redis
   database --redis as cache and Celery broker, emptied first: it must be used by nothing else);
4. measures what each kind of request costs: --costs requests of each kind alone, one at a
   time, with the CPU time they take in the gunicorn workers and in the database's Postgres
   backends (read from /proc), and from the mix's weights the most requests/s two idle CPUs
   could serve;
5. runs --clients client processes (asyncio, a minimal HTTP/1.1 client: a new connection per
   request, as gunicorn's sync workers close each one) that together send --rate requests/s on
   a fixed schedule (open loop: a request's latency counts from the moment it was due, so a
   server that falls behind shows it instead of slowing the clients down) for --duration seconds,
   after a 5 s warm-up that is not counted. Each request is drawn from the mix below, for one of
   the three eMSPs at random;
6. prints requests/s, errors (HTTP status other than 200/201, a non-1000 envelope, a transport
   error, or a request that could not be sent because --max-in-flight were still open), p50,
   p95, p99 and max per kind and overall, and the CPU time of the server (gunicorn workers), of
   the Postgres backends of the database and of the clients, per request; --json adds one line.

The mix (weights in percent; the pulls are what a partner's periodic syncs send, so most are
incremental, and the page reads of whole lists are the smaller share):

* locations: ``?date_from=<10 min ago>&limit=100`` (incremental sync) 10, one location by id 8,
  ``?offset=<random>&limit=50`` 4;
* tariffs: ``?offset=<random>&limit=50`` 5;
* sessions: ``?date_from=<10 min ago>&limit=50`` 10, ``?offset=<random>&limit=50`` 4;
* CDRs: ``?date_from=<10 min ago>&limit=50`` 8, ``?offset=<random>&limit=50`` 4;
* tokens: PUT of a whole token 20 (one in ten new), PATCH of ``valid`` 17;
* commands: START_SESSION at a random location 6 (no charger side runs here: the command is
  accepted, its instruction queued for the charger and its timeout task for Celery), STOP_SESSION
  of one of the eMSP's finished sessions 4 (answered REJECTED inside an OCPI 1000 envelope).

Everything (clients, gunicorn, Postgres, Redis) shares this machine's CPUs; figures from a loaded
machine are pessimistic, the CPU time per request moves less.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import random
import resource
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/cpms_bench_mixed"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/7"
SECRET_KEY = "benchmark-only-secret-key-not-for-production"
OCPI_VERSION = "2.2.1"
PEER_TOKEN = "bench-peer-token"
NETWORK = {"locations": 5_000, "evses_per_location": 3, "tokens": 30_000, "cdrs": 50_000}
QUICK_SECONDS = 60.0
FULL_SECONDS = 600.0
WARM_UP_SECONDS = 5.0
TARGET_RATE = 500.0
TARGET_P99_MS = 100.0
_SUCCESS = b'"status_code":1000'

# kind -> weight (percent of the requests)
MIX = {
    "locations_sync": 10,
    "location_object": 8,
    "locations_page": 4,
    "tariffs_page": 5,
    "sessions_sync": 10,
    "sessions_page": 4,
    "cdrs_sync": 8,
    "cdrs_page": 4,
    "token_put": 20,
    "token_patch": 17,
    "start_session": 6,
    "stop_session": 4,
}


# --- the database ----------------------------------------------------------------------------------


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def pg_url(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)


def database_ensure(url: str, *, drop: bool) -> None:
    name = database_name(url)
    if name == "test" or "bench" not in name:
        raise SystemExit(f"Refusing to use database {name!r}: its name must contain 'bench'.")
    maintenance = urlunsplit(urlsplit(pg_url(url))._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and drop:
            print(f"Dropping database {name} to regenerate it")
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = None
        if not exists:
            print(f"Creating database {name}")
            conn.execute(f'CREATE DATABASE "{name}"')


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([str(PYTHON), "manage.py", *args], cwd=ROOT, env=env, check=True)


def network_counts(url: str) -> dict[str, int]:
    with psycopg.connect(pg_url(url)) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM locations_location),"
            " (SELECT count(*) FROM sessions_app_token WHERE uid NOT LIKE 'MX%%'),"
            " (SELECT count(*) FROM billing_cdr)"
        ).fetchone()
    assert row is not None
    return {"locations": int(row[0]), "tokens": int(row[1]), "cdrs": int(row[2])}


def network_ensure(
    url: str, env: dict[str, str], network: dict[str, int], *, regenerate: bool
) -> float:
    """Make the database hold exactly this network; returns the seconds spent generating it."""
    database_ensure(url, drop=regenerate)
    manage(env, "migrate", "--verbosity", "0")
    wanted = {key: network[key] for key in ("locations", "tokens", "cdrs")}
    have = network_counts(url)
    # Runs add CDRs (charging sessions that end), never locations or generated tokens.
    if have == {**wanted, "cdrs": max(have["cdrs"], wanted["cdrs"])}:
        print(f"Reusing the network in {database_name(url)}: {have}")
        return 0.0
    if any(have.values()):
        database_ensure(url, drop=True)
        manage(env, "migrate", "--verbosity", "0")
    print(f"Generating the network {network} ...")
    started = time.monotonic()
    manage(
        env,
        "generate_network",
        *("--locations", str(network["locations"])),
        *("--evses-per-location", str(network["evses_per_location"])),
        *("--tokens", str(network["tokens"])),
        *("--cdrs", str(network["cdrs"])),
        *("--seed", "1"),
    )
    with psycopg.connect(pg_url(url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return time.monotonic() - started


def django_setup(env: dict[str, str]) -> None:
    """Django in this process, to prepare the partners and read what the clients need."""
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cpms.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


@dataclass
class PartnerPlan:
    """What one eMSP's requests need: its credentials and objects to name."""

    country_code: str
    party_id: str
    token: str
    tokens: list[dict[str, str]]
    location_ids: list[str]
    session_ids: list[str]
    sessions: int
    cdrs: int
    tariffs: int
    locations: int


_TOKEN_KEYS = ("uid", "type", "contract_id", "issuer")


def partners_prepare(
    receiver_base: str | None = None, *, modules: tuple[str, ...] = (), sample: int = 2_000
) -> list[PartnerPlan]:
    """One registered OCPI 2.2.1 connection per partner eMSP of the generated network.

    With `receiver_base` (a loopback receiver's URL) each connection also gets receiver endpoints
    for `modules` under ``<receiver_base>/<CC><PID>/2.2.1/<module>``, so that our pushes reach the
    receiver, which tells the partners apart by that first path segment.
    """
    from billing.models import CDR, Tariff
    from locations.models import Location
    from locations.network_generator import PARTNERS
    from roaming.choices import InterfaceRole, OcpiVersion
    from roaming.crypto import token_generate
    from roaming.models import Partner, PartnerEndpoint, PartnerState, Party
    from sessions_app.models import Session, Token

    rng = random.Random(7)
    location_ids = list(Location.objects.published().values_list("ocpi_id", flat=True))
    tariffs = Tariff.objects.active().count()
    plans = []
    for spec in PARTNERS:
        party = Party.objects.get(country_code=spec.country_code, party_id=spec.party_id)
        name = f"Bench eMSP {party.country_code}*{party.party_id}"
        Partner.objects.filter(name=name).delete()
        token = token_generate()
        code = f"{party.country_code}{party.party_id}"
        partner = Partner(
            name=name,
            state=PartnerState.REGISTERED,
            version=OcpiVersion.V2_2_1,
            versions_url=f"{receiver_base or 'http://bench.invalid'}/{code}/versions",
        )
        partner.set_token(token)
        partner.set_their_token(PEER_TOKEN)
        partner.save()
        partner.parties.set([party])
        for module in modules:
            PartnerEndpoint.objects.create(
                partner=partner,
                module=module,
                role=InterfaceRole.RECEIVER,
                url=f"{receiver_base}/{code}/{OCPI_VERSION}/{module}",
            )
        tokens = list(
            Token.objects.filter(owner=party)
            .exclude(uid__startswith="MX")
            .order_by("?")
            .values_list(*_TOKEN_KEYS)[:sample]
        )
        sessions = Session.objects.filter(emsp=party)
        plans.append(
            PartnerPlan(
                country_code=party.country_code,
                party_id=party.party_id,
                token=token,
                tokens=[dict(zip(_TOKEN_KEYS, row, strict=True)) for row in tokens],
                location_ids=rng.sample(location_ids, min(sample, len(location_ids))),
                session_ids=list(sessions.order_by("?").values_list("ocpi_id", flat=True)[:200]),
                sessions=sessions.count(),
                cdrs=CDR.objects.filter(emsp=party).count(),
                tariffs=tariffs,
                locations=len(location_ids),
            )
        )
    return plans


# --- the loopback receiver (a separate process) ------------------------------------------------------


def receivers_main() -> None:
    """Answer OCPI 1000 to every request; print the port, then answer 'dump' lines on stdin.

    The first path segment names the partner (see `partners_prepare`); the counts are per
    (partner, method, module). A CDR POST gets 201 with a Location; a GET of a list an empty page.
    """
    lock = threading.Lock()
    counts: Counter[str] = Counter()
    auth = {f"Token {token}" for token in (PEER_TOKEN, _b64(PEER_TOKEN))}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out separately

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            parts = self.path.split("?", 1)[0].strip("/").split("/")
            module = parts[2] if len(parts) > 2 else parts[-1]
            with lock:
                counts[f"{parts[0]} {self.command} {module}"] += 1
            extra: dict[str, str] = {}
            data: list[Any] | None
            status = 200
            if self.headers.get("Authorization") not in auth:
                status, code, data = 401, 2000, None
            elif self.command == "POST" and module == "cdrs":
                status, code, data = 201, 1000, None
                extra["Location"] = f"http://{self.headers.get('Host')}{self.path}/x"
            elif self.command == "GET":
                code, data = 1000, []
                extra.update({"X-Total-Count": "0", "X-Limit": "100"})
            else:
                code, data = 1000, None
            now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            body: dict[str, Any] = {"status_code": code, "status_message": "OK", "timestamp": now}
            if data is not None:
                body["data"] = data
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(raw)

        do_PUT = do_PATCH = do_POST = do_DELETE = do_GET = _answer  # noqa: N815 (http.server names)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(json.dumps(server.server_address[1]), flush=True)
    for line in sys.stdin:
        if line.strip() == "dump":
            with lock:
                print(json.dumps(dict(counts)), flush=True)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class Receiver:
    """The loopback receiver process."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [str(PYTHON), str(Path(__file__).resolve()), "--role", "receiver"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.port: int = json.loads(self.process.stdout.readline())
        self.base = f"http://127.0.0.1:{self.port}"

    def counts(self) -> dict[str, int]:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write("dump\n")
        self.process.stdin.flush()
        return dict(json.loads(self.process.stdout.readline()))

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


# --- the server --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(url: str, redis_url: str, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": url,
        "DEBUG": "false",
        "SECRET_KEY": SECRET_KEY,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "OCPI_BASE_URL": f"http://127.0.0.1:{port}/ocpi",
        "LOG_LEVEL": "WARNING",
        # Plain HTTP on the loopback: no TLS proxy in front to redirect for.
        "SECURE_SSL_REDIRECT": "false",
        # Measure the server, not the per-partner rate limit.
        "OCPI_RATE_LIMIT": "0",
        "CACHE_URL": redis_url,
        "CELERY_BROKER_URL": redis_url,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "PYTHONPATH": str(ROOT),
    }


def server_start(
    env: dict[str, str], port: int, workers: int, *, threads: int = 1, log: Path | None = None
) -> subprocess.Popen[bytes]:
    """gunicorn on the loopback (threads > 1: its gthread worker); with `log`, its output and the
    application's log go there."""
    command = [str(GUNICORN), "cpms.wsgi", "-w", str(workers), "--threads", str(threads)]
    command += ["--bind", f"127.0.0.1:{port}"]
    output = log.open("ab") if log is not None else None
    process = subprocess.Popen(
        [*command, "--log-level", "warning"],
        cwd=ROOT,
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT if output else None,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process
        except OSError:
            time.sleep(0.2)
    stop_group(process)
    raise SystemExit("gunicorn did not start within 60 s")


def stop_group(process: subprocess.Popen[Any], timeout: float = 30) -> None:
    """Stop a process started in its own session, with everything it started."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def redis_empty(redis_url: str) -> None:
    import redis

    redis.Redis.from_url(redis_url).flushdb()


def _proc_stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def process_tree(root: int) -> list[int]:
    """`root` and every process below it."""
    children: dict[int, list[int]] = {}
    for stat_path in Path("/proc").glob("[0-9]*/stat"):
        fields = _proc_stat(int(stat_path.parent.name))
        if fields is not None:
            children.setdefault(int(fields[1]), []).append(int(stat_path.parent.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def cpu_seconds(pids: list[int]) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        fields = _proc_stat(pid)
        if fields is not None:
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def tree_cpu_seconds(root: int) -> float:
    return cpu_seconds(process_tree(root))


def database_backends(url: str) -> list[int]:
    with psycopg.connect(pg_url(url)) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [database_name(url)],
        ).fetchall()
    return [int(pid) for (pid,) in rows]


def database_cpu(url: str) -> dict[int, float]:
    """CPU seconds so far of each Postgres backend of the database (they run on this machine)."""
    return {pid: cpu_seconds([pid]) for pid in database_backends(url)}


def database_cpu_since(url: str, before: dict[int, float]) -> float:
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in database_cpu(url).items())


# --- the clients (separate processes) ---------------------------------------------------------------


def _ocpi_now(delta: timedelta = timedelta()) -> str:
    return (datetime.now(UTC) + delta).strftime("%Y-%m-%dT%H:%M:%SZ")


class RequestMaker:
    """Draws one request of the mix: (kind, method, path, JSON body or None, headers)."""

    def __init__(self, plans: list[dict[str, Any]], response_url: str, seed: int) -> None:
        self.plans = plans
        self.rng = random.Random(seed)
        self.kinds = list(MIX)
        self.weights = list(MIX.values())
        self.response_url = response_url
        self.new_tokens = 0
        self.seed = seed

    def make(self, kind: str | None = None) -> tuple[str, str, str, bytes | None, str]:
        rng = self.rng
        plan = rng.choice(self.plans)
        kind = kind or rng.choices(self.kinds, self.weights)[0]
        base = f"/ocpi/{OCPI_VERSION}"
        since = _ocpi_now(-timedelta(minutes=10))
        body: Any = None
        method = "GET"
        if kind == "locations_sync":
            path = f"{base}/locations/?date_from={since}&limit=100"
        elif kind == "location_object":
            path = f"{base}/locations/{rng.choice(plan['location_ids'])}"
        elif kind == "locations_page":
            path = f"{base}/locations/?offset={_offset(rng, plan['locations'], 50)}&limit=50"
        elif kind == "tariffs_page":
            path = f"{base}/tariffs/?offset={_offset(rng, plan['tariffs'], 50)}&limit=50"
        elif kind in ("sessions_sync", "cdrs_sync"):
            path = f"{base}/{kind.split('_')[0]}/?date_from={since}&limit=50"
        elif kind in ("sessions_page", "cdrs_page"):
            module = kind.split("_")[0]
            path = f"{base}/{module}/?offset={_offset(rng, plan[module], 50)}&limit=50"
        elif kind in ("token_put", "token_patch"):
            token = rng.choice(plan["tokens"])
            if kind == "token_put" and rng.random() < 0.1:
                token = self._new_token(plan)
            owner = f"{plan['country_code']}/{plan['party_id']}"
            path = f"{base}/tokens/{owner}/{token['uid']}?type={token['type']}"
            method, body = ("PUT", self._token_body(plan, token))
            if kind == "token_patch":
                method, body = "PATCH", {"valid": rng.random() < 0.95, "last_updated": _ocpi_now()}
        elif kind == "start_session":
            method, path = "POST", f"{base}/commands/START_SESSION"
            token = rng.choice(plan["tokens"])
            body = {
                "response_url": f"{self.response_url}/{plan['country_code']}{plan['party_id']}"
                f"/{OCPI_VERSION}/commands/START_SESSION/{secrets.token_hex(6)}",
                "token": self._token_body(plan, token),
                "location_id": rng.choice(plan["location_ids"]),
            }
        else:  # stop_session
            method, path = "POST", f"{base}/commands/STOP_SESSION"
            body = {
                "response_url": f"{self.response_url}/{plan['country_code']}{plan['party_id']}"
                f"/{OCPI_VERSION}/commands/STOP_SESSION/{secrets.token_hex(6)}",
                "session_id": rng.choice(plan["session_ids"]),
            }
        raw = json.dumps(body).encode() if body is not None else None
        return kind, method, path, raw, plan["token"]

    def _new_token(self, plan: dict[str, Any]) -> dict[str, str]:
        self.new_tokens += 1
        number = f"{self.seed:02d}{self.new_tokens:07d}"
        return {
            "uid": f"MX{secrets.token_hex(4).upper()}{number}",
            "type": "RFID",
            "contract_id": f"{plan['country_code']}-{plan['party_id']}-M{number}",
            "issuer": "Bench issuer",
        }

    def _token_body(self, plan: dict[str, Any], token: dict[str, str]) -> dict[str, Any]:
        return {
            "country_code": plan["country_code"],
            "party_id": plan["party_id"],
            "uid": token["uid"],
            "type": token["type"],
            "contract_id": token["contract_id"],
            "issuer": token["issuer"],
            "valid": True,
            "whitelist": "ALLOWED",
            "last_updated": _ocpi_now(),
        }


def _offset(rng: random.Random, total: int, limit: int) -> int:
    return rng.randrange(max(total - limit, 1))


async def http_call(
    port: int, method: str, path: str, body: bytes | None, token: str
) -> tuple[int, bytes]:
    """One HTTP/1.1 request on a new loopback connection; (status, body)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Token {token}\r\n"
            "Connection: close\r\nAccept: application/json\r\n"
        )
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        writer.write(head.encode() + b"\r\n" + (body or b""))
        response_head = await reader.readuntil(b"\r\n\r\n")
        status = int(response_head[9:12])
        length = _content_length(response_head)
        payload = await (reader.readexactly(length) if length is not None else reader.read())
        return status, payload
    finally:
        writer.close()


def _content_length(head: bytes) -> int | None:
    at = head.lower().find(b"\r\ncontent-length:")
    if at < 0:
        return None
    end = head.find(b"\r\n", at + 2)
    return int(head[at + 17 : end])


@dataclass
class KindResult:
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)


async def client_run(
    port: int,
    maker: RequestMaker,
    *,
    rate: float,
    seconds: float,
    warm_up: float,
    max_in_flight: int,
    phase: float,
) -> dict[str, KindResult]:
    """Send `rate` requests/s on a fixed schedule; the first `warm_up` seconds are not counted."""
    results: dict[str, KindResult] = {kind: KindResult() for kind in MIX}
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.2 + phase / rate
    measured_from = start + warm_up
    total = int((warm_up + seconds) * rate)
    in_flight: set[asyncio.Task[None]] = set()

    async def one(due: float) -> None:
        kind, method, path, body, token = maker.make()
        result = results[kind]
        problem = ""
        try:
            status, payload = await http_call(port, method, path, body, token)
            if status not in (200, 201) or _SUCCESS not in payload:
                problem = f"{method} {path} -> {status} {payload[:200]!r}"
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            problem = f"{method} {path} -> {type(exc).__name__}: {exc}"
        if due < measured_from:
            return
        result.latencies_ms.append((loop.time() - due) * 1000)
        if problem:
            result.errors += 1
            if len(result.error_samples) < 5:
                result.error_samples.append(problem)

    for number in range(total):
        due = start + number / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        if len(in_flight) >= max_in_flight:
            if due >= measured_from:
                results.setdefault("overload", KindResult()).errors += 1
            continue
        task = asyncio.ensure_future(one(due))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    if in_flight:
        _, unfinished = await asyncio.wait(in_flight, timeout=60)
        if unfinished:  # no answer a minute after the last request was due: failures
            results["unfinished"] = KindResult(errors=len(unfinished))
    return results


def client_main(plan_path: str) -> None:
    """A client process: read its plan, run, print its results as one JSON line."""
    plan = json.loads(Path(plan_path).read_text())
    maker = RequestMaker(plan["partners"], plan["response_url"], seed=plan["seed"])
    started_cpu = time.process_time()
    results = asyncio.run(
        client_run(
            plan["port"],
            maker,
            rate=plan["rate"],
            seconds=plan["seconds"],
            warm_up=plan["warm_up"],
            max_in_flight=plan["max_in_flight"],
            phase=plan["phase"],
        )
    )
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out = {
        "cpu_seconds": time.process_time() - started_cpu,
        "max_rss_mb": usage.ru_maxrss / 1024,
        "kinds": {
            kind: {
                "latencies_ms": [round(x, 2) for x in result.latencies_ms],
                "errors": result.errors,
                "error_samples": result.error_samples,
            }
            for kind, result in results.items()
        },
    }
    print(json.dumps(out), flush=True)


def clients_start(
    *,
    count: int,
    port: int,
    plans: list[PartnerPlan],
    response_url: str,
    rate: float,
    seconds: float,
    warm_up: float,
    max_in_flight: int,
    workdir: Path,
) -> list[subprocess.Popen[str]]:
    """`count` client processes sharing `rate` between them, their schedules interleaved."""
    processes = []
    for number in range(count):
        plan = {
            "port": port,
            "partners": [plan.__dict__ for plan in plans],
            "response_url": response_url,
            "seed": number + 1,
            "rate": rate / count,
            "seconds": seconds,
            "warm_up": warm_up,
            "max_in_flight": max(1, max_in_flight // count),
            "phase": number / count,
        }
        plan_path = workdir / f"client-{number}.json"
        plan_path.write_text(json.dumps(plan))
        processes.append(
            subprocess.Popen(
                [str(PYTHON), str(Path(__file__).resolve()), "--role", "client", str(plan_path)],
                stdout=subprocess.PIPE,
                text=True,
            )
        )
    return processes


def clients_collect(processes: list[subprocess.Popen[str]]) -> dict[str, Any]:
    """Merge the clients' results: latencies and errors per kind, and their CPU time."""
    kinds: dict[str, KindResult] = {}
    cpu = 0.0
    rss: list[float] = []
    for process in processes:
        output, _ = process.communicate()
        if process.returncode != 0 or not output.strip():
            raise SystemExit(f"A client failed (exit {process.returncode})")
        data = json.loads(output.strip().splitlines()[-1])
        cpu += data["cpu_seconds"]
        rss.append(data["max_rss_mb"])
        for kind, item in data["kinds"].items():
            merged = kinds.setdefault(kind, KindResult())
            merged.latencies_ms.extend(item["latencies_ms"])
            merged.errors += item["errors"]
            merged.error_samples.extend(item["error_samples"])
    return {"kinds": kinds, "cpu_seconds": cpu, "max_rss_mb": max(rss, default=0.0)}


def percentile(ordered: list[float], share: float) -> float:
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def latency_summary(latencies: list[float], errors: int, seconds: float) -> dict[str, Any]:
    ordered = sorted(latencies)
    return {
        "requests": len(ordered),
        "per_second": round(len(ordered) / seconds, 1) if seconds else 0.0,
        "errors": errors,
        "p50_ms": round(percentile(ordered, 0.50), 1),
        "p95_ms": round(percentile(ordered, 0.95), 1),
        "p99_ms": round(percentile(ordered, 0.99), 1),
        "max_ms": round(ordered[-1], 1) if ordered else 0.0,
    }


def summarize(kinds: dict[str, KindResult], seconds: float) -> dict[str, Any]:
    per_kind = {
        kind: latency_summary(result.latencies_ms, result.errors, seconds)
        for kind, result in kinds.items()
        if result.latencies_ms or result.errors
    }
    every = [x for result in kinds.values() for x in result.latencies_ms]
    errors = sum(result.errors for result in kinds.values())
    return {"overall": latency_summary(every, errors, seconds), "kinds": per_kind}


async def _one_at_a_time(
    port: int, maker: RequestMaker, kind: str, count: int
) -> tuple[list[float], list[str]]:
    latencies, problems = [], []
    for _ in range(count):
        _, method, path, body, token = maker.make(kind)
        started = time.perf_counter()
        status, payload = await http_call(port, method, path, body, token)
        latencies.append((time.perf_counter() - started) * 1000)
        if status not in (200, 201) or _SUCCESS not in payload:
            problems.append(f"{method} {path} -> {status} {payload[:200]!r}")
    return latencies, problems


def kind_costs(
    port: int, maker: RequestMaker, server_pid: int, url: str, count: int
) -> dict[str, dict[str, Any]]:
    """Each kind alone, `count` requests one at a time: the CPU it costs the server and Postgres.

    One request at a time, so the wall-clock p50 is the service time (on a loaded machine plus
    waiting for a CPU); the CPU figures do not depend on the load of others.
    """
    costs = {}
    for kind in MIX:
        asyncio.run(_one_at_a_time(port, maker, kind, 2))  # the code path warm in every worker
        server_before = tree_cpu_seconds(server_pid)
        database_before = database_cpu(url)
        latencies, problems = asyncio.run(_one_at_a_time(port, maker, kind, count))
        server_ms = 1000 * (tree_cpu_seconds(server_pid) - server_before) / count
        database_ms = 1000 * database_cpu_since(url, database_before) / count
        ordered = sorted(latencies)
        costs[kind] = {
            "server_cpu_ms": round(server_ms, 1),
            "database_cpu_ms": round(database_ms, 1),
            "p50_ms": round(percentile(ordered, 0.5), 1),
            "errors": len(problems),
        }
    return costs


def mix_cost(costs: dict[str, dict[str, Any]]) -> dict[str, float]:
    """CPU per request of the mix (weighted), and the rate two CPUs could serve at best."""
    total = sum(MIX.values())
    server = sum(MIX[kind] * costs[kind]["server_cpu_ms"] for kind in costs) / total
    database = sum(MIX[kind] * costs[kind]["database_cpu_ms"] for kind in costs) / total
    cpus = os.cpu_count() or 1
    return {
        "server_cpu_ms": round(server, 1),
        "database_cpu_ms": round(database, 1),
        "ceiling_per_second": round(1000 * cpus / (server + database)) if server + database else 0,
    }


# --- the machine -------------------------------------------------------------------------------------


def machine(url: str) -> dict[str, Any]:
    import django

    memory_kb = 0
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                memory_kb = int(line.split()[1])
    with psycopg.connect(pg_url(url)) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return {
        "cpus": os.cpu_count(),
        "memory_gb": round(memory_kb / 1024 / 1024, 1),
        "cpu_model": _cpu_model(),
        "load_average": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "django": django.get_version(),
        "postgres": str(row[0]) if row else "?",
    }


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def machine_line(host: dict[str, Any]) -> str:
    return (
        f"{host['cpus']} CPUs ({host['cpu_model']}), {host['memory_gb']} GB, load "
        f"{host['load_average']:.2f}; Python {host['python']}, Django {host['django']}, "
        f"Postgres {host['postgres']}"
    )


# --- main --------------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    seconds = args.duration or (FULL_SECONDS if args.full else QUICK_SECONDS)
    port = free_port()
    env = server_env(url, args.redis, port)
    generation = network_ensure(url, env, NETWORK, regenerate=args.regenerate)
    redis_empty(args.redis)
    receiver = Receiver()
    server: subprocess.Popen[bytes] | None = None
    workdir = Path(os.environ.get("TMPDIR", "/tmp")) / f"mixed-traffic-{os.getpid()}"
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        django_setup(env)
        plans = partners_prepare()
        from django.db import connections

        connections.close_all()
        # As the worker's warming task keeps them in production: every location rendered ahead.
        rendering_started = time.monotonic()
        manage(env, "render_locations", "--ocpi-version", OCPI_VERSION)
        rendering = time.monotonic() - rendering_started
        server = server_start(env, port, args.workers, threads=args.threads)
        costs: dict[str, dict[str, Any]] = {}
        if args.costs:
            maker = RequestMaker([plan.__dict__ for plan in plans], receiver.base, seed=99)
            costs = kind_costs(port, maker, server.pid, url, args.costs)
        server_before = tree_cpu_seconds(server.pid)
        clients = clients_start(
            count=args.clients,
            port=port,
            plans=plans,
            response_url=receiver.base,
            rate=args.rate,
            seconds=seconds,
            warm_up=WARM_UP_SECONDS,
            max_in_flight=args.max_in_flight,
            workdir=workdir,
        )
        # Measure from the end of the warm-up (the clients start ~0.2 s after launch).
        time.sleep(WARM_UP_SECONDS + 0.5)
        server_mid = tree_cpu_seconds(server.pid)
        database_before = database_cpu(url)
        time.sleep(max(0.0, seconds - 0.3))
        server_cpu = tree_cpu_seconds(server.pid) - server_mid
        database_cpu_used = database_cpu_since(url, database_before)
        collected = clients_collect(clients)
        receiver_counts = receiver.counts()
    finally:
        if server is not None:
            stop_group(server)
        receiver.stop()
        redis_empty(args.redis)
    summary = summarize(collected["kinds"], seconds)
    requests = summary["overall"]["requests"] or 1
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(url),
        "network": NETWORK,
        "generation_seconds": round(generation, 1),
        "locations_rendered_ahead_seconds": round(rendering, 1),
        "workers": args.workers,
        "threads": args.threads,
        "clients": args.clients,
        "offered_rate": args.rate,
        "seconds": seconds,
        **summary,
        "server_cpu_seconds": round(server_cpu, 1),
        "server_cpu_ms_per_request": round(1000 * server_cpu / requests, 2),
        "server_cpu_warm_up_seconds": round(server_mid - server_before, 1),
        "database_cpu_seconds": round(database_cpu_used, 1),
        "database_cpu_ms_per_request": round(1000 * database_cpu_used / requests, 2),
        "client_cpu_seconds": round(collected["cpu_seconds"], 1),
        "client_cpu_ms_per_request": round(1000 * collected["cpu_seconds"] / requests, 2),
        "client_max_rss_mb": round(collected["max_rss_mb"], 1),
        "costs": costs,
        "mix_cost": mix_cost(costs) if costs else {},
        "receiver": receiver_counts,
        "error_samples": [
            sample for result in collected["kinds"].values() for sample in result.error_samples
        ][:10],
    }


def _worker_kind(threads: int) -> str:
    return "sync" if threads == 1 else f"gthread, {threads} threads each"


def report(result: dict[str, Any]) -> None:
    overall = result["overall"]
    print()
    print(f"Machine:  {machine_line(result['machine'])}")
    print(
        f"Method:   gunicorn -w {result['workers']} ({_worker_kind(result['threads'])}), "
        f"{result['clients']} client processes "
        f"(asyncio, open loop) offering {result['offered_rate']:g} requests/s for "
        f"{result['seconds']:g} s after a {WARM_UP_SECONDS:g} s warm-up; network "
        f"{result['network']['locations']} locations, {result['network']['tokens']} tokens, "
        f"{result['network']['cdrs']} CDRs; three eMSPs"
    )
    print(
        f"{'kind':<16}{'requests':>9}{'/s':>8}{'errors':>7}{'p50':>8}{'p95':>8}{'p99':>8}{'max':>8}"
    )
    for kind, item in [*result["kinds"].items(), ("overall", overall)]:
        print(
            f"{kind:<16}{item['requests']:>9}{item['per_second']:>8}{item['errors']:>7}"
            f"{item['p50_ms']:>8}{item['p95_ms']:>8}{item['p99_ms']:>8}{item['max_ms']:>8}"
        )
    print(
        f"CPU:      server {result['server_cpu_seconds']} s = "
        f"{result['server_cpu_ms_per_request']} ms per request; Postgres "
        f"{result['database_cpu_seconds']} s = {result['database_cpu_ms_per_request']} ms; "
        f"clients {result['client_cpu_seconds']} s = {result['client_cpu_ms_per_request']} ms "
        f"(peak RSS {result['client_max_rss_mb']} MB)"
    )
    met = (
        overall["per_second"] >= TARGET_RATE
        and overall["p99_ms"] <= TARGET_P99_MS
        and overall["errors"] == 0
    )
    print(
        f"Target:   >= {TARGET_RATE:g} requests/s, p99 <= {TARGET_P99_MS:g} ms, no errors: "
        f"{'met' if met else 'not met'}"
    )
    for sample in result["error_samples"]:
        print(f"Error:    {sample}")
    if result["costs"]:
        print("Costs:    each kind alone, one request at a time (CPU ms per request)")
        print(f"  {'kind':<16}{'server':>8}{'Postgres':>10}{'wall p50':>10}{'errors':>8}")
        for kind, item in result["costs"].items():
            print(
                f"  {kind:<16}{item['server_cpu_ms']:>8}{item['database_cpu_ms']:>10}"
                f"{item['p50_ms']:>10}{item['errors']:>8}"
            )
        mix = result["mix_cost"]
        print(
            f"  the mix: server {mix['server_cpu_ms']} ms + Postgres {mix['database_cpu_ms']} ms "
            f"of CPU per request: at most ~{mix['ceiling_per_second']} requests/s on "
            f"{result['machine']['cpus']} CPUs with nothing else running"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--role", choices=("main", "client", "receiver"), default="main")
    parser.add_argument("plan", nargs="?", help=argparse.SUPPRESS)
    parser.add_argument("--full", action="store_true", help=f"{FULL_SECONDS:g} s")
    parser.add_argument("--duration", type=float, help=f"seconds (default {QUICK_SECONDS:g})")
    parser.add_argument("--rate", type=float, default=TARGET_RATE, help="requests/s offered")
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=1, help="threads per worker (>1: gthread)")
    parser.add_argument(
        "--costs", type=int, default=30, help="requests per kind in the cost phase (0: none)"
    )
    parser.add_argument("--max-in-flight", type=int, default=400, help="open requests at most")
    parser.add_argument("--redis", default=DEFAULT_REDIS_URL, help="cache and broker (emptied)")
    parser.add_argument("--regenerate", action="store_true", help="drop and regenerate the data")
    parser.add_argument("--json", action="store_true", help="also print one JSON result line")
    args = parser.parse_args()
    if args.role == "client":
        client_main(args.plan)
        return
    if args.role == "receiver":
        receivers_main()
        return
    result = run(args)
    report(result)
    if args.json:
        print(json.dumps({k: v for k, v in result.items() if k != "error_samples"}))


if __name__ == "__main__":
    main()
