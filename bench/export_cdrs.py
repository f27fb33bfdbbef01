"""Benchmark of the finance exports: CDRs to CSV and XLSX, rows per second and peak memory.

    .venv/bin/python bench/export_cdrs.py            # quick: 100,000 CDRs
    .venv/bin/python bench/export_cdrs.py --full     # 1,000,000 CDRs

What it does, against the Postgres database named by DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/cpms_bench_export, created and migrated if missing; never the
`test` database):

1. makes sure the database holds exactly N CDRs: one CDR is made through the ORM (so it passes the
   model's validation), then copied N - 1 times by one INSERT ... SELECT over generate_series,
   varying id, start time (spread over ~3 months), partner (5 eMSPs), country (4), currency
   (EUR / a few in SEK), energy, time and money with a 21 % VAT line, and every 50th row a credit;
2. runs each export in a fresh child process (Django set up, DEBUG off) through the same function
   the admin and `manage.py export_cdrs` use, writing to a temporary file, and reports rows/s and
   the child's peak resident memory (resource.getrusage ru_maxrss);
3. checks the targets (CSV >= 50,000 rows/s, XLSX >= 10,000 rows/s, peak <= 250 MB) and prints
   the machine with the results; --json prints one JSON line for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg
from benchdb import database_ensure, database_name

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/cpms_bench_export"
QUICK = 100_000
FULL = 1_000_000
TARGETS = {"csv": 50_000.0, "xlsx": 10_000.0}
PEAK_LIMIT_MB = 250.0
SECRET_KEY = "benchmark-only-secret-key-not-for-production"
PARTNERS = (("DE", "EMA"), ("NL", "EMB"), ("FR", "EMC"), ("BE", "EMD"), ("SE", "EME"))
COUNTRIES = ("DEU", "NLD", "FRA", "BEL")


# --- the database --------------------------------------------------------------------------------


def child_env(url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": url,
        "DEBUG": "false",
        "SECRET_KEY": SECRET_KEY,
        "ALLOWED_HOSTS": "localhost",
    }


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([str(PYTHON), "manage.py", *args], cwd=ROOT, env=env, check=True)


def cdr_count(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM billing_cdr").fetchone()
    return int(row[0]) if row else 0


def _django(url: str) -> None:
    os.environ.update(child_env(url))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cpms.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def template_create(url: str) -> int:
    """One valid CDR through the ORM (and the partner eMSPs); returns its primary key."""
    _django(url)
    from datetime import UTC, datetime
    from decimal import Decimal

    from billing.models import CDR
    from roaming.choices import Role
    from roaming.models import Party
    from roaming.services import parties_sync_ours

    owner = parties_sync_ours()[0]
    for country_code, party_id in PARTNERS:
        Party.objects.get_or_create(
            country_code=country_code,
            party_id=party_id,
            defaults={"name": f"Bench eMSP {country_code}-{party_id}", "roles": [Role.EMSP]},
        )
    emsp = Party.objects.get(country_code=PARTNERS[0][0], party_id=PARTNERS[0][1])
    start = datetime(2026, 1, 1, tzinfo=UTC)
    cdr = CDR(
        owner=owner,
        ocpi_id="BENCH-TEMPLATE",
        start_date_time=start,
        end_date_time=start.replace(hour=1),
        ocpi_session_id="BENCH-SESSION",
        cdr_token={
            "country_code": emsp.country_code,
            "party_id": emsp.party_id,
            "uid": "04A1B2C3D4E5F6",
            "type": "RFID",
            "contract_id": f"{emsp.country_code}-{emsp.party_id}-C00000001",
        },
        emsp=emsp,
        auth_method="WHITELIST",
        cdr_location={
            "id": "LOC00001",
            "name": "Bench site",
            "address": "Stationsplein 1",
            "city": "Amsterdam",
            "postal_code": "1012AB",
            "country": "DEU",
            "coordinates": {"latitude": "52.378901", "longitude": "4.900272"},
            "evse_uid": "EVSE-00001",
            "evse_id": "DE*ABC*E0001",
            "connector_id": "1",
            "connector_standard": "IEC_62196_T2",
            "connector_format": "SOCKET",
            "connector_power_type": "AC_3_PHASE",
        },
        currency="EUR",
        tariffs=[],
        charging_periods=[
            {
                "start_date_time": "2026-01-01T00:00:00Z",
                "dimensions": [{"type": "ENERGY", "volume": 10}, {"type": "TIME", "volume": 1}],
            }
        ],
        total_cost=Decimal("3.00"),
        total_cost_taxes=[{"name": "VAT", "percentage": 21, "amount": "0.63"}],
        total_energy_cost=Decimal("3.00"),
        total_energy_cost_taxes=[{"name": "VAT", "percentage": 21, "amount": "0.63"}],
        total_energy=Decimal("10"),
        total_time=Decimal("1"),
    )
    cdr.full_clean()
    cdr.save()
    return int(cdr.pk)


# Columns varied per generated row (g is the row number from generate_series), as SQL.
_VARIED = {
    "ocpi_id": "'BENCH-' || lpad(g::text, 8, '0')",
    "ocpi_session_id": "'SES-' || lpad(g::text, 8, '0')",
    "start_date_time": "timestamptz '2026-01-01' + g * interval '7 seconds'",
    "end_date_time": "timestamptz '2026-01-01' + g * interval '7 seconds' + interval '95 minutes'",
    "emsp_id": "(ARRAY(SELECT id FROM roaming_party WHERE name LIKE 'Bench eMSP %%' "
    "ORDER BY id))[1 + g %% 5]",
    "cdr_token": "jsonb_set(jsonb_set(t.cdr_token, '{uid}', to_jsonb('04A1' || lpad(to_hex(g), 10, "
    "'0'))), '{contract_id}', to_jsonb('DE-EMA-C' || lpad(g::text, 8, '0')))",
    "cdr_location": "jsonb_set(t.cdr_location, '{country}', to_jsonb((ARRAY['DEU','NLD','FRA',"
    "'BEL'])[1 + g %% 4]))",
    "currency": "CASE WHEN g %% 10 = 0 THEN 'SEK' ELSE 'EUR' END",
    "total_energy": "round((g %% 600)::numeric / 10, 3)",
    "total_time": "round(1 + (g %% 300)::numeric / 100, 4)",
    "credit": "g %% 50 = 0",
    "credit_reference_id": "CASE WHEN g %% 50 = 0 THEN 'BENCH-' || lpad((g - 1)::text, 8, '0') "
    "ELSE '' END",
    "total_cost": "CASE WHEN g %% 50 = 0 THEN -1 ELSE 1 END * round((g %% 5000)::numeric / 100, 2)",
    "total_cost_taxes": "jsonb_build_array(jsonb_build_object('name', 'VAT', 'percentage', 21, "
    "'amount', (CASE WHEN g %% 50 = 0 THEN -1 ELSE 1 END * round((g %% 5000)::numeric * 0.0021, "
    "2))::text))",
    "total_energy_cost": "CASE WHEN g %% 50 = 0 THEN -1 ELSE 1 END * round((g %% 5000)::numeric "
    "/ 100, 2)",
}


def cdrs_generate(url: str, count: int) -> float:
    """Fill the database with `count` CDRs; returns the seconds it took."""
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DELETE FROM billing_cdr")
    template = int(
        subprocess.run(
            [str(PYTHON), __file__, "--template", f"--database-url={url}"],
            cwd=ROOT,
            env=child_env(url),
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    with psycopg.connect(url, autocommit=True) as conn:
        columns = [
            row[0]
            for row in conn.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = 'billing_cdr' AND column_name <> 'id' ORDER BY ordinal_position"
            )
        ]
        values = [_VARIED.get(column, f"t.{column}") for column in columns]
        batch = 200_000
        for first in range(1, count, batch):
            last = min(first + batch - 1, count - 1)
            conn.execute(
                f"INSERT INTO billing_cdr ({', '.join(columns)}) "
                f"SELECT {', '.join(values)} FROM billing_cdr t, generate_series(%s, %s) g "
                "WHERE t.id = %s",
                [first, last, template],
            )
            print(f"  generated {last + 1:,} / {count:,} CDRs", file=sys.stderr)
        conn.execute("VACUUM ANALYZE billing_cdr")
    return time.perf_counter() - started


# --- one export in a child process ---------------------------------------------------------------


def export_child(url: str, file_format: str) -> dict[str, Any]:
    """Runs in the child: one export of every CDR, timed; peak memory of this process."""
    import resource

    _django(url)
    from django.db import connection

    from billing.exports import CdrFilter, export_csv, export_xlsx

    cdrs = CdrFilter().queryset()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = int(cursor.fetchone()[0])
    backend_cpu = pid_cpu_seconds(backend)
    own_before = resource.getrusage(resource.RUSAGE_SELF)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / f"cdrs.{file_format}"
        started = time.perf_counter()
        if file_format == "csv":
            with path.open("w", encoding="utf-8", newline="") as out:
                rows = export_csv(cdrs, out)
        else:
            rows = export_xlsx(cdrs, path)
        seconds = time.perf_counter() - started
        size = path.stat().st_size
    own = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "format": file_format,
        "rows": rows,
        "seconds": round(seconds, 2),
        "rows_per_s": round(rows / seconds),
        "python_cpu_s": round(
            own.ru_utime + own.ru_stime - own_before.ru_utime - own_before.ru_stime, 2
        ),
        "postgres_cpu_s": round(pid_cpu_seconds(backend) - backend_cpu, 2),
        "peak_mb": round(own.ru_maxrss / 1024, 1),
        "file_mb": round(size / 1_048_576, 1),
    }


def pid_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process of this machine (here: our Postgres backend)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def export_measure(url: str, file_format: str) -> dict[str, Any]:
    output = subprocess.run(
        [str(PYTHON), __file__, f"--child={file_format}", f"--database-url={url}"],
        cwd=ROOT,
        env=child_env(url),
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return result


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
        "python": platform.python_version(),
        "postgres": row[0] if row else "?",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help=f"{FULL:,} CDRs (default {QUICK:,}).")
    parser.add_argument("--cdrs", type=int, help="Any other number of CDRs.")
    parser.add_argument(
        "--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    )
    parser.add_argument("--formats", default="csv,xlsx", help="Exports to measure (csv,xlsx).")
    parser.add_argument("--json", action="store_true", help="Also print one JSON line.")
    parser.add_argument("--child", choices=("csv", "xlsx"), help=argparse.SUPPRESS)
    parser.add_argument("--template", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    url = args.database_url

    if args.template:
        print(template_create(url))
        return
    if args.child:
        print(json.dumps(export_child(url, args.child)))
        return

    count = args.cdrs or (FULL if args.full else QUICK)
    database_ensure(url)
    env = child_env(url)
    manage(env, "migrate", "--verbosity", "0")
    generated = None
    if cdr_count(url) != count:
        generated = round(cdrs_generate(url, count), 1)
    print(
        f"{count:,} CDRs in {database_name(url)}"
        + (f" (generated in {generated} s)" if generated else "")
    )

    results = []
    failed = []
    for file_format in args.formats.split(","):
        result = export_measure(url, file_format)
        results.append(result)
        target = TARGETS[file_format]
        ok = result["rows_per_s"] >= target and result["peak_mb"] <= PEAK_LIMIT_MB
        if not ok:
            failed.append(file_format)
        print(
            f"{file_format.upper():>4}: {result['rows']:,} rows in {result['seconds']} s = "
            f"{result['rows_per_s']:,} rows/s (target {target:,.0f}), peak {result['peak_mb']} MB "
            f"(limit {PEAK_LIMIT_MB:.0f}), file {result['file_mb']} MB  {'OK' if ok else 'MISSED'}\n"
            f"      CPU: Python {result['python_cpu_s']} s, Postgres {result['postgres_cpu_s']} s "
            f"= {result['rows'] / max(result['python_cpu_s'] + result['postgres_cpu_s'], 0.01):,.0f}"
            " rows per CPU second"
        )
    info = machine(url)
    print("machine: " + ", ".join(f"{key} {value}" for key, value in info.items()))
    if args.json:
        print(json.dumps({"cdrs": count, "results": results, "machine": info}))
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
