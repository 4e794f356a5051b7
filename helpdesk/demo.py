"""Loads the demo world idempotently through the same code an administrator uses: the sample import
files of docs/admin.md (helpdesk/admin/samples/, made from helpdesk.demo_data), the holiday loader,
then sample work orders. Running it twice changes nothing; a partly loaded database is completed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import helpdesk.models  # noqa: F401 - every table, so components' foreign keys resolve at flush
from helpdesk import demo_data as data
from helpdesk.accounts.models import Staff, StaffSkill
from helpdesk.admin import holidays, importing
from helpdesk.admin.scope import CLI_SCOPE
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


SAMPLES = Path(__file__).parent / "admin" / "samples"


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
DEMO_YEARS = (2026, 2027)


async def import_sample(session: AsyncSession, kind: str, now: datetime) -> importing.Plan:
    """One of the sample files (the ones docs/admin.md shows) through the admin importer."""
    path = SAMPLES / f"{kind}.csv"
    plan = await importing.run(session, CLI_SCOPE, kind, path.read_bytes(), path.name, dry_run=False, now=now,
                               max_rows=10_000)
    if plan.problem_count:
        raise RuntimeError(f"demo sample {path.name}: {plan.problems[0]}")
    return plan


async def load_demo_passwords(session: AsyncSession, plan: importing.Plan) -> None:
    """Dev only: accounts the import just created get the known demo password instead of their
    one-time password; a re-run never resets a password someone changed."""
    new = [p["username"] for p in plan.passwords]
    if new:
        await session.execute(update(Staff).where(Staff.username.in_(new)).values(
            password_hash=hash_password(data.DEMO_PASSWORD), must_change_password=False))


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
    """Loads everything through the admin services and flushes; the caller commits. Row counts."""
    say = progress or (lambda _msg: None)
    now = datetime.now(UTC)
    say("org tree")
    await import_sample(session, "units", now)
    say("departments and service items")
    await import_sample(session, "items", now)
    say("holidays")
    for year in DEMO_YEARS:
        await holidays.load_year(session, None, year, now)
    say("staff")
    await load_demo_passwords(session, await import_sample(session, "staff", now))
    say("sample work orders")
    units = {u.code: u for u in await session.scalars(select(OrgUnit))}
    ids = {c: i for c, i in await session.execute(select(ServiceItem.code, ServiceItem.id))}
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
