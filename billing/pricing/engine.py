"""Price a session under an OCPI tariff: split periods, pick elements, step sizes, tax, limits."""

from __future__ import annotations

import functools
from collections.abc import Sequence
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

_FLAT = DimensionType.FLAT
_ENERGY = DimensionType.ENERGY
_TIME = DimensionType.TIME
_PARKING = DimensionType.PARKING_TIME
_CHARGING = PeriodKind.CHARGING
_RESERVATION = PeriodKind.RESERVATION
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
    _check_periods(periods)
    with localcontext(CALCULATION_CONTEXT):
        return _Pricer(tariff, plan, zone).run(periods)


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
        "checks_current",
        "checks_power",
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
    )

    def __init__(self, r: Restrictions) -> None:
        self.start_minute, self.end_minute = _window(r)
        self.start_date = r.start_date
        self.end_date = r.end_date
        self.days = frozenset(_WEEKDAYS.index(d) for d in r.day_of_week) or None
        self.min_kwh, self.max_kwh = r.min_kwh, r.max_kwh
        self.min_current, self.max_current = r.min_current, r.max_current
        self.min_power, self.max_power = r.min_power, r.max_power
        self.checks_current = r.min_current is not None or r.max_current is not None
        self.checks_power = r.min_power is not None or r.max_power is not None
        self.min_duration = None if r.min_duration is None else Decimal(r.min_duration)
        self.max_duration = None if r.max_duration is None else Decimal(r.max_duration)

    def matches(self, m: _Moment) -> bool:
        if self.days is not None and m.weekday not in self.days:
            return False
        if self.start_minute is not None and not _in_window(
            m.minute, self.start_minute, self.end_minute or _MINUTES_PER_DAY
        ):
            return False
        if self.start_date is not None and m.date < self.start_date:
            return False
        if self.end_date is not None and m.date >= self.end_date:
            return False
        if not _within(m.kwh, self.min_kwh, self.max_kwh):
            return False
        if not _within(m.elapsed, self.min_duration, self.max_duration):
            return False
        # An unknown current or power (while charging) cannot satisfy a bound on it.
        if self.checks_current and not _known_within(m.current, self.min_current, self.max_current):
            return False
        return not self.checks_power or _known_within(m.power, self.min_power, self.max_power)


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


def _in_window(minute: int, start: int, end: int) -> bool:
    if start < end:
        return start <= minute < end
    return minute >= start or minute < end  # wraps past midnight


def _within(value: Decimal, low: Decimal | None, high: Decimal | None) -> bool:
    return (low is None or value >= low) and (high is None or value < high)


def _known_within(value: Decimal | None, low: Decimal | None, high: Decimal | None) -> bool:
    return value is not None and _within(value, low, high)


@dataclass(frozen=True, slots=True)
class _Slot:
    """One usable price component, numbered so volumes can be kept in a flat dict."""

    index: int
    element_index: int
    component_index: int
    component: PriceComponent
    rule: _Rule | None
    category: CostCategory


@dataclass(frozen=True, slots=True)
class _Plan:
    """A tariff compiled for pricing; cached per Tariff object."""

    slots: tuple[_Slot, ...]
    session: dict[DimensionType, tuple[_Slot, ...]]
    reservation: dict[DimensionType, tuple[_Slot, ...]]
    expired: dict[DimensionType, tuple[_Slot, ...]]
    day_marks: tuple[timedelta, ...]  # local times of day at which a restriction flips
    duration_marks: tuple[Decimal, ...]  # seconds into the session
    kwh_marks: tuple[Decimal, ...]
    restricted: bool  # whether any reachable element has restrictions (else no moment needed)

    @property
    def uses_local_time(self) -> bool:
        return bool(self.day_marks)

    @property
    def splits(self) -> bool:
        return bool(self.day_marks or self.duration_marks or self.kwh_marks)


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
            slot = _Slot(len(slots), element_index, component_index, component, rule, category)
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
        duration_marks=tuple(sorted(durations)),
        kwh_marks=tuple(sorted(kwhs)),
        restricted=bool(rules),
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


def _check_periods(periods: Sequence[ChargingPeriodInput]) -> None:
    previous: datetime | None = None
    for i, period in enumerate(periods):
        if period.start.utcoffset() is None:
            raise SessionInputError(f"periods[{i}].start", "must be timezone-aware")
        if period.seconds < 0:
            raise SessionInputError(f"periods[{i}].seconds", "must not be negative")
        if previous is not None and period.start < previous:
            raise SessionInputError(f"periods[{i}].start", "is before the previous period")
        previous = period.start


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
        self.flat_charged = {False: False, True: False}  # keyed by "is reservation"
        self.out: list[PricedPeriod] = []

    def run(self, periods: Sequence[ChargingPeriodInput]) -> PricingResult:
        session = [p for p in periods if p.kind is not _RESERVATION]
        reservation = [p for p in periods if p.kind is _RESERVATION]
        reservation_slots = self.plan.reservation if session else self.plan.expired
        kwh = ZERO
        # Durations count from the start of the reservation or of the session respectively.
        for period in periods:
            if period.kind is _RESERVATION:
                origin = reservation[0].start
                self._split(period, origin, ZERO, reservation_slots)
            else:
                self._split(period, session[0].start, kwh, self.plan.session)
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
        length = period.seconds
        kwh_after = kwh_before + period.energy
        elapsed = exact_seconds(period.start - origin) if self.plan.duration_marks else ZERO
        kwh_at: dict[Decimal, Decimal] = {}
        cuts = self._cuts(period, elapsed, kwh_before, kwh_at) if self.plan.splits else ()
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
        cuts = {mark - elapsed for mark in plan.duration_marks}
        energy = period.energy
        if energy:
            for mark in plan.kwh_marks:
                if (
                    min(kwh_before, kwh_before + energy)
                    < mark
                    < max(kwh_before, kwh_before + energy)
                ):
                    # Energy is taken to flow evenly within a period, so interpolate linearly.
                    offset = (mark - kwh_before) * length / energy
                    kwh_at[offset] = mark
                    cuts.add(offset)
        if plan.day_marks:
            cuts.update(_local_cuts(self.zone, plan.day_marks, period.start, length))
        return sorted(c for c in cuts if 0 < c < length)

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
        charging = period.kind is _CHARGING
        if self.plan.restricted:
            moment.kwh = (kwh_from + kwh_to) / 2  # the middle, so falling energy is judged right
            moment.elapsed = elapsed
            # Not charging means no current; while charging an unknown value fails restrictions.
            moment.current = period.max_current if charging or period.max_current else ZERO
            moment.power = period.max_power if charging or period.max_power else ZERO
            if self.plan.uses_local_time:
                local = start.astimezone(self.zone)
                moment.minute = local.hour * 60 + local.minute
                moment.date = local.date()
                moment.weekday = local.weekday()

        energy = kwh_to - kwh_from
        reservation = period.kind is _RESERVATION
        energy_slot = None
        if energy and not reservation:
            energy_slot = _pick(slots[_ENERGY], moment)
            if energy_slot is not None:
                self._add(energy_slot, energy)
                self.last_energy = energy_slot
        time_slot = None
        if seconds:
            time_slot = _pick(slots[_TIME if charging or reservation else _PARKING], moment)
            if time_slot is not None:
                self._add(time_slot, seconds)
                if reservation:
                    self.last_reservation = time_slot
                else:
                    self.last_time = time_slot
        flat_slot = None
        if not self.flat_charged[reservation]:
            flat_slot = _pick(slots[_FLAT], moment)
            if flat_slot is not None:
                self._add(flat_slot, Decimal(1))
                self.flat_charged[reservation] = True
        self.out.append(
            PricedPeriod(
                start=start,
                kind=period.kind,
                seconds=seconds,
                energy=energy,
                max_current=period.max_current,
                max_power=period.max_power,
                energy_element=None if energy_slot is None else energy_slot.element_index,
                time_element=None if time_slot is None else time_slot.element_index,
                flat_element=None if flat_slot is None else flat_slot.element_index,
            )
        )

    def _add(self, slot: _Slot, volume: Decimal) -> None:
        self.volumes[slot.index] = self.volumes.get(slot.index, ZERO) + volume

    def _step_size_extras(self) -> dict[int, Decimal]:
        """Volume to add to the last used slot of each step group (energy, time, reservation).

        The group total is rounded up to the last slot's step size; the time group is the
        dimension (TIME or PARKING_TIME) of the last priced time, so only that one is rounded.
        """
        extras: dict[int, Decimal] = {}
        groups = (
            (self.last_energy, _WH_PER_KWH),
            (self.last_time, Decimal(1)),
            (self.last_reservation, Decimal(1)),
        )
        for last, units_per_step in groups:
            if last is None or last.component.step_size <= 0:
                continue
            total = sum(
                (
                    volume
                    for index, volume in self.volumes.items()
                    if self.plan.slots[index].category is last.category
                    and self.plan.slots[index].component.type is last.component.type
                ),
                ZERO,
            )
            if total <= 0:
                continue
            step = last.component.step_size / units_per_step
            # Interpolated volumes can carry division noise in their last digits; it must not
            # buy a whole extra step, so the step count is settled at 12 decimals first.
            steps = (total / step).quantize(_STEP_PRECISION)
            billed = steps.to_integral_value(rounding=ROUND_CEILING) * step
            if billed != total:
                extras[last.index] = billed - total
        return extras

    def _result(
        self, periods: Sequence[ChargingPeriodInput], extras: dict[int, Decimal]
    ) -> PricingResult:
        currency = self.tariff.currency
        sums: dict[CostCategory, _Sum] = {}
        taxed = self.tariff.tax_included is not TaxIncluded.NOT_APPLICABLE
        charges = []
        for index in sorted(self.volumes):
            slot = self.plan.slots[index]
            charge = _charge(slot, self.volumes[index], extras.get(index, ZERO), self.tariff)
            rate = slot.component.vat if taxed else None
            part = sums.get(slot.category)
            if part is None:
                part = sums[slot.category] = _Sum()
            part.add(charge.amount_excl_tax, charge.amount_incl_tax, rate)
            charges.append(charge)
        total = _Sum()
        for part in sums.values():
            total.merge(part)
        low, high = total.clamp(self.tariff)

        def money(category: CostCategory) -> Money:
            part = sums.get(category)
            return zero_money(currency) if part is None else part.money(currency)

        session_seconds = sum((p.seconds for p in periods if p.kind is not _RESERVATION), ZERO)
        parking_seconds = sum((p.seconds for p in periods if p.kind is PeriodKind.PARKING), ZERO)
        reservation_seconds = sum((p.seconds for p in periods if p.kind is _RESERVATION), ZERO)
        return PricingResult(
            currency=currency,
            total_cost=total.money(currency),
            total_fixed_cost=money(CostCategory.FIXED),
            total_energy_cost=money(CostCategory.ENERGY),
            total_time_cost=money(CostCategory.TIME),
            total_parking_cost=money(CostCategory.PARKING),
            total_reservation_cost=money(CostCategory.RESERVATION),
            total_energy=round_energy(sum((p.energy for p in periods), ZERO)),
            total_time=round_hours(session_seconds / _HOUR),
            total_parking_time=round_hours(parking_seconds / _HOUR),
            total_reservation_time=round_hours(reservation_seconds / _HOUR),
            periods=tuple(self.out),
            components=tuple(charges),
            min_price_applied=low,
            max_price_applied=high,
        )


def _charge(slot: _Slot, volume: Decimal, extra: Decimal, tariff: Tariff) -> ComponentCharge:
    component = slot.component
    billed = volume + extra
    if component.type is _FLAT:
        base = component.price
    elif component.type is _ENERGY:
        base = component.price * billed
    else:  # seconds, priced per hour
        base = component.price * billed / _HOUR
        volume, billed = volume / _HOUR, billed / _HOUR
    excl, incl = _with_tax(base, component.vat, tariff.tax_included)
    return ComponentCharge(
        element_index=slot.element_index,
        component_index=slot.component_index,
        type=component.type,
        category=slot.category,
        volume=volume,
        billed_volume=billed,
        price=component.price,
        vat=component.vat,
        amount_excl_tax=excl,
        amount_incl_tax=incl,
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


def _local_cuts(
    zone: ZoneInfo, day_marks: tuple[timedelta, ...], start: datetime, length: Decimal
) -> list[Decimal]:
    """Offsets (seconds from `start`) where the local wall clock reaches a mark or jumps (DST)."""
    start = start.astimezone(UTC)
    end = start + as_timedelta(length)
    local_start = start.astimezone(zone)
    local_end = end.astimezone(zone)
    if local_start.utcoffset() == local_end.utcoffset() and end - start <= _ONE_DAY:
        # No clock change inside (zones never change twice a day): wall time runs with UTC.
        return _wall_cuts(
            day_marks, local_start.replace(tzinfo=None), local_end.replace(tzinfo=None)
        )
    start_naive = start.replace(tzinfo=None)
    cuts = [exact_seconds(change - start) for change in _offset_changes(zone, start, end)]
    day = local_start.date()
    while day <= local_end.date():
        for mark in day_marks:
            wall = datetime.combine(day, time()) + mark
            cuts.extend(exact_seconds(instant - start_naive) for instant in _instants(zone, wall))
        day += _ONE_DAY
    return cuts


def _wall_cuts(day_marks: tuple[timedelta, ...], start: datetime, end: datetime) -> list[Decimal]:
    """Offsets of the marks strictly between two naive local times of one UTC offset."""
    cuts = []
    midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
    while midnight < end:
        for mark in day_marks:
            wall = midnight + mark
            if start < wall < end:
                cuts.append(exact_seconds(wall - start))
        midnight += _ONE_DAY
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
