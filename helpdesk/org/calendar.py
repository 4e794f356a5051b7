"""Business calendar: opening hours, holidays and make-up workdays (调休), in the unit's zone.

The functions work on plain data so deadlines, routing and the pages share one definition of
"open". `load_calendar` gathers that data for a unit: its own hours plus the holidays of the unit,
of its ancestors and the global ones (unit_id null); the nearest definition of a day wins.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk.errors import NotFound
from helpdesk.org import repository as repo

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_SEARCH_DAYS = 3 * 366  # an all-closed calendar must not loop forever

Hours = Mapping[str, Sequence[Sequence[str]]]
Range = Sequence[str]  # ["09:00", "12:00"]


@dataclass(frozen=True)
class BusinessCalendar:
    """A unit's calendar as plain data; methods forward to the module functions."""

    hours: Hours
    closed_days: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    tz: ZoneInfo = field(default=SHANGHAI)

    def is_open(self, at: datetime) -> bool:
        return is_open(self.hours, self.closed_days, self.workdays, at, tz=self.tz)

    def add_business_seconds(self, start: datetime, seconds: float) -> datetime:
        return add_business_seconds(start, seconds, self.hours, self.closed_days, self.workdays, tz=self.tz)

    def business_seconds_between(self, a: datetime, b: datetime) -> float:
        return business_seconds_between(a, b, self.hours, self.closed_days, self.workdays, tz=self.tz)


def _parse(hhmm: str) -> time:
    hour, minute = hhmm.split(":")
    if hour == "24" and minute == "00":
        return time.max
    return time(int(hour), int(minute))


def _day_ranges(day: date, hours: Hours, closed: Collection[date], workdays: Collection[date]) -> list[Range]:
    """The [start, end] pairs open on one local day."""
    if day in closed and day not in workdays:
        return []
    ranges: list[Range] = list(hours.get(DAY_KEYS[day.weekday()], []))
    if not ranges and day in workdays:
        # A make-up workday opens a weekend day with the Monday hours (or the first weekday's).
        ranges = list(hours.get("mon") or next((hours[k] for k in DAY_KEYS if hours.get(k)), []))
    return ranges


def open_intervals(
    day: date, hours: Hours, closed_days: Collection[date], workdays: Collection[date],
    tz: ZoneInfo = SHANGHAI,
) -> list[tuple[datetime, datetime]]:
    """The open intervals of one local day as aware UTC datetimes, in order."""
    out = []
    for start, end in _day_ranges(day, hours, closed_days, workdays):
        a = datetime.combine(day, _parse(start), tzinfo=tz).astimezone(UTC)
        b = datetime.combine(day, _parse(end), tzinfo=tz).astimezone(UTC)
        if b > a:
            out.append((a, b))
    return sorted(out)


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("the business calendar needs aware datetimes")
    return at.astimezone(UTC)


def _days_from(start: date) -> Iterator[date]:
    for i in range(MAX_SEARCH_DAYS):
        yield start + timedelta(days=i)


def is_open(
    hours: Hours, closed_days: Collection[date], workdays: Collection[date], at: datetime,
    tz: ZoneInfo = SHANGHAI,
) -> bool:
    at = _aware(at)
    local_day = at.astimezone(tz).date()
    return any(a <= at < b for a, b in open_intervals(local_day, hours, closed_days, workdays, tz))


def add_business_seconds(
    start: datetime, seconds: float, hours: Hours, closed_days: Collection[date],
    workdays: Collection[date], tz: ZoneInfo = SHANGHAI,
) -> datetime:
    """The moment `seconds` of open time after `start`: deadlines pause outside business hours."""
    start = _aware(start)
    if seconds <= 0:
        return start
    left = timedelta(seconds=seconds)
    for day in _days_from(start.astimezone(tz).date()):
        for a, b in open_intervals(day, hours, closed_days, workdays, tz):
            if b <= start:
                continue
            a = max(a, start)
            if b - a >= left:
                return a + left
            left -= b - a
    raise ValueError(f"no business time within {MAX_SEARCH_DAYS} days: is the calendar always closed?")


def business_seconds_between(
    a: datetime, b: datetime, hours: Hours, closed_days: Collection[date],
    workdays: Collection[date], tz: ZoneInfo = SHANGHAI,
) -> float:
    """Open seconds from a to b (negative when b is before a)."""
    a, b = _aware(a), _aware(b)
    if b < a:
        return -business_seconds_between(b, a, hours, closed_days, workdays, tz)
    total = 0.0
    day, last = a.astimezone(tz).date(), b.astimezone(tz).date()
    while day <= last:
        for start, end in open_intervals(day, hours, closed_days, workdays, tz):
            lo, hi = max(start, a), min(end, b)
            if hi > lo:
                total += (hi - lo).total_seconds()
        day += timedelta(days=1)
    return total


async def load_calendar(session: AsyncSession, unit_id: int) -> BusinessCalendar:
    """A unit's hours and the holidays that apply to it (global, ancestors', its own)."""
    unit = await repo.get_unit(session, unit_id)
    if unit is None:
        raise NotFound(f"unit {unit_id} not found")
    lineage = repo.path_ids(unit.path) or [unit.id]  # root first
    rank = {uid: i + 1 for i, uid in enumerate(lineage)}  # global holidays rank 0
    decided: dict[date, tuple[int, bool]] = {}
    for h in await repo.holidays_for_units(session, lineage):
        r = 0 if h.unit_id is None else rank[h.unit_id]
        if h.day not in decided or r >= decided[h.day][0]:
            decided[h.day] = (r, h.is_workday)
    return BusinessCalendar(
        hours=unit.business_hours or {},
        closed_days=frozenset(d for d, (_, work) in decided.items() if not work),
        workdays=frozenset(d for d, (_, work) in decided.items() if work),
        tz=ZoneInfo(unit.timezone or "Asia/Shanghai"),
    )
