"""Price a session under an OCPI tariff: split periods, pick elements, step sizes, tax, limits."""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_CEILING, Decimal, localcontext
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from billing.pricing.errors import SessionInputError
from billing.pricing.model import (
    ZERO,
    ChargingPeriodInput,
    ComponentCharge,
    CostCategory,
    DayOfWeek,
    DimensionType,
    Money,
    PeriodKind,
    PriceComponent,
    PricedPeriod,
    PricingResult,
    ReservationRestriction,
    Restrictions,
    Tariff,
    TaxIncluded,
    as_timedelta,
    exact_seconds,
    slot_builder,
)
from billing.pricing.rounding import (
    CALCULATION_CONTEXT,
    round_energy,
    round_hours,
    round_money,
    zero_money,
)

_HUNDRED = Decimal(100)
_HOUR = Decimal(3600)
_WH_PER_KWH = Decimal(1000)
_STEP_PRECISION = Decimal("1e-12")
_MINUTES_PER_DAY = 1440
_ONE_DAY = timedelta(days=1)
_US_PER_SECOND = 1_000_000
_US_PER_MINUTE = 60 * _US_PER_SECOND
_US_PER_DAY = 86_400 * _US_PER_SECOND

_FLAT = DimensionType.FLAT
_ENERGY = DimensionType.ENERGY
_TIME = DimensionType.TIME
_PARKING = DimensionType.PARKING_TIME
_CHARGING = PeriodKind.CHARGING
_RESERVATION = PeriodKind.RESERVATION
_PARKING_PERIOD = PeriodKind.PARKING
_ONE = Decimal(1)
_NO_HOURS = round_hours(ZERO / _HOUR)

# Result objects are built per piece and per component of every CDR; these builders skip the
# frozen dataclass __init__ (see `slot_builder`) and take the same arguments.
_priced_period = slot_builder(PricedPeriod)
_component_charge = slot_builder(ComponentCharge)
_pricing_result = slot_builder(PricingResult)
_WEEKDAYS = list(DayOfWeek)  # in datetime.weekday() order


def price_session(
    tariff: Tariff, periods: Sequence[ChargingPeriodInput], time_zone: str
) -> PricingResult:
    """Price charging periods under `tariff`; `time_zone` is the location's IANA zone name.

    Periods must be in chronological order. Each period is cut wherever a restriction can change
    (local time of day or date, session duration, kWh charged so far) and every piece is priced,
    per dimension, by the first element whose restrictions hold. Reservation periods are priced
    only by reservation elements; a session made only of reservation periods is a reservation
    that expired unused.
    """
    plan = _plan_for(tariff)
    zone = _zone(time_zone)
    session_start, reservation_start = _checked_starts(periods)
    with localcontext(CALCULATION_CONTEXT):
        return _Pricer(tariff, plan, zone).run(periods, session_start, reservation_start)


# --- compiled tariff -----------------------------------------------------------------------------


class _Moment:
    """Everything a restriction can look at, for the start of one split period (reused)."""

    __slots__ = ("current", "date", "elapsed", "kwh", "minute", "power", "weekday")

    def __init__(self) -> None:
        self.minute = 0
        self.date = date.min
        self.weekday = 0
        self.kwh = ZERO
        self.elapsed = ZERO
        self.current: Decimal | None = None
        self.power: Decimal | None = None


class _Rule:
    """The restrictions of one element in a form that is quick to test against a moment."""

    __slots__ = (
        "days",
        "end_date",
        "end_minute",
        "max_current",
        "max_duration",
        "max_kwh",
        "max_power",
        "min_current",
        "min_duration",
        "min_kwh",
        "min_power",
        "start_date",
        "start_minute",
        "tests",
    )

    def __init__(self, r: Restrictions) -> None:
        self.start_minute, self.end_minute = _window(r)
        self.start_date = r.start_date
        self.end_date = r.end_date
        self.days = frozenset(_WEEKDAYS.index(d) for d in r.day_of_week) or None
        self.min_kwh, self.max_kwh = r.min_kwh, r.max_kwh
        self.min_current, self.max_current = r.min_current, r.max_current
        self.min_power, self.max_power = r.min_power, r.max_power
        self.min_duration = None if r.min_duration is None else Decimal(r.min_duration)
        self.max_duration = None if r.max_duration is None else Decimal(r.max_duration)
        self.tests = self._compile_tests()

    def matches(self, m: _Moment) -> bool:
        # A plain loop: all() over a generator costs more than the usual one or two tests.
        for test in self.tests:  # noqa: SIM110
            if not test(m):
                return False
        return True

    def _compile_tests(self) -> tuple[_Test, ...]:
        """One predicate per condition the element sets, so a moment is tested for nothing else.

        Elements usually set one or two restrictions, and this runs for every piece of every
        session, so unset conditions must cost nothing.
        """
        tests: list[_Test | None] = []
        days = self.days
        if days is not None:
            tests.append(lambda m: m.weekday in days)
        start, end = self.start_minute, self.end_minute
        if start is not None and end is not None:
            if start < end:
                tests.append(lambda m: start <= m.minute < end)
            else:  # wraps past midnight
                tests.append(lambda m: m.minute >= start or m.minute < end)
        first_day, after_last_day = self.start_date, self.end_date
        if first_day is not None:
            tests.append(lambda m: m.date >= first_day)
        if after_last_day is not None:
            tests.append(lambda m: m.date < after_last_day)
        tests.append(_range_test("kwh", self.min_kwh, self.max_kwh))
        tests.append(_range_test("elapsed", self.min_duration, self.max_duration))
        tests.append(_range_test("current", self.min_current, self.max_current))
        tests.append(_range_test("power", self.min_power, self.max_power))
        return tuple(test for test in tests if test is not None)


_Test = Callable[[_Moment], bool]


def _range_test(field: str, low: Decimal | None, high: Decimal | None) -> _Test | None:
    """Test that the moment's `field` is in [low, high); None when neither bound is set.

    A value that is unknown (None: current or power while charging) fails any bound on it.
    """
    read = operator.attrgetter(field)
    if low is not None and high is not None:
        return lambda m: (value := read(m)) is not None and low <= value < high
    if low is not None:
        return lambda m: (value := read(m)) is not None and value >= low
    if high is not None:
        return lambda m: (value := read(m)) is not None and value < high
    return None


def _window(r: Restrictions) -> tuple[int | None, int | None]:
    """Time-of-day window as (start, end) minutes, or (None, None) when it covers the whole day."""
    if r.start_time is None and r.end_time is None:
        return None, None
    start = 0 if r.start_time is None else r.start_time.hour * 60 + r.start_time.minute
    end = 0 if r.end_time is None else r.end_time.hour * 60 + r.end_time.minute
    end = end or _MINUTES_PER_DAY  # 00:00 as an end means midnight at the end of the day
    if start == end or (start == 0 and end == _MINUTES_PER_DAY):
        return None, None  # equal bounds are read as the whole day
    return start, end


@dataclass(frozen=True, slots=True)
class _Slot:
    """One usable price component, numbered so volumes can be kept in a flat dict."""

    index: int
    element_index: int
    component_index: int
    component: PriceComponent
    rule: _Rule | None
    category: CostCategory
    step: Decimal | None  # step_size in the unit volumes are kept in (kWh, s); None: no steps


@dataclass(frozen=True, slots=True)
class _Plan:
    """A tariff compiled for pricing; cached per Tariff object."""

    slots: tuple[_Slot, ...]
    session: dict[DimensionType, tuple[_Slot, ...]]
    reservation: dict[DimensionType, tuple[_Slot, ...]]
    expired: dict[DimensionType, tuple[_Slot, ...]]
    day_marks: tuple[timedelta, ...]  # local times of day at which a restriction flips
    day_marks_us: tuple[int, ...]  # the same in microseconds since midnight
    duration_marks: tuple[Decimal, ...]  # seconds into the session
    kwh_marks: tuple[Decimal, ...]
    restricted: bool  # whether any reachable element has restrictions (else no moment needed)
    # Derived flags, stored rather than computed because they are read for every period.
    uses_local_time: bool  # some reachable rule looks at the local clock or calendar
    splits: bool  # some reachable rule can flip inside a period


_PLANS: dict[int, tuple[Tariff, _Plan]] = {}
_PLAN_CACHE_SIZE = 1024


def _plan_for(tariff: Tariff) -> _Plan:
    """Compiled plan of `tariff`; keyed by identity, since hashing a whole tariff costs more."""
    hit = _PLANS.get(id(tariff))
    if hit is not None and hit[0] is tariff:
        return hit[1]
    plan = _compile(tariff)
    if len(_PLANS) >= _PLAN_CACHE_SIZE:
        _PLANS.clear()
    _PLANS[id(tariff)] = (tariff, plan)  # holding the tariff keeps its id from being reused
    return plan


def _compile(tariff: Tariff) -> _Plan:
    slots: list[_Slot] = []
    by_element: list[tuple[ReservationRestriction | None, list[_Slot]]] = []
    for element_index, element in enumerate(tariff.elements):
        r = element.restrictions
        reservation = r.reservation if r is not None else None
        rule = _Rule(r) if r is not None and _has_conditions(r) else None
        element_slots: list[_Slot] = []
        seen: set[DimensionType] = set()
        for component_index, component in enumerate(element.price_components):
            if component.type in seen:
                continue  # an element prices each dimension with its first component only
            seen.add(component.type)
            category = _category(component.type, reservation is not None)
            slot = _Slot(
                len(slots),
                element_index,
                component_index,
                component,
                rule,
                category,
                _step(component),
            )
            slots.append(slot)
            element_slots.append(slot)
        by_element.append((reservation, element_slots))

    def candidates(
        *wanted: ReservationRestriction | None,
    ) -> dict[DimensionType, tuple[_Slot, ...]]:
        ordered = [s for kind in wanted for res, ss in by_element if res is kind for s in ss]
        return {dim: _until_unrestricted(ordered, dim) for dim in DimensionType}

    expires = ReservationRestriction.RESERVATION_EXPIRES
    for_session = candidates(None)
    for_reservation = candidates(ReservationRestriction.RESERVATION)
    # An expired reservation is priced by RESERVATION_EXPIRES elements first.
    for_expired = candidates(expires, ReservationRestriction.RESERVATION)
    lists = (*for_session.values(), *for_reservation.values(), *for_expired.values())
    # Only rules that can decide a price matter; elements shadowed by an earlier
    # unrestricted one for every dimension they have never need a split.
    rules = {id(s.rule): s.rule for found in lists for s in found if s.rule is not None}
    minutes: set[int] = set()
    durations: set[Decimal] = set()
    kwhs: set[Decimal] = set()
    for rule in rules.values():
        _collect_marks(rule, minutes, durations, kwhs)
    return _Plan(
        slots=tuple(slots),
        session=for_session,
        reservation=for_reservation,
        expired=for_expired,
        day_marks=tuple(timedelta(minutes=m) for m in sorted(minutes)),
        day_marks_us=tuple(m * _US_PER_MINUTE for m in sorted(minutes)),
        duration_marks=tuple(sorted(durations)),
        kwh_marks=tuple(sorted(kwhs)),
        restricted=bool(rules),
        uses_local_time=bool(minutes),
        splits=bool(minutes or durations or kwhs),
    )


def _has_conditions(r: Restrictions) -> bool:
    return r != Restrictions(reservation=r.reservation)


def _collect_marks(
    rule: _Rule, minutes: set[int], durations: set[Decimal], kwhs: set[Decimal]
) -> None:
    if rule.days is not None or rule.start_date is not None or rule.end_date is not None:
        minutes.add(0)  # dates and weekdays change at local midnight
    for minute in (rule.start_minute, rule.end_minute):
        if minute is not None:
            minutes.add(minute % _MINUTES_PER_DAY)
    durations.update(d for d in (rule.min_duration, rule.max_duration) if d is not None)
    kwhs.update(k for k in (rule.min_kwh, rule.max_kwh) if k is not None)


def _until_unrestricted(slots: list[_Slot], dim: DimensionType) -> tuple[_Slot, ...]:
    """Slots of `dim` in tariff order, cut after the first one that always applies."""
    result: list[_Slot] = []
    for slot in slots:
        if slot.component.type is dim:
            result.append(slot)
            if slot.rule is None:
                break
    return tuple(result)


def _step(component: PriceComponent) -> Decimal | None:
    if component.step_size <= 0:
        return None
    # Energy volumes are kept in kWh but steps are in Wh; time volumes and steps are seconds.
    # Worked out once per tariff, in the context the pricing itself runs in.
    with localcontext(CALCULATION_CONTEXT):
        return component.step_size / (_WH_PER_KWH if component.type is _ENERGY else _ONE)


def _category(dim: DimensionType, reservation: bool) -> CostCategory:
    if reservation and dim in (_FLAT, _TIME):
        return CostCategory.RESERVATION
    return {
        _FLAT: CostCategory.FIXED,
        _ENERGY: CostCategory.ENERGY,
        _TIME: CostCategory.TIME,
        _PARKING: CostCategory.PARKING,
    }[dim]


def _pick(candidates: tuple[_Slot, ...], moment: _Moment) -> _Slot | None:
    for slot in candidates:
        if slot.rule is None or slot.rule.matches(moment):
            return slot
    return None


@functools.lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise SessionInputError("time_zone", f"unknown time zone {name!r}") from exc


def _checked_starts(
    periods: Sequence[ChargingPeriodInput],
) -> tuple[datetime | None, datetime | None]:
    """Check the periods, and return where the session and the reservation start (or None).

    Durations count from those starts. One pass does both: it runs for every CDR.
    """
    session_start = reservation_start = previous = None
    for i, period in enumerate(periods):
        start = period.start
        # Most starts are in UTC; asking any other zone for its offset is what tells aware
        # from naive (a tzinfo may answer None).
        if start.tzinfo is not UTC and start.utcoffset() is None:
            raise SessionInputError(f"periods[{i}].start", "must be timezone-aware")
        if period.seconds < ZERO:
            raise SessionInputError(f"periods[{i}].seconds", "must not be negative")
        if previous is not None and start < previous:
            raise SessionInputError(f"periods[{i}].start", "is before the previous period")
        previous = start
        if period.kind is _RESERVATION:
            reservation_start = reservation_start or start
        else:
            session_start = session_start or start
    return session_start, reservation_start


# --- pricing -------------------------------------------------------------------------------------


class _Pricer:
    """State of pricing one session; lives for one `price_session` call."""

    def __init__(self, tariff: Tariff, plan: _Plan, zone: ZoneInfo) -> None:
        self.tariff = tariff
        self.plan = plan
        self.zone = zone
        self.moment = _Moment()
        self.volumes: dict[int, Decimal] = {}  # slot index -> kWh, seconds or 1 (FLAT)
        self.last_energy: _Slot | None = None
        self.last_time: _Slot | None = None  # last TIME or PARKING_TIME slot that priced time
        self.last_reservation: _Slot | None = None
        self.flat_charged = [False, False]  # indexed by "is reservation"
        self.out: list[PricedPeriod] = []

    def run(
        self,
        periods: Sequence[ChargingPeriodInput],
        session_start: datetime | None,
        reservation_start: datetime | None,
    ) -> PricingResult:
        plan = self.plan
        reservation_slots = plan.reservation if session_start is not None else plan.expired
        kwh = ZERO
        # Durations count from the start of the reservation or of the session respectively.
        for period in periods:
            if period.kind is _RESERVATION:
                assert reservation_start is not None
                self._split(period, reservation_start, ZERO, reservation_slots)
            else:
                assert session_start is not None
                self._split(period, session_start, kwh, plan.session)
                kwh += period.energy
        extra = self._step_size_extras()
        return self._result(periods, extra)

    def _split(
        self,
        period: ChargingPeriodInput,
        origin: datetime,
        kwh_before: Decimal,
        slots: dict[DimensionType, tuple[_Slot, ...]],
    ) -> None:
        """Cut a period wherever a restriction can flip, then price each piece."""
        plan = self.plan
        length = period.seconds
        kwh_after = kwh_before + period.energy
        elapsed = exact_seconds(period.start - origin) if plan.duration_marks else ZERO
        if not plan.splits:  # most tariffs: one piece, nothing to work out
            self._price_piece(period, period.start, length, kwh_before, kwh_after, elapsed, slots)
            return
        kwh_at: dict[Decimal, Decimal] = {}
        cuts = self._cuts(period, elapsed, kwh_before, kwh_at)
        if not cuts:
            self._price_piece(period, period.start, length, kwh_before, kwh_after, elapsed, slots)
            return
        offsets = [ZERO, *cuts, length]
        kwh_from = kwh_before
        for i in range(len(offsets) - 1):
            a, b = offsets[i], offsets[i + 1]
            if b == length:
                kwh_to = kwh_after
            elif b in kwh_at:
                kwh_to = kwh_at[b]
            else:
                kwh_to = kwh_before + period.energy * b / length
            start = period.start + as_timedelta(a)
            self._price_piece(period, start, b - a, kwh_from, kwh_to, elapsed + a, slots)
            kwh_from = kwh_to

    def _cuts(
        self,
        period: ChargingPeriodInput,
        elapsed: Decimal,
        kwh_before: Decimal,
        kwh_at: dict[Decimal, Decimal],
    ) -> list[Decimal]:
        plan = self.plan
        length = period.seconds
        if length <= 0:
            return []
        cuts = {mark - elapsed for mark in plan.duration_marks} if plan.duration_marks else set()
        energy = period.energy
        if energy and plan.kwh_marks:
            low, high = sorted((kwh_before, kwh_before + energy))  # energy may be negative
            for mark in plan.kwh_marks:
                if low < mark < high:
                    # Energy is taken to flow evenly within a period, so interpolate linearly.
                    offset = (mark - kwh_before) * length / energy
                    kwh_at[offset] = mark
                    cuts.add(offset)
        if plan.day_marks:
            cuts.update(_local_cuts(self.zone, plan, period.start, length))
        return sorted(c for c in cuts if ZERO < c < length)

    def _price_piece(
        self,
        period: ChargingPeriodInput,
        start: datetime,
        seconds: Decimal,
        kwh_from: Decimal,
        kwh_to: Decimal,
        elapsed: Decimal,
        slots: dict[DimensionType, tuple[_Slot, ...]],
    ) -> None:
        moment = self.moment
        plan = self.plan
        kind = period.kind
        charging = kind is _CHARGING
        if plan.restricted:
            if plan.kwh_marks:  # only then does a rule look at kWh
                # The middle of the piece, so falling energy is judged right.
                moment.kwh = (kwh_from + kwh_to) / 2
            moment.elapsed = elapsed
            # Not charging means no current; while charging an unknown value fails restrictions.
            moment.current = period.max_current if charging or period.max_current else ZERO
            moment.power = period.max_power if charging or period.max_power else ZERO
            if plan.uses_local_time:
                local = start.astimezone(self.zone)
                moment.minute = local.hour * 60 + local.minute
                moment.date = local.date()
                moment.weekday = local.weekday()

        energy = kwh_to - kwh_from
        reservation = kind is _RESERVATION
        volumes = self.volumes
        energy_slot = time_slot = flat_slot = None
        # Empty candidate lists are common (a time-only tariff has no ENERGY slot): skip them.
        if energy and not reservation and slots[_ENERGY]:
            energy_slot = _pick(slots[_ENERGY], moment)
            if energy_slot is not None:
                volumes[energy_slot.index] = volumes.get(energy_slot.index, ZERO) + energy
                self.last_energy = energy_slot
        time_candidates = slots[_TIME if charging or reservation else _PARKING]
        if seconds and time_candidates:
            time_slot = _pick(time_candidates, moment)
            if time_slot is not None:
                volumes[time_slot.index] = volumes.get(time_slot.index, ZERO) + seconds
                if reservation:
                    self.last_reservation = time_slot
                else:
                    self.last_time = time_slot
        if not self.flat_charged[reservation] and slots[_FLAT]:
            flat_slot = _pick(slots[_FLAT], moment)
            if flat_slot is not None:
                volumes[flat_slot.index] = volumes.get(flat_slot.index, ZERO) + _ONE
                self.flat_charged[reservation] = True
        # Positional arguments: this runs for every piece, and keywords cost more.
        self.out.append(
            _priced_period(
                start,
                kind,
                seconds,
                energy,
                period.max_current,
                period.max_power,
                None if energy_slot is None else energy_slot.element_index,
                None if time_slot is None else time_slot.element_index,
                None if flat_slot is None else flat_slot.element_index,
            )
        )

    def _step_size_extras(self) -> dict[int, Decimal]:
        """Volume to add to the last used slot of each step group (energy, time, reservation).

        The group total is rounded up to the last slot's step size; the time group is the
        dimension (TIME or PARKING_TIME) of the last priced time, so only that one is rounded.
        """
        extras: dict[int, Decimal] = {}
        slots = self.plan.slots
        for last in (self.last_energy, self.last_time, self.last_reservation):
            if last is None or last.step is None:
                continue
            category, dim = last.category, last.component.type
            total = ZERO
            for index, volume in self.volumes.items():
                slot = slots[index]
                if slot.category is category and slot.component.type is dim:
                    total += volume
            if total <= ZERO:
                continue
            step = last.step
            # Interpolated volumes can carry division noise in their last digits; it must not
            # buy a whole extra step, so the step count is settled at 12 decimals first.
            steps = (total / step).quantize(_STEP_PRECISION)
            billed = steps.to_integral_value(ROUND_CEILING) * step  # positional: faster
            if billed != total:
                extras[last.index] = billed - total
        return extras

    def _result(
        self, periods: Sequence[ChargingPeriodInput], extras: dict[int, Decimal]
    ) -> PricingResult:
        tariff = self.tariff
        currency = tariff.currency
        tax_included = tariff.tax_included
        taxed = tax_included is not TaxIncluded.NOT_APPLICABLE
        slots = self.plan.slots
        sums: dict[CostCategory, _Sum] = {}
        charges = []
        for index in sorted(self.volumes):
            slot = slots[index]
            charge = _charge(slot, self.volumes[index], extras.get(index, ZERO), tax_included)
            part = sums.get(slot.category)
            if part is None:
                part = sums[slot.category] = _Sum()
            part.add(charge.amount_excl_tax, charge.amount_incl_tax, charge.vat if taxed else None)
            charges.append(charge)
        total = _Sum()
        for part in sums.values():
            total.merge(part)
        low, high = total.clamp(tariff)
        costs = {category: part.money(currency) for category, part in sums.items()}
        if len(costs) == 1 and not (low or high):
            # The total is then the one sub-total's exact sums, so it rounds to the same Money.
            (total_cost,) = costs.values()
        else:
            total_cost = total.money(currency)
        zero = zero_money(currency)
        energy, session_seconds, parking_seconds, reservation_seconds = _totals(periods)
        return _pricing_result(
            currency=currency,
            total_cost=total_cost,
            total_fixed_cost=costs.get(CostCategory.FIXED, zero),
            total_energy_cost=costs.get(CostCategory.ENERGY, zero),
            total_time_cost=costs.get(CostCategory.TIME, zero),
            total_parking_cost=costs.get(CostCategory.PARKING, zero),
            total_reservation_cost=costs.get(CostCategory.RESERVATION, zero),
            total_energy=round_energy(energy),
            total_time=_hours(session_seconds),
            total_parking_time=_hours(parking_seconds),
            total_reservation_time=_hours(reservation_seconds),
            periods=tuple(self.out),
            components=tuple(charges),
            min_price_applied=low,
            max_price_applied=high,
        )


def _totals(periods: Sequence[ChargingPeriodInput]) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    """Energy, session (charging + parking), parking and reservation seconds, in one pass."""
    energy = session = parking = reservation = ZERO
    for period in periods:
        energy += period.energy
        kind = period.kind
        if kind is _RESERVATION:
            reservation += period.seconds
        else:
            session += period.seconds
            if kind is _PARKING_PERIOD:
                parking += period.seconds
    return energy, session, parking, reservation


def _hours(seconds: Decimal) -> Decimal:
    # `_totals` returns ZERO itself when no period added to a total (no parking, no
    # reservation: most sessions), and its rounded hours are then known.
    return _NO_HOURS if seconds is ZERO else round_hours(seconds / _HOUR)


def _charge(
    slot: _Slot, volume: Decimal, extra: Decimal, tax_included: TaxIncluded
) -> ComponentCharge:
    component = slot.component
    billed = volume + extra
    if component.type is _FLAT:
        base = component.price
    elif component.type is _ENERGY:
        base = component.price * billed
    else:  # seconds, priced per hour
        base = component.price * billed / _HOUR
        volume, billed = volume / _HOUR, billed / _HOUR
    excl, incl = _with_tax(base, component.vat, tax_included)
    # Positional, in field order: element, component, type, category, volume, billed_volume,
    # price, vat, amount_excl_tax, amount_incl_tax.
    return _component_charge(
        slot.element_index,
        slot.component_index,
        component.type,
        slot.category,
        volume,
        billed,
        component.price,
        component.vat,
        excl,
        incl,
    )


def _with_tax(
    amount: Decimal, vat: Decimal | None, tax_included: TaxIncluded
) -> tuple[Decimal, Decimal]:
    """(excl, incl) of a priced amount; an included tax is taken back out at the VAT rate."""
    if vat is None or tax_included is TaxIncluded.NOT_APPLICABLE:
        return amount, amount
    if tax_included is TaxIncluded.YES:
        return amount * _HUNDRED / (_HUNDRED + vat), amount
    return amount, amount + amount * vat / _HUNDRED


class _Sum:
    """Exact running total of excl/incl amounts and tax per VAT rate."""

    __slots__ = ("excl", "incl", "taxes")

    def __init__(self) -> None:
        self.excl = ZERO
        self.incl = ZERO
        self.taxes: dict[Decimal | None, Decimal] = {}

    def add(self, excl: Decimal, incl: Decimal, vat: Decimal | None) -> None:
        self.excl += excl
        self.incl += incl
        if vat is not None:  # a 0% rate still gets its (zero) line: it differs from "no VAT"
            self.taxes[vat] = self.taxes.get(vat, ZERO) + incl - excl

    def merge(self, other: _Sum) -> None:
        self.excl += other.excl
        self.incl += other.incl
        for rate, amount in other.taxes.items():
            self.taxes[rate] = self.taxes.get(rate, ZERO) + amount

    def clamp(self, tariff: Tariff) -> tuple[bool, bool]:
        """Apply min/max price; returns whether the minimum / maximum changed the total.

        The amount before tax is clamped first; the amount after tax follows it in proportion
        (keeping the session's mix of VAT rates) and is then held to its own limits. Tax lines
        are rescaled to the new difference.
        """
        low, high = tariff.min_price, tariff.max_price
        excl, incl = self.excl, self.incl
        if low is not None and excl < low.excl_tax:
            excl = low.excl_tax
        if high is not None and excl > high.excl_tax:
            excl = high.excl_tax
        if excl != self.excl:
            incl = incl * excl / self.excl if self.excl else excl
        if low is not None and low.incl_tax is not None and incl < low.incl_tax:
            incl = low.incl_tax
        if high is not None and high.incl_tax is not None and incl > high.incl_tax:
            incl = high.incl_tax
        incl = max(incl, excl)
        raised = excl > self.excl or incl > self.incl
        lowered = excl < self.excl or incl < self.incl
        if raised or lowered:
            self._rescale_taxes(incl - excl)
            self.excl, self.incl = excl, incl
        return raised, lowered

    def _rescale_taxes(self, new_tax: Decimal) -> None:
        old_tax = self.incl - self.excl
        if old_tax:
            self.taxes = {rate: amount * new_tax / old_tax for rate, amount in self.taxes.items()}
        elif new_tax:
            self.taxes = {None: new_tax}  # a limit added tax the components did not carry

    def money(self, currency: str) -> Money:
        return round_money(self.excl, self.incl, self.taxes, currency)


# --- local time ----------------------------------------------------------------------------------


def _local_cuts(zone: ZoneInfo, plan: _Plan, start: datetime, length: Decimal) -> list[Decimal]:
    """Offsets (seconds from `start`) where the local wall clock reaches a mark or jumps (DST)."""
    start = start.astimezone(UTC)
    length_us = int(length.scaleb(6))  # truncated to the microsecond, as `as_timedelta` does
    end = start + timedelta(microseconds=length_us)
    local_start = start.astimezone(zone)
    local_end = end.astimezone(zone)
    if local_start.utcoffset() == local_end.utcoffset() and length_us <= _US_PER_DAY:
        # No clock change inside (zones never change twice a day): wall time runs with UTC.
        return _wall_cuts(plan.day_marks_us, local_start, length_us)
    start_naive = start.replace(tzinfo=None)
    cuts = [exact_seconds(change - start) for change in _offset_changes(zone, start, end)]
    day = local_start.date()
    while day <= local_end.date():
        for mark in plan.day_marks:
            wall = datetime.combine(day, time()) + mark
            cuts.extend(exact_seconds(instant - start_naive) for instant in _instants(zone, wall))
        day += _ONE_DAY
    return cuts


def _wall_cuts(marks_us: tuple[int, ...], local_start: datetime, length_us: int) -> list[Decimal]:
    """Offsets of the marks inside a stretch of one UTC offset, worked out in microseconds.

    Integer arithmetic instead of naive datetimes: this runs for most periods of any tariff
    with a time window. Offsets have six decimals, as `exact_seconds` writes them.
    """
    clock = local_start.hour * 3600 + local_start.minute * 60 + local_start.second
    midnight = -(clock * _US_PER_SECOND + local_start.microsecond)  # offset of the day's start
    cuts = []
    while midnight < length_us:
        for mark in marks_us:
            offset = midnight + mark
            if 0 < offset < length_us:
                cuts.append(Decimal(offset).scaleb(-6))
        midnight += _US_PER_DAY
    return cuts


def _instants(zone: ZoneInfo, wall: datetime) -> list[datetime]:
    """UTC (naive) instants at which the local clock shows `wall`: none, one, or two (fall back)."""
    first = zone.utcoffset(wall)
    second = zone.utcoffset(wall.replace(fold=1))
    if first == second and first is not None:
        return [wall - first]
    instants = []
    for offset in {first, second}:
        if offset is None:
            continue
        instant = wall - offset
        # In a spring-forward gap neither offset gives back `wall`; the jump itself is a cut.
        if instant.replace(tzinfo=UTC).astimezone(zone).replace(tzinfo=None) == wall:
            instants.append(instant)
    return instants


def _offset_changes(zone: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    """UTC instants in (start, end) at which the zone's UTC offset changes."""
    changes = []
    a = start
    while a < end:
        b = min(a + _ONE_DAY, end)  # zones never change offset twice within a day
        if _utc_offset(zone, a) != _utc_offset(zone, b):
            changes.append(_offset_change(zone, a, b))
        a = b
    return changes


def _offset_change(zone: ZoneInfo, a: datetime, b: datetime) -> datetime:
    """Bisect to the whole second at which the offset in force at `a` stops applying."""
    before = _utc_offset(zone, a)
    base = a.replace(microsecond=0)
    low, high = 0, int((b - base).total_seconds()) + 1
    while high - low > 1:
        middle = (low + high) // 2
        if _utc_offset(zone, base + timedelta(seconds=middle)) == before:
            low = middle
        else:
            high = middle
    return base + timedelta(seconds=high)


def _utc_offset(zone: ZoneInfo, instant: datetime) -> timedelta | None:
    return instant.astimezone(zone).utcoffset()
