"""Benchmark of the pure-Python OCPI pricing engine: CDRs priced per second on one core.

    .venv/bin/python bench/pricing_engine.py               # 200,000 CDRs
    .venv/bin/python bench/pricing_engine.py --quick       # 20,000 CDRs
    .venv/bin/python bench/pricing_engine.py --json        # also one JSON line of the figures
    .venv/bin/python bench/pricing_engine.py --profile     # cProfile of the steady state instead

No database and no Django: `billing.pricing` is pure Python. What it does:

1. builds a mixed set of tariffs: every tariff example of the OCPI 2.2.1 and 2.3.0 spec
   (tests/billing/pricing/ocpi_examples/), plus time-of-day peak/off-peak windows (one wrapping
   midnight), kWh tiers, parking charged only after 2 h, min/max price, and tariffs whose time
   windows are read in zones with DST (Europe/Amsterdam, America/New_York, Australia/Lord_Howe);
2. builds a pool of sessions with 3-6 charging periods each (charging and parking, sometimes a
   reservation first), starting at varied times: any time of 2024, across local midnight, and
   around the DST switches of those zones; energy, current and power vary per period;
3. pins the process to one CPU (os.sched_setaffinity, where available), warms up, then prices
   N CDRs single-threaded, cycling through (tariff, zone, session) combinations, in two modes:
   * steady state: tariffs parsed once and reused, as the CPMS does (it caches parsed tariffs by
     id and last_updated), so the engine's compiled-tariff cache is warm;
   * including parsing: every CDR parses its tariff JSON afresh (`tariff_from_ocpi`), the worst
     case of a cache that never hits;
4. prints CDRs/s (wall clock and process CPU time), mean and p99 wall time per CDR, CPU time
   per CDR for each tariff family, the Python version, the CPU model and the load average.

Figures are for the machine they are run on. Other processes on it inflate the wall clock most
(the pinned core is shared); process CPU time is the fairer figure on a busy machine, and it is
still pessimistic there (shared caches, SMT siblings).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import os
import platform
import pstats
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from billing.pricing import (  # noqa: E402 - the path must be set first
    ChargingPeriodInput,
    PeriodKind,
    Tariff,
    price_session,
    tariff_from_ocpi,
)

EXAMPLES = ROOT / "tests" / "billing" / "pricing" / "ocpi_examples"
FULL_CDRS = 200_000
QUICK_CDRS = 20_000
SESSION_POOL = 5_000
TARGET_PER_SECOND = 20_000
SEED = 20241027


# --- tariffs -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TariffCase:
    """One tariff of the mixed set, as OCPI JSON, with the zone of the location using it."""

    name: str
    family: str  # simple / tiers+windows / complex (tariff_4) / reservation, for the breakdown
    version: str
    data: dict[str, Any]
    zone: str


def _component(kind: str, price: str, vat: str | None = "20", step: int = 1) -> dict[str, Any]:
    data: dict[str, Any] = {"type": kind, "price": Decimal(price), "step_size": step}
    if vat is not None:
        data["vat"] = Decimal(vat)
    return data


def _element(*components: dict[str, Any], **restrictions: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"price_components": list(components)}
    if restrictions:
        data["restrictions"] = restrictions
    return data


def _tariff(tariff_id: str, *elements: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"id": tariff_id, "currency": "EUR", "elements": list(elements), **fields}


_WEEKDAYS = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"]


def _built_tariffs() -> list[TariffCase]:
    """Tariffs a CPO really publishes, beyond the spec's examples."""
    peak = _tariff(
        "TOD",
        _element(_component("FLAT", "0.35")),
        _element(_component("ENERGY", "0.45", step=100), start_time="07:00", end_time="21:00"),
        _element(_component("ENERGY", "0.29", step=100)),  # off-peak, wraps midnight in effect
        _element(_component("PARKING_TIME", "1.20", step=300)),
    )
    night_window = _tariff(
        "NIGHT",
        _element(_component("ENERGY", "0.25"), start_time="22:00", end_time="06:00"),
        _element(
            _component("ENERGY", "0.39"), _component("TIME", "0.60", step=60), day_of_week=_WEEKDAYS
        ),
        _element(_component("ENERGY", "0.33"), _component("TIME", "0.30", step=60)),
    )
    kwh_tiers = _tariff(
        "TIERS",
        _element(_component("ENERGY", "0.49"), max_kwh=Decimal(10)),
        _element(_component("ENERGY", "0.42"), min_kwh=Decimal(10), max_kwh=Decimal(30)),
        _element(_component("ENERGY", "0.36"), min_kwh=Decimal(30)),
        _element(_component("TIME", "0.05", step=60)),
    )
    parking_after_2h = _tariff(
        "PARK2H",
        _element(_component("ENERGY", "0.39", step=1)),
        _element(_component("PARKING_TIME", "0"), max_duration=7200),
        _element(_component("PARKING_TIME", "6.00", step=900), min_duration=7200),
    )
    limits = _tariff(
        "LIMITS",
        _element(_component("FLAT", "1.00")),
        _element(_component("ENERGY", "0.40", step=10)),
        _element(_component("TIME", "1.50", step=60), min_duration=3600),
        min_price={"excl_vat": Decimal("5.00"), "incl_vat": Decimal("6.00")},
        max_price={"excl_vat": Decimal("25.00"), "incl_vat": Decimal("30.00")},
    )
    power_and_hours = _tariff(
        "HPC",
        _element(_component("ENERGY", "0.69", step=1), min_power=Decimal(50)),
        _element(_component("ENERGY", "0.49", step=1)),
        _element(_component("TIME", "0.10", step=60), min_duration=2700, max_duration=14400),
        _element(
            _component("PARKING_TIME", "3.00", step=300), start_time="08:00", end_time="20:00"
        ),
    )
    cases = [
        TariffCase("time-of-day", "tiers+windows", "2.2.1", peak, "Europe/Berlin"),
        TariffCase("night window", "tiers+windows", "2.2.1", night_window, "Europe/Paris"),
        TariffCase("kWh tiers", "tiers+windows", "2.2.1", kwh_tiers, "Europe/Berlin"),
        TariffCase("parking after 2 h", "tiers+windows", "2.2.1", parking_after_2h, "UTC"),
        TariffCase("min/max price", "tiers+windows", "2.2.1", limits, "Europe/Madrid"),
        TariffCase("power + duration", "tiers+windows", "2.2.1", power_and_hours, "Europe/Oslo"),
    ]
    # The same time-of-day tariffs read in zones where the sessions cross DST switches.
    for zone in ("Europe/Amsterdam", "America/New_York", "Australia/Lord_Howe"):
        cases.append(TariffCase(f"time-of-day {zone}", "tiers+windows", "2.2.1", peak, zone))
        cases.append(
            TariffCase(f"night window {zone}", "tiers+windows", "2.2.1", night_window, zone)
        )
    return cases


def _family(name: str, data: dict[str, Any]) -> str:
    if "complex" in name:
        return "complex (tariff_4)"
    if "reservation" in name:
        return "reservation"
    if any("restrictions" in element for element in data["elements"]):
        return "tiers+windows"
    return "simple"


def _spec_tariffs() -> list[TariffCase]:
    cases = []
    for version in ("2.2.1", "2.3.0"):
        for path in sorted((EXAMPLES / version).glob("tariff*.json")):
            data = json.loads(path.read_text())
            zone = "America/Toronto" if "north_american" in path.name else "Europe/Amsterdam"
            name = f"{version} {path.stem}"
            cases.append(TariffCase(name, _family(path.stem, data), version, data, zone))
    return cases


def tariff_cases() -> list[TariffCase]:
    return _spec_tariffs() + _built_tariffs()


# --- sessions ------------------------------------------------------------------------------------

# Around the 2024 DST switches of the zones above (UTC): the sessions start hours before them.
_DST_SWITCHES = [
    datetime(2024, 3, 31, 1, tzinfo=UTC),  # Europe
    datetime(2024, 10, 27, 1, tzinfo=UTC),
    datetime(2024, 3, 10, 7, tzinfo=UTC),  # America/New_York
    datetime(2024, 11, 3, 6, tzinfo=UTC),
    datetime(2024, 4, 6, 15, tzinfo=UTC),  # Australia/Lord_Howe (30-minute shift)
    datetime(2024, 10, 5, 15, 30, tzinfo=UTC),
]


def _session_start(rng: random.Random) -> datetime:
    pick = rng.random()
    if pick < 0.15:  # near a DST switch
        return rng.choice(_DST_SWITCHES) + timedelta(seconds=rng.randint(-5 * 3600, 3600))
    if pick < 0.40:  # in the evening, so the session runs across local midnight
        day = datetime(2024, 1, 1, 20, tzinfo=UTC) + timedelta(days=rng.randint(0, 365))
        return day + timedelta(seconds=rng.randint(0, 4 * 3600))
    return datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randint(0, 366 * 86400 - 1))


def _session(rng: random.Random) -> list[ChargingPeriodInput]:
    """3-6 back-to-back periods; charging periods vary power (and so current and energy)."""
    count = rng.randint(3, 6)
    kinds = [PeriodKind.CHARGING] * count
    if rng.random() < 0.6:
        kinds[-1] = PeriodKind.PARKING  # the car stays after it is full
    if count > 3 and rng.random() < 0.3:
        kinds[-2] = PeriodKind.PARKING  # a pause in charging (e.g. smart charging)
    if rng.random() < 0.1:
        kinds[0] = PeriodKind.RESERVATION
    moment = _session_start(rng)
    periods = []
    for kind in kinds:
        seconds = rng.randint(5 * 60, 90 * 60)
        energy = current = power = None
        if kind is PeriodKind.CHARGING:
            kw = rng.choice([3.7, 7.4, 11, 22, 50, 75, 150]) * rng.uniform(0.4, 1.0)
            power = Decimal(f"{kw:.2f}")
            current = Decimal(f"{kw * 1000 / 230:.1f}")
            energy = Decimal(f"{kw * seconds / 3600:.3f}")
        periods.append(
            ChargingPeriodInput(
                start=moment,
                seconds=Decimal(seconds),
                kind=kind,
                energy=energy or Decimal(0),
                max_current=current,
                max_power=power,
            )
        )
        moment += timedelta(seconds=seconds)
    return periods


def session_pool(size: int, seed: int = SEED) -> list[list[ChargingPeriodInput]]:
    rng = random.Random(seed)
    return [_session(rng) for _ in range(size)]


# --- measuring -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """One CDR to price: a tariff case (parsed once), and a session from the pool."""

    case: TariffCase
    tariff: Tariff
    periods: list[ChargingPeriodInput]


def jobs(cases: list[TariffCase], pool: list[list[ChargingPeriodInput]], n: int) -> Iterator[Job]:
    """N jobs cycling through every tariff, with sessions drawn in a fixed random order."""
    tariffs = [tariff_from_ocpi(case.data, case.version) for case in cases]
    rng = random.Random(SEED + 1)
    for i in range(n):
        k = i % len(cases)
        yield Job(cases[k], tariffs[k], pool[rng.randrange(len(pool))])


def _steady(job: Job) -> object:
    return price_session(job.tariff, job.periods, job.case.zone)


def _with_parsing(job: Job) -> object:
    return price_session(
        tariff_from_ocpi(job.case.data, job.case.version), job.periods, job.case.zone
    )


@dataclass
class Figures:
    """What one timed run measured."""

    mode: str
    cdrs: int
    wall_s: float
    cpu_s: float
    mean_us: float  # wall clock per call
    p99_us: float
    per_family: dict[str, tuple[int, float]]  # family -> (CDRs, CPU us per CDR)

    @property
    def wall_rate(self) -> float:
        return self.cdrs / self.wall_s

    @property
    def cpu_rate(self) -> float:
        return self.cdrs / self.cpu_s


def measure(mode: str, work: list[Job], price: Callable[[Job], object]) -> Figures:
    """Price every job once, timing each call; the clocks also cover the whole loop.

    Then each tariff family is priced again on its own (a quarter of its jobs) and timed in
    process CPU time, which other load on the machine does not inflate as much as wall time.
    """
    durations = [0] * len(work)
    clock = time.perf_counter_ns
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for i, job in enumerate(work):
        t0 = clock()
        price(job)
        durations[i] = clock() - t0
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    families: dict[str, list[Job]] = {}
    for job in work:
        families.setdefault(job.case.family, []).append(job)
    per_family = {}
    for family, jobs_of_family in sorted(families.items()):
        sample = jobs_of_family[: max(len(jobs_of_family) // 4, 1)]
        cpu0 = time.process_time()
        for job in sample:
            price(job)
        per_family[family] = (len(sample), (time.process_time() - cpu0) / len(sample) * 1e6)
    ordered = sorted(durations)
    return Figures(
        mode=mode,
        cdrs=len(work),
        wall_s=wall,
        cpu_s=cpu,
        mean_us=statistics.fmean(durations) / 1000,
        p99_us=ordered[int(len(ordered) * 0.99)] / 1000,
        per_family=per_family,
    )


# --- the machine ---------------------------------------------------------------------------------


def pin_to_one_core() -> str:
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no sched_setaffinity on this OS)"
    cpus = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpus[-1]})
    return f"pinned to CPU {cpus[-1]} (of {len(cpus)} allowed)"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# --- main ----------------------------------------------------------------------------------------


def _print(figures: Figures) -> None:
    print(f"\n{figures.mode}: {figures.cdrs:,} CDRs")
    print(f"  wall {figures.wall_s:.2f} s = {figures.wall_rate:,.0f} CDRs/s")
    print(f"  CPU  {figures.cpu_s:.2f} s = {figures.cpu_rate:,.0f} CDRs/s")
    print(f"  per CDR (wall): mean {figures.mean_us:.1f} us, p99 {figures.p99_us:.1f} us")
    print("  per tariff family (CPU):")
    for family, (count, mean) in figures.per_family.items():
        print(f"    {family:<20} {count:>7,} CDRs  {mean:6.1f} us = {1e6 / mean:,.0f}/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_CDRS:,} CDRs")
    parser.add_argument("-n", type=int, help="number of CDRs (overrides --quick)")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    parser.add_argument("--profile", action="store_true", help="cProfile the steady state")
    args = parser.parse_args()
    n = args.n or (QUICK_CDRS if args.quick else FULL_CDRS)

    pinned = pin_to_one_core()
    cases = tariff_cases()
    pool = session_pool(SESSION_POOL)
    work = list(jobs(cases, pool, n))
    warm = list(jobs(cases, pool, min(n, 5_000)))
    print(f"Python {platform.python_version()} ({platform.python_implementation()}), {cpu_model()}")
    print(f"{pinned}; {len(cases)} tariffs, {len(pool):,} sessions of 3-6 periods")

    for job in warm:  # warm-up: compiled-tariff cache, zone cache, interpreter caches
        _steady(job)
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(lambda: [_steady(job) for job in work])
        pstats.Stats(profiler).sort_stats("tottime").print_stats(40)
        return

    gc.collect()
    steady = measure("steady state (tariffs parsed once)", work, _steady)
    _print(steady)
    # A quarter of N is enough: each call parses and compiles a new Tariff (a cold cache).
    parsed = measure("including tariff parsing per CDR", work[: max(n // 4, 1)], _with_parsing)
    _print(parsed)
    print(f"\ntarget >= {TARGET_PER_SECOND:,} CDRs/s on one core, steady state:")
    for clock, rate in (("CPU time", steady.cpu_rate), ("wall clock", steady.wall_rate)):
        verdict = "met" if rate >= TARGET_PER_SECOND else "NOT met"
        print(f"  by {clock:<10} {rate:>9,.0f} CDRs/s: {verdict}")
    print(f"  load average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.json:
        print(
            json.dumps(
                {
                    "python": platform.python_version(),
                    "cpu": cpu_model(),
                    "cdrs": n,
                    **{
                        f"{key}_{name}": round(value, 1)
                        for key, fig in (("steady", steady), ("parsing", parsed))
                        for name, value in (
                            ("wall_per_s", fig.wall_rate),
                            ("cpu_per_s", fig.cpu_rate),
                            ("mean_us", fig.mean_us),
                            ("p99_us", fig.p99_us),
                        )
                    },
                }
            )
        )


if __name__ == "__main__":
    main()
