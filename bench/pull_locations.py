"""Benchmark of the locations sender: a partner's full pull, and random pages under load.

    .venv/bin/python bench/pull_locations.py            # quick: 5,000 locations
    .venv/bin/python bench/pull_locations.py --full     # 100,000 locations (generation takes minutes)

What it does, against the Postgres database named by DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/cpms_bench, created and migrated if missing; never the
`test` database, and only a database whose name contains "bench" is ever dropped):

1. makes sure the database holds exactly N locations (3 EVSEs / 6 connectors each), generating
   them with `manage.py generate_network` (or regenerating after dropping the database when it
   holds another number, or when --regenerate is given);
2. registers a partner eMSP connection with a fresh token;
3. starts gunicorn (`.venv/bin/gunicorn cpms.wsgi -w 4`, sync workers, DEBUG off) on a free
   local port;
4. pulls the whole list as a partner does, with the largest page, following Link rel="next",
   twice: first with the rendered-JSON cache of the locations emptied (cold: every location is
   rendered and stored by the list endpoint), then, after emptying it again and rendering every
   location ahead with `manage.py render_locations` (what the worker's warming task does; its
   time and CPU are printed), again (warm: the texts are read back), and prints locations/s,
   pages, total time and the server's CPU time for each;
5. runs GET ?limit=100 at random offsets from 16 concurrent clients for --duration seconds and
   prints the latency percentiles (wrk with a Lua script when installed, `apt-get install wrk`;
   else 16 httpx threads, which cost the shared CPUs several times more per request);
6. prints the machine (CPUs, memory, Python, Django, Postgres versions) with the results, and
   with --json also one JSON line for BENCHMARKS.md.

The server's cache is Redis (--cache-url, default redis://127.0.0.1:6379/5, as in production
where every worker shares it); only this benchmark's keys (``*ocpi:location:*``) are deleted
before the cold pull, nothing else in that Redis database. --cache-url locmem uses a per-worker
memory cache instead.

The benchmark clients run on the same machine as the server and the database, so they compete
for the same CPUs; figures from a loaded machine are pessimistic.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import platform
import random
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import orjson
import psycopg

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/cpms_bench"
DEFAULT_CACHE_URL = "redis://127.0.0.1:6379/5"
_CACHE_PATTERN = "*ocpi:location:*"
QUICK_LOCATIONS = 5_000
FULL_LOCATIONS = 100_000
EVSES_PER_LOCATION = 3
# gunicorn: see BENCHMARKS.md (Locations pull) for why.
DEFAULT_WORKERS = 4
DEFAULT_THREADS = 1
SECRET_KEY = "benchmark-only-secret-key-not-for-production"
OCPI_VERSION = "2.2.1"
_SUCCESS = b'"status_code":1000'


# --- the database --------------------------------------------------------------------------------


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def maintenance_url(url: str) -> str:
    """The same server's `postgres` database, to create or drop the benchmark database from."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/postgres", scheme="postgresql"))


def database_ensure(url: str, *, drop: bool) -> None:
    name = database_name(url)
    if name == "test" or not name:
        raise SystemExit("Refusing to benchmark in the `test` database; name a dedicated one.")
    with psycopg.connect(maintenance_url(url), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and drop:
            if "bench" not in name:
                raise SystemExit(f"Refusing to drop {name!r}: only *bench* databases are dropped.")
            print(f"Dropping database {name} to regenerate it")
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = None
        if not exists:
            print(f"Creating database {name}")
            conn.execute(f'CREATE DATABASE "{name}"')


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([str(PYTHON), "manage.py", *args], cwd=ROOT, env=env, check=True)


def location_count(url: str) -> int:
    with psycopg.connect(url.replace("postgres://", "postgresql://", 1)) as conn:
        row = conn.execute("SELECT count(*) FROM locations_location").fetchone()
        return int(row[0]) if row else 0


def postgres_version(url: str) -> str:
    with psycopg.connect(url.replace("postgres://", "postgresql://", 1)) as conn:
        row = conn.execute("SHOW server_version").fetchone()
        return str(row[0]) if row else "?"


def network_ensure(url: str, env: dict[str, str], locations: int, *, regenerate: bool) -> float:
    """Make the database hold exactly `locations` locations; returns seconds spent generating."""
    database_ensure(url, drop=regenerate)
    manage(env, "migrate", "--verbosity", "0")
    have = location_count(url)
    if have == locations:
        print(f"Reusing the {have} locations in {database_name(url)}")
        return 0.0
    if have:
        database_ensure(url, drop=True)
        manage(env, "migrate", "--verbosity", "0")
    print(f"Generating {locations} locations ...")
    started = time.monotonic()
    manage(
        env,
        "generate_network",
        "--locations",
        str(locations),
        "--evses-per-location",
        str(EVSES_PER_LOCATION),
        "--tokens",
        "1000",
        "--seed",
        "1",
    )
    seconds = time.monotonic() - started
    with psycopg.connect(url.replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return seconds


def partner_register(env: dict[str, str]) -> str:
    """A registered connection speaking for a partner eMSP; returns the token it presents."""
    code = (
        "from roaming.crypto import token_generate\n"
        "from roaming.models import Partner, PartnerState, Party\n"
        "from roaming.choices import OcpiVersion, Role\n"
        "party, _ = Party.objects.get_or_create(country_code='DE', party_id='EMS',"
        " defaults={'name': 'Example Mobility', 'roles': [Role.EMSP.value]})\n"
        "Partner.objects.filter(name='Benchmark eMSP').delete()\n"
        "token = token_generate()\n"
        "partner = Partner(name='Benchmark eMSP', state=PartnerState.REGISTERED,"
        " version=OcpiVersion.V2_2_1, versions_url='http://bench.invalid/ocpi/versions')\n"
        "partner.set_token(token)\n"
        "partner.save()\n"
        "partner.parties.set([party])\n"
        "print(token)\n"
    )
    result = subprocess.run(
        [str(PYTHON), "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout.strip().splitlines()[-1]


# --- the server ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_start(
    env: dict[str, str], port: int, workers: int, threads: int
) -> subprocess.Popen[bytes]:
    # threads > 1: gunicorn's gthread worker (each worker serves that many requests at once).
    process = subprocess.Popen(
        [
            str(GUNICORN),
            "cpms.wsgi",
            "-w",
            str(workers),
            "--threads",
            str(threads),
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/ocpi/versions", timeout=1)
            return process
        except httpx.TransportError:
            time.sleep(0.2)
    process.terminate()
    raise SystemExit("gunicorn did not start within 30 s")


def process_cpu_seconds(root: int) -> float:
    """CPU time (user + system) used so far by process `root` and its children (the workers).

    The machine may be shared, so wall-clock rates move with the load of others; the server's
    own CPU time per location does not.
    """
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat_path in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_path.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        pid, ppid = int(stat_path.parent.name), int(fields[1])
        if root in (pid, ppid):
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def _pid_cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def database_cpu(url: str) -> dict[int, float]:
    """CPU seconds used so far by each Postgres backend serving the benchmark database.

    The server's queries run in these processes, not in gunicorn's; Postgres runs on this
    machine, so /proc shows them. Backends persist between requests (CONN_MAX_AGE).
    """
    with psycopg.connect(url.replace("postgres://", "postgresql://", 1)) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [database_name(url)],
        ).fetchall()
    return {int(pid): _pid_cpu_seconds(int(pid)) for (pid,) in rows}


def database_cpu_since(url: str, before: dict[int, float]) -> float:
    after = database_cpu(url)
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def cache_forget_locations(cache_url: str) -> int:
    """Delete the rendered locations (and only them) from the benchmark's Redis database."""
    if not cache_url.startswith("redis"):
        return 0  # a per-worker memory cache starts empty with the server
    import redis

    client = redis.Redis.from_url(cache_url)
    deleted = 0
    batch: list[bytes] = []
    for key in client.scan_iter(match=_CACHE_PATTERN, count=5000):
        batch.append(key)
        if len(batch) >= 5000:
            deleted += int(client.delete(*batch))
            batch.clear()
    if batch:
        deleted += int(client.delete(*batch))
    return deleted


# --- the measurements ------------------------------------------------------------------------------


@dataclass
class PullResult:
    locations: int = 0
    pages: int = 0
    seconds: float = 0.0
    page_size: int = 0
    evses: int = 0
    connectors: int = 0
    bytes: int = 0
    server_cpu_seconds: float = 0.0
    database_cpu_seconds: float = 0.0
    client_cpu_seconds: float = 0.0  # fetching and parsing
    parser_cpu_seconds: float = 0.0  # of which parsing, in the second process

    @property
    def per_second(self) -> float:
        return self.locations / self.seconds if self.seconds else 0.0

    @property
    def per_server_cpu_second(self) -> float:
        return self.locations / self.server_cpu_seconds if self.server_cpu_seconds else 0.0


def page_counts(content: bytes) -> tuple[int, int, int]:
    """Parse one page as a partner does; its locations, EVSEs and connectors."""
    body = orjson.loads(content)
    if body["status_code"] != 1000:
        raise RuntimeError(f"Unexpected answer: {body['status_code']} {body['status_message']}")
    page = body["data"]
    evses = [evse for location in page for evse in location.get("evses", [])]
    return len(page), len(evses), sum(len(evse["connectors"]) for evse in evses)


def full_pull(base: str, headers: dict[str, str]) -> PullResult:
    """Every location, page after page with the largest page, following Link rel="next".

    As a partner's client would on a machine with more than one CPU, the pages are parsed in a
    second process while the next one is fetched (the Link header names it), so the client's
    JSON parsing overlaps the server's work instead of adding to it. The fetching uses one
    keep-alive connection of the standard library's HTTP client (it reads a body of known length
    in one call; httpx's pure-Python HTTP/1.1 parser spent more CPU per page than the server).
    """
    result = PullResult()
    url: str | None = f"{base}/{OCPI_VERSION}/locations/?limit=100000"
    origin = urlsplit(base)
    connection = http.client.HTTPConnection(origin.hostname or "127.0.0.1", origin.port, timeout=60)
    parsed = []
    started = time.monotonic()
    with multiprocessing.get_context("fork").Pool(1) as parser:
        try:
            while url:
                target = urlsplit(url)
                connection.request("GET", f"{target.path}?{target.query}", headers=headers)
                response = connection.getresponse()
                content = response.read()
                if response.status != 200:
                    raise SystemExit(f"Unexpected HTTP {response.status}: {content[:300]!r}")
                parsed.append(parser.apply_async(page_counts, (content,)))
                result.pages += 1
                result.bytes += len(content)
                result.page_size = max(result.page_size, int(response.getheader("X-Limit", "0")))
                url = _next(response.getheader("Link"))
        finally:
            connection.close()
        for counts in parsed:
            locations, evses, connectors = counts.get()
            result.locations += locations
            result.evses += evses
            result.connectors += connectors
        result.seconds = time.monotonic() - started
        parser.close()
        parser.join()
    return result


def measured_pull(base: str, headers: dict[str, str], server_pid: int, url: str) -> PullResult:
    """A full pull with the CPU time of the server, of its database backends and of the client."""
    server_before = process_cpu_seconds(server_pid)
    database_before = database_cpu(url)
    client_before = time.process_time()
    children_before = _children_cpu_seconds()
    result = full_pull(base, headers)
    result.parser_cpu_seconds = _children_cpu_seconds() - children_before
    result.client_cpu_seconds = time.process_time() - client_before + result.parser_cpu_seconds
    result.server_cpu_seconds = process_cpu_seconds(server_pid) - server_before
    result.database_cpu_seconds = database_cpu_since(url, database_before)
    return result


def _children_cpu_seconds() -> float:
    """CPU time of this process's children that ended (the page parser)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return children.ru_utime + children.ru_stime


def _next(link: str | None) -> str | None:
    if not link:
        return None
    target, _, rel = link.partition(";")
    return target.strip()[1:-1] if 'rel="next"' in rel else None


@dataclass
class LoadResult:
    clients: int
    seconds: float
    client: str = "httpx"
    requests: int = 0
    errors: int = 0
    latencies_ms: list[float] = field(default_factory=list, repr=False)
    # Percentiles as a client that keeps its own histogram (wrk) reported them.
    reported_ms: dict[str, float] = field(default_factory=dict)
    server_cpu_seconds: float = 0.0
    database_cpu_seconds: float = 0.0
    client_cpu_seconds: float = 0.0

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return 0.0
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]

    def _latencies(self) -> dict[str, float]:
        if self.reported_ms:
            return self.reported_ms
        return {
            "p50_ms": self.percentile(0.50),
            "p95_ms": self.percentile(0.95),
            "p99_ms": self.percentile(0.99),
            "max_ms": max(self.latencies_ms, default=0.0),
            "mean_ms": statistics.fmean(self.latencies_ms) if self.latencies_ms else 0.0,
        }

    def _per_request_ms(self, seconds: float) -> float:
        return round(1000 * seconds / self.requests, 1) if self.requests else 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "client": self.client,
            "database_cpu_ms_per_request": self._per_request_ms(self.database_cpu_seconds),
            "server_cpu_ms_per_request": self._per_request_ms(self.server_cpu_seconds),
            "client_cpu_ms_per_request": self._per_request_ms(self.client_cpu_seconds),
            "requests": self.requests,
            "errors": self.errors,
            "requests_per_second": round(self.requests / self.seconds, 1),
            **{name: round(value, 1) for name, value in self._latencies().items()},
        }


# wrk (https://github.com/wg/wrk): the random offsets, and a check of every answer's envelope.
_WRK_SCRIPT = """
local threads = {}
local counter = 0
function setup(thread)
  thread:set("id", counter)
  table.insert(threads, thread)
  counter = counter + 1
end
function init(args)
  math.randomseed(tonumber(args[1]) + 7919 * id)
  total = tonumber(args[2])
  limit = tonumber(args[3])
  path = args[4]
  errors = 0
end
function request()
  local offset = math.random(0, math.max(total - limit, 1) - 1)
  return wrk.format("GET", path .. "?offset=" .. offset .. "&limit=" .. limit)
end
function response(status, headers, body)
  if status ~= 200 or not string.find(string.sub(body, -200), '"status_code":1000', 1, true) then
    errors = errors + 1
  end
end
function done(summary, latency, requests)
  local errors = 0
  for _, thread in ipairs(threads) do
    errors = errors + thread:get("errors")
  end
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %d, "errors": %d, "socket_errors": %d, "duration_us": %d, '
    .. '"p50_us": %d, "p95_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f}\\n',
    summary.requests, errors, e.connect + e.read + e.write + e.timeout, summary.duration,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max,
    latency.mean))
end
"""


def random_pages_wrk(
    base: str, headers: dict[str, str], total: int, *, clients: int, seconds: float, limit: int
) -> LoadResult:
    """As ``random_pages``, with wrk: a C client that leaves the CPUs to the server."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(_WRK_SCRIPT)
        script.flush()
        command = [
            "wrk",
            f"-t{min(2, clients)}",
            f"-c{clients}",
            f"-d{seconds:.0f}s",
            "--timeout",
            "30s",
            "-s",
            script.name,
            *(part for name, value in headers.items() for part in ("-H", f"{name}: {value}")),
            f"{base}/{OCPI_VERSION}/locations/",
            "--",
            "1",
            str(total),
            str(limit),
            f"/ocpi/{OCPI_VERSION}/locations/",
        ]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next(line for line in output.splitlines() if line.startswith("RESULT "))
    figures = json.loads(line.removeprefix("RESULT "))
    result = LoadResult(clients=clients, seconds=figures["duration_us"] / 1e6, client="wrk")
    result.requests = figures["requests"]
    result.errors = figures["errors"] + figures["socket_errors"]
    result.reported_ms = {
        name.replace("_us", "_ms"): figures[name] / 1000
        for name in ("p50_us", "p95_us", "p99_us", "max_us", "mean_us")
    }
    result.client_cpu_seconds = (after.ru_utime + after.ru_stime) - (
        before.ru_utime + before.ru_stime
    )
    return result


def random_pages(
    base: str, headers: dict[str, str], total: int, *, clients: int, seconds: float, limit: int
) -> LoadResult:
    """GET ?limit=`limit` at uniformly random offsets from `clients` threads for `seconds`."""
    result = LoadResult(clients=clients, seconds=seconds)
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client_loop(number: int) -> None:
        rng = random.Random(number)
        latencies: list[float] = []
        errors = 0
        with httpx.Client(headers=headers, timeout=30) as client:
            while time.monotonic() < stop_at:
                offset = rng.randrange(max(total - limit, 1))
                url = f"{base}/{OCPI_VERSION}/locations/?offset={offset}&limit={limit}"
                started = time.perf_counter()
                try:
                    response = client.get(url)
                    # The envelope's status follows the data: read the tail, not the whole page,
                    # so that the clients leave the shared CPUs to the server.
                    ok = response.status_code == 200 and _SUCCESS in response.content[-200:]
                except httpx.HTTPError:
                    ok = False
                latencies.append((time.perf_counter() - started) * 1000)
                errors += not ok
        with lock:
            result.latencies_ms.extend(latencies)
            result.requests += len(latencies)
            result.errors += errors

    threads = [threading.Thread(target=client_loop, args=(n,)) for n in range(clients)]
    cpu_before = time.process_time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.client_cpu_seconds = time.process_time() - cpu_before
    return result


# --- the machine ----------------------------------------------------------------------------------


def machine(url: str) -> dict[str, Any]:
    import django

    memory_kb = 0
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                memory_kb = int(line.split()[1])
    return {
        "cpus": os.cpu_count(),
        "memory_gb": round(memory_kb / 1024 / 1024, 1),
        "cpu_model": _cpu_model(),
        "load_average": os.getloadavg()[0],
        "python": platform.python_version(),
        "django": django.get_version(),
        "postgres": postgres_version(url),
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


# --- main -------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--full", action="store_true", help=f"{FULL_LOCATIONS} locations")
    size.add_argument("--locations", type=int, help=f"default {QUICK_LOCATIONS}")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of random pages")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients")
    parser.add_argument("--limit", type=int, default=100, help="page size of the random pages")
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS, help="gunicorn workers")
    parser.add_argument(
        "--threads", type=int, default=DEFAULT_THREADS, help="threads per worker (>1: gthread)"
    )
    parser.add_argument(
        "--load-client",
        choices=("wrk", "httpx"),
        default="wrk" if shutil.which("wrk") else "httpx",
        help="client of the random pages (default wrk when installed, else httpx threads)",
    )
    parser.add_argument("--regenerate", action="store_true", help="drop and regenerate the data")
    parser.add_argument(
        "--random-only",
        action="store_true",
        help="skip both pulls (the random pages then read whatever the cache holds)",
    )
    parser.add_argument(
        "--cache-url",
        default=DEFAULT_CACHE_URL,
        help=f"the server's CACHE_URL (default {DEFAULT_CACHE_URL}; 'locmem': per worker)",
    )
    parser.add_argument("--json", action="store_true", help="also print one JSON result line")
    args = parser.parse_args()

    locations = FULL_LOCATIONS if args.full else args.locations or QUICK_LOCATIONS
    url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    cache_url = (
        "locmemcache://?max_entries=1000000" if args.cache_url == "locmem" else args.cache_url
    )
    port = free_port()
    env = {
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
        "CACHE_URL": cache_url,
    }
    os.environ.update({key: env[key] for key in ("DATABASE_URL", "DEBUG", "SECRET_KEY")})
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cpms.settings")

    generation_seconds = network_ensure(url, env, locations, regenerate=args.regenerate)
    token = partner_register(env)
    headers = {"Authorization": f"Token {token}"}
    server = server_start(env, port, args.workers, args.threads)
    base = f"http://127.0.0.1:{port}/ocpi"
    try:
        # Warm up the workers (imports, connections, caches) before measuring.
        with httpx.Client(headers=headers, timeout=60) as client:
            for _ in range(2 * args.workers):
                answer = client.get(f"{base}/{OCPI_VERSION}/locations/?limit=100")
                answer.raise_for_status()
        visible = int(answer.headers["X-Total-Count"])
        forgotten = 0
        cold = pull = None
        ahead: dict[str, Any] | None = None
        if not args.random_only:
            forgotten = cache_forget_locations(cache_url)
            cold = measured_pull(base, headers, server.pid, url)
            cache_forget_locations(cache_url)
            ahead = render_ahead(env)
            pull = measured_pull(base, headers, server.pid, url)
        cpu_before = process_cpu_seconds(server.pid)
        database_before = database_cpu(url)
        load_client = random_pages_wrk if args.load_client == "wrk" else random_pages
        load = load_client(
            base,
            headers,
            visible,
            clients=args.clients,
            seconds=args.duration,
            limit=args.limit,
        )
        load.server_cpu_seconds = process_cpu_seconds(server.pid) - cpu_before
        load.database_cpu_seconds = database_cpu_since(url, database_before)
    finally:
        server.terminate()
        server.wait(timeout=30)

    host = machine(url)
    print()
    print(f"Machine:  {host['cpus']} CPUs ({host['cpu_model']}), {host['memory_gb']} GB, "
          f"load {host['load_average']:.2f}; Python {host['python']}, Django {host['django']}, "
          f"Postgres {host['postgres']}")  # fmt: skip
    if generation_seconds:
        print(f"Generate: {locations} locations in {generation_seconds:.0f} s")
    print(f"Cache:    {cache_url} ({forgotten} rendered locations deleted before the cold pull)")
    if cold is not None:
        _print_pull("Cold", cold)
    if ahead is not None:
        print(
            f"Ahead:    cache emptied again, then `manage.py render_locations` (the worker's "
            f"warming task): {ahead['output']} in {ahead['seconds']:.1f} s; CPU "
            f"{ahead['cpu_seconds']:.1f} s"
        )
    if pull is not None:
        _print_pull("Warm", pull)
    stats = load.summary()
    print(
        f"Random:   GET limit={args.limit} at random offsets, {args.clients} clients, "
        f"{args.duration:.0f} s: {stats['requests']} requests ({stats['requests_per_second']}/s, "
        f"{stats['errors']} errors), p50 {stats['p50_ms']} ms, p95 {stats['p95_ms']} ms, "
        f"p99 {stats['p99_ms']} ms, max {stats['max_ms']} ms ({stats['client']}); server CPU "
        f"{stats['server_cpu_ms_per_request']} ms per request, Postgres CPU "
        f"{stats['database_cpu_ms_per_request']} ms, client CPU "
        f"{stats['client_cpu_ms_per_request']} ms"
    )
    if visible != locations:
        print(
            f"Note:     the database holds {locations} locations; the other "
            f"{locations - visible} are unpublished and not shown to this partner"
        )
    if args.json:
        print(
            json.dumps(
                {
                    "date": datetime.now(UTC).isoformat(timespec="seconds"),
                    "locations": locations,
                    "machine": host,
                    "cache_url": cache_url,
                    "pull_cold": _pull_json(cold) if cold else None,
                    "render_ahead": ahead,
                    "pull": _pull_json(pull) if pull else None,
                    "server": {"workers": args.workers, "threads": args.threads},
                    "random_pages": {"clients": args.clients, "limit": args.limit, **stats},
                    "generation_seconds": round(generation_seconds, 1),
                }
            )
        )


def render_ahead(env: dict[str, str]) -> dict[str, Any]:
    """Render every location as the worker's warming task does; its time and CPU."""
    cpu_before = _children_cpu_seconds()
    started = time.monotonic()
    result = subprocess.run(
        [str(PYTHON), "manage.py", "render_locations", "--ocpi-version", OCPI_VERSION],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return {
        "output": result.stdout.strip().splitlines()[0],
        "seconds": round(time.monotonic() - started, 1),
        "cpu_seconds": round(_children_cpu_seconds() - cpu_before, 1),
    }


def _print_pull(label: str, pull: PullResult) -> None:
    print(
        f"{label + ':':<10}{pull.locations} locations ({pull.evses} EVSEs, {pull.connectors} "
        f"connectors, {pull.bytes / 1e6:.0f} MB) in {pull.pages} pages of {pull.page_size}, "
        f"{pull.seconds:.1f} s = {pull.per_second:,.0f} locations/s; server CPU "
        f"{pull.server_cpu_seconds:.1f} s = {pull.per_server_cpu_second:,.0f} locations per "
        f"CPU-second; Postgres CPU {pull.database_cpu_seconds:.1f} s; client CPU "
        f"{pull.client_cpu_seconds:.1f} s (parsing {pull.parser_cpu_seconds:.1f} s of it)"
    )


def _pull_json(pull: PullResult) -> dict[str, Any]:
    return {
        **asdict(pull),
        "per_second": round(pull.per_second),
        "per_server_cpu_second": round(pull.per_server_cpu_second),
    }


if __name__ == "__main__":
    main()
