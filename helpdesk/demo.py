"""Loads the demo world (helpdesk.demo_data) idempotently: rows are upserted by code or username,
so running it twice changes nothing and a partly loaded database is completed, not duplicated."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import helpdesk.models  # noqa: F401 - every table, so components' foreign keys resolve at flush
from helpdesk import demo_data as data
from helpdesk.accounts.models import Role, Staff, StaffSkill
from helpdesk.applicants.models import Applicant
from helpdesk.config import Settings
from helpdesk.db import Base, make_engine, make_session_factory
from helpdesk.org.models import DEFAULT_BUSINESS_HOURS, Department, Holiday, OrgUnit, ServiceItem, ServiceItemUnit
from helpdesk.security import hash_password
from helpdesk.workorders.models import Channel, Outcome, WorkOrder, WorkOrderStatus

M = TypeVar("M", bound=Base)
Progress = Callable[[str], None]
ComponentDemo = Callable[[Settings, async_sessionmaker[AsyncSession]], Awaitable[object]]


ALWAYS_OPEN = {day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


async def _upsert(session: AsyncSession, model: type[M], key: dict[str, Any], values: dict[str, Any]) -> M:
    """Finds the row by its natural key, sets only fields that differ, inserts when missing."""
    row = (await session.execute(select(model).filter_by(**key))).scalar_one_or_none()
    if row is None:
        row = model(**key, **values)
        session.add(row)
        await session.flush()
        return row
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
    return row


async def load_units(session: AsyncSession, now: datetime) -> dict[str, OrgUnit]:
    units: dict[str, OrgUnit] = {}
    for u in data.UNITS:  # parents come first in the list
        parent = units[u.parent] if u.parent else None
        row = await _upsert(session, OrgUnit, {"code": u.code}, {
            "name": u.name, "name_en": u.name_en, "level": u.level,
            "parent_id": parent.id if parent else None})
        if row.created_at is None:
            row.created_at = now
        path = f"{parent.path if parent else '/'}{row.id}/"  # materialized path "/1/2/5/"
        if row.path != path:
            row.path = path
        units[u.code] = row
    await session.flush()
    return units


async def load_catalogue(session: AsyncSession, units: dict[str, OrgUnit]) -> dict[str, int]:
    """Departments, items and which units handle them; returns skill code → department/item id."""
    departments: dict[str, Department] = {}
    for code, name, name_en in data.DEPARTMENTS:
        departments[code] = await _upsert(session, Department, {"code": code},
                                          {"name": name, "name_en": name_en})
    items: dict[str, ServiceItem] = {}
    for it in data.ITEMS:
        dept = departments[it.code.split("-")[0]]
        extra = "，可远程视频勘验" if it.remote_inspection else ""
        limit = f"承诺时限{it.time_limit_days}个工作日"
        items[it.code] = await _upsert(session, ServiceItem, {"code": it.code}, {
            "name": it.name, "name_en": it.name_en, "department_id": dept.id,
            "description": f"{dept.name}部门办理，{limit}；支持视频帮办{extra}。",
            "video_help": True, "remote_inspection": it.remote_inspection,
            "time_limit_days": it.time_limit_days})
    await session.flush()
    rows = await session.execute(select(ServiceItemUnit.item_id, ServiceItemUnit.unit_id))
    have = {(r.item_id, r.unit_id) for r in rows}
    for it in data.ITEMS:
        for code in data.units_for(it):
            pair = (items[it.code].id, units[code].id)
            if pair not in have:
                session.add(ServiceItemUnit(item_id=pair[0], unit_id=pair[1]))
                have.add(pair)
    await session.flush()
    return {**{c: d.id for c, d in departments.items()}, **{c: i.id for c, i in items.items()}}


async def load_holidays(session: AsyncSession, province: OrgUnit) -> None:
    for day, name, workday in data.HOLIDAYS:
        await _upsert(session, Holiday, {"unit_id": province.id, "day": day},
                      {"name": name, "is_workday": workday})
    await session.flush()


async def load_staff(session: AsyncSession, units: dict[str, OrgUnit], ids: dict[str, int],
                     now: datetime) -> None:
    """Passwords are set only when the account is created, so a re-run never rehashes or resets."""
    for p in data.STAFF:
        values: dict[str, Any] = {"display_name": p.display_name, "role": Role(p.role),
                                  "unit_id": units[p.unit].id, "capacity": p.capacity,
                                  "kb_editor": p.role != "agent", "is_active": True}
        row = (await session.execute(select(Staff).filter_by(username=p.username))).scalar_one_or_none()
        if row is None:
            row = Staff(username=p.username, password_hash=hash_password(data.DEMO_PASSWORD),
                        created_at=now, **values)
            session.add(row)
            await session.flush()
        else:
            await _upsert(session, Staff, {"username": p.username}, values)
        await set_skills(session, row.id, p.skills, ids)
    await session.flush()


async def set_skills(session: AsyncSession, staff_id: int, codes: tuple[str, ...] | list[str],
                     ids: dict[str, int]) -> None:
    """Makes the staff member's skills exactly `codes` (department codes have no dash)."""
    want = {("department" if "-" not in c else "item", ids[c]) for c in codes}
    rows = (await session.execute(select(StaffSkill).filter_by(staff_id=staff_id))).scalars().all()
    have: set[tuple[str, int]] = set()
    for row in rows:
        key = ("department", row.department_id) if row.department_id else ("item", row.item_id)
        if key in want and key not in have:
            have.add(key)
        else:
            await session.execute(delete(StaffSkill).where(StaffSkill.id == row.id))
    for kind, ref in sorted(want - have):
        session.add(StaffSkill(staff_id=staff_id, **{f"{kind}_id": ref}))


async def load_work_orders(session: AsyncSession, units: dict[str, OrgUnit], ids: dict[str, int]) -> None:
    """Insert-only: a sample work order the journey has since changed (escalated, closed) is kept."""
    staff = {s.username: s.id for s in (await session.execute(select(Staff))).scalars()}
    for o in data.ORDERS:
        if (await session.execute(select(WorkOrder.id).filter_by(number=o.number))).first():
            continue
        ext, name, phone = o.applicant
        queued = datetime(2026, 11, o.day, 1, 30, tzinfo=UTC)  # 09:30 in Beijing
        answered = queued + timedelta(seconds=o.wait_s) if o.talk_s is not None else None
        ended = answered + timedelta(seconds=o.talk_s or 0) if answered else None
        applicant = await _upsert(session, Applicant, {"issuer": "demo", "external_id": ext},
                                  {"name": name, "phone": phone, "created_at": queued})
        agent = staff[o.agent] if o.agent else None
        follow_up = o.outcome == "follow_up"
        session.add(WorkOrder(
            number=o.number, applicant_id=applicant.id, item_id=ids[o.item], unit_id=units[o.unit].id,
            handled_unit_id=_unit_of(o.agent, units), agent_id=agent, status=WorkOrderStatus(o.status),
            channel=Channel.video, queued_at=queued, answered_at=answered, ended_at=ended,
            abandoned_at=None if answered else queued + timedelta(seconds=o.wait_s),
            wait_s=o.wait_s, talk_s=o.talk_s, outcome=Outcome(o.outcome) if o.outcome else None,
            notes=o.notes, rating=o.rating, fallback_level=o.fallback_level,
            owner_id=agent if follow_up else None,
            owner_unit_id=_unit_of(o.agent, units) if follow_up else None,
            due_at=ended + timedelta(days=2) if follow_up and ended else None,
            created_at=queued, updated_at=ended or queued))
    await session.flush()


def _unit_of(username: str | None, units: dict[str, OrgUnit]) -> int | None:
    person = next((p for p in data.STAFF if p.username == username), None)
    return units[person.unit].id if person else None


async def load_demo(session: AsyncSession, progress: Progress | None = None) -> dict[str, int]:
    """Loads everything and flushes; the caller commits. Returns row counts per table."""
    say = progress or (lambda _msg: None)
    now = datetime.now(UTC)
    say("org tree")
    units = await load_units(session, now)
    say("departments and service items")
    ids = await load_catalogue(session, units)
    say("holidays")
    await load_holidays(session, units[data.PROVINCE])
    say("staff")
    await load_staff(session, units, ids, now)
    say("sample work orders")
    await load_work_orders(session, units, ids)
    return await counts(session)


async def counts(session: AsyncSession) -> dict[str, int]:
    models: list[type[Base]] = [OrgUnit, Department, ServiceItem, ServiceItemUnit, Holiday, Staff, StaffSkill,
                                Applicant, WorkOrder]
    return {m.__tablename__: int((await session.execute(select(func.count()).select_from(m))).scalar_one())
            for m in models}


async def _kb_demo(settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> object:
    from helpdesk_kb.demo import load_demo as load_kb_demo

    return await load_kb_demo(sessions, settings)


async def _inspection_demo(settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> object:
    from helpdesk_inspection.demo import load_demo as load_checklists

    return await load_checklists(sessions)


# Components' own demo content (idempotent each), loaded after the foundation's rows are committed
# because they match service items by name.
COMPONENT_DEMOS: list[tuple[str, ComponentDemo]] = [
    ("knowledge-base guides", _kb_demo),
    ("inspection checklists", _inspection_demo),
]


async def run_demo(url: str, progress: Progress | None = None, settings: Settings | None = None,
                   components: bool = True, open_all_hours: bool = False) -> dict[str, int]:
    """The foundation's rows in one transaction on the database at `url` (already migrated), then
    each component's demo content. `open_all_hours`: every desk open around the clock, so a demo can
    be tried at night and at weekends (the real hours come back by running it again without)."""
    settings = settings or Settings(database_url=url)
    engine = make_engine(url)
    try:
        sessions = make_session_factory(engine)
        async with sessions() as session:
            result = await load_demo(session, progress)
            hours = ALWAYS_OPEN if open_all_hours else DEFAULT_BUSINESS_HOURS
            await session.execute(update(OrgUnit).values(business_hours=hours))
            await session.commit()
        for name, step in COMPONENT_DEMOS if components else []:
            if progress:
                progress(name)
            await step(settings, sessions)
        return result
    finally:
        await engine.dispose()
