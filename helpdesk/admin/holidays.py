"""Holidays and make-up working days (调休) per year, and local closures per unit.

Bureau-wide days (unit_id null) come from maintained packages (see `official_days` and the README).
A unit's own days (a local closure, or a day it opens) override them for its subtree
(helpdesk.org.calendar.load_calendar)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, extract, select
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk.admin import audit
from helpdesk.admin.scope import AdminScope, unit_in_scope
from helpdesk.errors import BadRequest, NotFound
from helpdesk.org.models import Holiday, OrgUnit

NAMES_ZH = {"New Year's Day": "元旦", "Spring Festival": "春节", "Tomb-sweeping Day": "清明节",
            "Labour Day": "劳动节", "Dragon Boat Festival": "端午节", "National Day": "国庆节",
            "Mid-autumn Festival": "中秋节", "Anti-Fascist 70th Day": "抗战胜利纪念日"}
PROVISIONAL = "（暂定）"


def _zh(name: str) -> str:
    for en, zh in NAMES_ZH.items():
        if en.lower().split()[0] in name.lower():
            return zh
    return name


def official_days(year: int) -> tuple[list[tuple[date, str, bool]], bool]:
    """(day, name, is_workday) for `year`, and whether the list is provisional.

    `chinesecalendar` carries the State Council's notice (whole holiday blocks, weekend days
    included, and the make-up working days); a year it does not know yet (the notice comes out each
    November) falls back to the statutory days of the `holidays` package's China calendar, marked
    provisional, without make-up days: load the year again once the package is updated."""
    from chinese_calendar.constants import holidays as cc_holidays
    from chinese_calendar.constants import workdays as cc_workdays

    days = [(d, NAMES_ZH.get(n, n), False) for d, n in cc_holidays.items() if d.year == year]
    if days:
        days += [(d, NAMES_ZH.get(n, n) + "调休上班", True) for d, n in cc_workdays.items()
                 if d.year == year and d.weekday() >= 5]
        return sorted(days), False
    import holidays as hp

    china = hp.China(years=year)
    days = [(d, _zh(n) + PROVISIONAL, False) for d, n in china.items()]
    days += [(d, "调休上班" + PROVISIONAL, True) for d in getattr(china, "weekend_workdays", ()) if d.year == year]
    if not days:
        raise BadRequest(f"no holiday data for {year}: enter the days by hand", code="unknown_year")
    return sorted(days), True


def view(h: Holiday, unit_code: str | None = None) -> dict[str, Any]:
    return {"id": h.id, "unit_id": h.unit_id, "unit": unit_code, "day": h.day.isoformat(), "name": h.name,
            "is_workday": h.is_workday}


async def list_year(session: AsyncSession, scope: AdminScope, year: int) -> list[dict[str, Any]]:
    """The bureau-wide days and the days of units in scope."""
    stmt = (select(Holiday, OrgUnit.code).outerjoin(OrgUnit, OrgUnit.id == Holiday.unit_id)
            .where(extract("year", Holiday.day) == year,
                   Holiday.unit_id.is_(None) | Holiday.unit_id.in_(scope.unit_ids()))
            .order_by(Holiday.day, Holiday.unit_id))
    return [view(h, code) for h, code in (await session.execute(stmt)).all()]


async def load_year(session: AsyncSession, scope: AdminScope | None, year: int, now: datetime) -> dict[str, Any]:
    """Makes the bureau-wide days of `year` exactly the official list (idempotent). `scope` None:
    the CLI or the demo loader."""
    if scope is not None:
        scope.require_admin("the bureau-wide holiday calendar")
    if not 2000 <= year <= 2100:
        raise BadRequest(f"year {year} is out of range", code="bad_year")
    days, provisional = official_days(year)
    want = {day: (name, work) for day, name, work in days}
    rows = (await session.scalars(select(Holiday).where(Holiday.unit_id.is_(None),
                                                        extract("year", Holiday.day) == year))).all()
    added = changed = removed = 0
    seen: set[date] = set()
    for row in rows:
        if row.day not in want or row.day in seen:
            await session.delete(row)
            removed += 1
            continue
        seen.add(row.day)
        name, work = want[row.day]
        if (row.name, row.is_workday) != (name, work):
            row.name, row.is_workday = name, work
            changed += 1
    for day, (name, work) in want.items():
        if day not in seen:
            session.add(Holiday(unit_id=None, day=day, name=name, is_workday=work))
            added += 1
    await session.flush()
    counts = {"year": year, "days": len(want), "added": added, "changed": changed, "removed": removed,
              "provisional": provisional}
    if added or changed or removed:
        await audit.record(session, kind="holidays.load", actor=audit.actor_of(scope.staff if scope else None),
                           at=now, target=f"holidays:{year}", after=counts)
    return counts


async def save_day(session: AsyncSession, scope: AdminScope, *, unit_id: int | None, day: date, name: str,
                   is_workday: bool, now: datetime) -> dict[str, Any]:
    """A unit's closure (or opening) on one day; unit_id None: a bureau-wide day (admins only)."""
    if not name.strip():
        raise BadRequest("a closure needs a name (e.g. 停电检修)", code="missing_name")
    unit = None
    if unit_id is None:
        scope.require_admin("a bureau-wide day")
    else:
        unit = await unit_in_scope(session, scope, unit_id)
    row = await session.scalar(select(Holiday).where(Holiday.day == day, Holiday.unit_id.is_(None) if unit_id is None
                                                     else Holiday.unit_id == unit_id))
    before = view(row) if row else None
    if row is None:
        row = Holiday(unit_id=unit_id, day=day, name=name.strip(), is_workday=is_workday)
        session.add(row)
    else:
        row.name, row.is_workday = name.strip(), is_workday
    await session.flush()
    await audit.record(session, kind="closure.save", actor=audit.actor_of(scope.staff), at=now,
                       target=f"unit:{unit.code if unit else '*'}:{day.isoformat()}", before=before, after=view(row))
    return view(row, unit.code if unit else None)


async def delete_day(session: AsyncSession, scope: AdminScope, holiday_id: int, now: datetime) -> None:
    row = await session.get(Holiday, holiday_id)
    if row is None:
        raise NotFound(f"day {holiday_id} not found")
    if row.unit_id is None:
        scope.require_admin("a bureau-wide day")
    else:
        await unit_in_scope(session, scope, row.unit_id)
    before = view(row)
    await session.execute(delete(Holiday).where(Holiday.id == holiday_id))
    await audit.record(session, kind="closure.delete", actor=audit.actor_of(scope.staff), at=now,
                       target=f"holiday:{holiday_id}", before=before)
