"""Business calendar: weekends, lunch breaks, National Day, make-up workdays, inheritance."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk.org.calendar import (
    SHANGHAI,
    BusinessCalendar,
    add_business_seconds,
    business_seconds_between,
    is_open,
    load_calendar,
)
from helpdesk.org.models import DEFAULT_BUSINESS_HOURS, Holiday, UnitLevel
from tests.helpdesk.factories import make_unit

HOURS = DEFAULT_BUSINESS_HOURS  # 09:00-12:00, 13:30-17:30 Mon-Fri
NATIONAL_DAY = frozenset(date(2026, 10, d) for d in range(1, 8))  # Thu 1st .. Wed 7th
MAKE_UP = frozenset({date(2026, 10, 10)})  # a Saturday worked in exchange
CAL = BusinessCalendar(HOURS, NATIONAL_DAY, MAKE_UP)


def bj(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=SHANGHAI)


@pytest.mark.parametrize(("at", "expected"), [
    (bj(2026, 11, 30, 9, 0), True),     # Monday opening
    (bj(2026, 11, 30, 8, 59), False),   # before opening
    (bj(2026, 11, 30, 12, 30), False),  # lunch
    (bj(2026, 11, 30, 17, 30), False),  # closing time is closed
    (bj(2026, 11, 28, 10, 0), False),   # Saturday
    (bj(2026, 10, 1, 10, 0), False),    # National Day (a Thursday)
    (bj(2026, 10, 10, 10, 0), True),    # make-up Saturday, Monday hours
    (bj(2026, 10, 10, 13, 0), False),   # ... with Monday's lunch break
])
def test_is_open(at: datetime, expected: bool) -> None:
    assert is_open(HOURS, NATIONAL_DAY, MAKE_UP, at) is expected
    assert CAL.is_open(at.astimezone(UTC)) is expected  # any zone in, same answer


@pytest.mark.parametrize(("start", "seconds", "end"), [
    (bj(2026, 11, 30, 10, 0), 3600, bj(2026, 11, 30, 11, 0)),      # plain
    (bj(2026, 11, 30, 11, 30), 3600, bj(2026, 11, 30, 14, 0)),     # pauses over lunch
    (bj(2026, 11, 30, 11, 0), 3600, bj(2026, 11, 30, 12, 0)),      # ends exactly at a break
    (bj(2026, 11, 27, 17, 0), 3600, bj(2026, 11, 30, 9, 30)),      # Friday → Monday over the weekend
    (bj(2026, 11, 28, 20, 0), 60, bj(2026, 11, 30, 9, 1)),         # from a closed moment
    (bj(2026, 9, 30, 17, 0), 3600, bj(2026, 10, 8, 9, 30)),        # over the National Day week
    (bj(2026, 10, 9, 17, 0), 3600, bj(2026, 10, 10, 9, 30)),       # into the make-up Saturday
    (bj(2026, 11, 30, 9, 0), 5 * 7 * 3600, bj(2026, 12, 4, 17, 30)),  # one working week (7 h/day)
    (bj(2026, 11, 30, 15, 0), 0, bj(2026, 11, 30, 15, 0)),
])
def test_add_business_seconds(start: datetime, seconds: int, end: datetime) -> None:
    assert add_business_seconds(start, seconds, HOURS, NATIONAL_DAY, MAKE_UP) == end
    assert CAL.add_business_seconds(start, seconds) == end


def test_business_seconds_between() -> None:
    assert CAL.business_seconds_between(bj(2026, 11, 27, 17, 0), bj(2026, 11, 30, 10, 0)) == 5400
    assert CAL.business_seconds_between(bj(2026, 11, 30, 10, 0), bj(2026, 11, 27, 17, 0)) == -5400
    assert CAL.business_seconds_between(bj(2026, 10, 1, 0, 0), bj(2026, 10, 8, 0, 0)) == 0
    assert business_seconds_between(bj(2026, 10, 9, 17, 0), bj(2026, 10, 12, 9, 0), HOURS, NATIONAL_DAY,
                                    MAKE_UP) == 1800 + 7 * 3600


def test_adding_and_measuring_agree() -> None:
    rng = random.Random(20261001)
    for _ in range(200):
        start = bj(2026, 9, 20) + timedelta(minutes=rng.randrange(60 * 24 * 40))
        seconds = rng.randrange(1, 20 * 7 * 3600)
        end = CAL.add_business_seconds(start, seconds)
        assert CAL.business_seconds_between(start, end) == pytest.approx(seconds)
        assert end >= start


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        CAL.is_open(datetime(2026, 11, 30, 10, 0))
    never = BusinessCalendar({k: [] for k in HOURS})
    with pytest.raises(ValueError, match="always closed"):
        never.add_business_seconds(bj(2026, 11, 30), 60)


async def test_load_calendar_inherits_down_the_tree(session: AsyncSession) -> None:
    province = await make_unit(session, name="河北省", level=UnitLevel.province)
    city = await make_unit(session, parent=province, level=UnitLevel.city)
    county = await make_unit(session, parent=city)
    sibling = await make_unit(session, parent=city)
    session.add_all([
        Holiday(unit_id=None, day=date(2026, 1, 1), name="元旦"),
        Holiday(unit_id=province.id, day=date(2026, 10, 1), name="国庆节"),
        Holiday(unit_id=province.id, day=date(2026, 10, 10), name="国庆调休", is_workday=True),
        Holiday(unit_id=sibling.id, day=date(2026, 11, 30), name="兄弟县自定休息日"),
        # The county stays open on a day the province closes: the nearest rule wins.
        Holiday(unit_id=province.id, day=date(2026, 10, 2), name="国庆节"),
        Holiday(unit_id=county.id, day=date(2026, 10, 2), name="县值班开放", is_workday=True),
    ])
    await session.flush()
    cal = await load_calendar(session, county.id)
    assert cal.closed_days == {date(2026, 1, 1), date(2026, 10, 1)}
    assert cal.workdays == {date(2026, 10, 10), date(2026, 10, 2)}
    assert not cal.is_open(bj(2026, 10, 1, 10)) and cal.is_open(bj(2026, 10, 2, 10))
    assert cal.is_open(bj(2026, 10, 10, 10)) and cal.is_open(bj(2026, 11, 30, 10))
    assert not (await load_calendar(session, sibling.id)).is_open(bj(2026, 11, 30, 10))
    assert not (await load_calendar(session, province.id)).is_open(bj(2026, 10, 2, 10))
