"""The demo loader is idempotent and gives the journey what it needs: the report's units and items,
17 remote-inspection items, a township that falls back, and staff who can log in."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from helpdesk import demo_data, migrations
from helpdesk.accounts.models import Staff, StaffSkill
from helpdesk.config import Settings
from helpdesk.db import Base, make_engine, make_session_factory
from helpdesk.demo import load_demo, run_demo
from helpdesk.org.models import Holiday, OrgUnit, ServiceItem, ServiceItemUnit, UnitLevel
from helpdesk.security import verify_password
from helpdesk.workorders.models import WorkOrder, WorkOrderStatus


async def _snapshot(session: AsyncSession) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, so "changes nothing" is checked literally."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    for table in Base.metadata.sorted_tables:
        rows = (await session.execute(select(table))).all()
        out[table.name] = sorted(tuple(map(repr, r)) for r in rows)
    return out


async def _load(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with sessions() as s:
        counts = await load_demo(s)
        await s.commit()
    return counts


async def test_demo_is_idempotent(db_sessions: async_sessionmaker[AsyncSession]) -> None:
    first = await _load(db_sessions)
    async with db_sessions() as s:
        before = await _snapshot(s)
    second = await _load(db_sessions)
    async with db_sessions() as s:
        after = await _snapshot(s)
    assert first == second
    assert before == after
    assert first["service_items"] >= 30
    assert first["org_units"] == len(demo_data.UNITS)


async def test_demo_content(db_sessions: async_sessionmaker[AsyncSession]) -> None:
    await _load(db_sessions)
    async with db_sessions() as s:
        units = {u.name: u for u in (await s.execute(select(OrgUnit))).scalars()}
        for name in ("河北省", "保定市行政审批局", "莲池区", "竞秀区", "满城区", "清苑区", "徐水区",
                     "定兴县", "涿州市", "高碑店市", "五尧乡"):
            assert name in units
        assert units["保定市行政审批局"].level is UnitLevel.city
        wuyao = units["五尧乡"]
        chain = ("河北省", "保定市行政审批局", "莲池区", "五尧乡")
        assert wuyao.path == "/" + "".join(f"{units[n].id}/" for n in chain)
        assert any(u.parent_id == wuyao.id and u.level is UnitLevel.village for u in units.values())

        items = {i.name: i for i in (await s.execute(select(ServiceItem))).scalars()}
        for name in ("企业设立登记", "企业变更登记（营业执照变更）", "企业注销登记", "药品经营许可证变更",
                     "药品经营许可（零售药店）", "食品经营许可（小餐饮）", "公共场所卫生许可",
                     "劳务派遣经营许可", "城镇污水排入排水管网许可", "建筑工程施工许可",
                     "医疗机构执业登记", "道路运输经营许可（道路普通货物运输）", "民办学校办学许可",
                     "个体工商户登记", "名称自主申报"):
            assert name in items
            assert items[name].video_help
        assert sum(i.remote_inspection for i in items.values()) == 17
        assert items["劳务派遣经营许可"].remote_inspection

        rows = await s.execute(select(ServiceItemUnit.item_id, ServiceItemUnit.unit_id))
        pairs = {(r.item_id, r.unit_id) for r in rows}
        township_items = {i for i, u in pairs if u == wuyao.id}
        assert 0 < len(township_items) < 6, "the township handles only a few simple items"
        assert (items["企业设立登记"].id, wuyao.id) not in pairs
        assert (items["企业设立登记"].id, units["莲池区"].id) in pairs

        orders = {o.number: o for o in (await s.execute(select(WorkOrder))).scalars()}
        assert len(orders) == len(demo_data.ORDERS)
        fallback = next(o for o in orders.values() if o.fallback_level == 1)
        assert (fallback.unit_id, fallback.handled_unit_id) == (wuyao.id, units["莲池区"].id)
        follow_up = next(o for o in orders.values() if o.status is WorkOrderStatus.unresolved)
        assert follow_up.owner_id is not None and follow_up.due_at is not None

        holidays = (await s.execute(select(Holiday))).scalars().all()
        assert {h.unit_id for h in holidays} == {None}  # bureau-wide, from the holiday packages
        assert {h.day.year for h in holidays} == {2026, 2027}
        names = {h.name for h in holidays}
        assert {"元旦", "春节", "清明节", "劳动节", "端午节", "中秋节", "国庆节"} <= names
        assert any(h.is_workday for h in holidays)


async def test_demo_staff_can_log_in(db_sessions: async_sessionmaker[AsyncSession]) -> None:
    await _load(db_sessions)
    async with db_sessions() as s:
        staff = {p.username: p for p in (await s.execute(select(Staff))).scalars()}
        skills = (await s.execute(select(StaffSkill))).scalars().all()
    roles = [p.role.value for p in staff.values()]
    assert roles.count("agent") == 6 and roles.count("supervisor") == 2 and roles.count("admin") == 1
    for person in staff.values():
        assert verify_password(person.password_hash, demo_data.DEMO_PASSWORD), person.username
    assert not verify_password(staff["agent1"].password_hash, "wrong")
    agents = {p.id for p in staff.values() if p.role.value == "agent"}
    assert agents <= {k.staff_id for k in skills}, "every agent has skills"


async def test_demo_repairs_changed_rows(db_sessions: async_sessionmaker[AsyncSession]) -> None:
    """A re-run puts demo rows back (upsert), keeps a changed password, and adds nothing."""
    await _load(db_sessions)
    async with db_sessions() as s:
        item = (await s.execute(select(ServiceItem).filter_by(code="SCJG-001"))).scalar_one()
        item.name = "renamed"
        agent = (await s.execute(select(Staff).filter_by(username="agent1"))).scalar_one()
        agent.password_hash = "kept"
        await s.commit()
    await _load(db_sessions)
    async with db_sessions() as s:
        item = (await s.execute(select(ServiceItem).filter_by(code="SCJG-001"))).scalar_one()
        agent = (await s.execute(select(Staff).filter_by(username="agent1"))).scalar_one()
    assert item.name == "企业设立登记"
    assert agent.password_hash == "kept"


@pytest.mark.postgres
def test_demo_on_migrated_postgres(pg_url: str) -> None:
    """The loader against the real schema on PostgreSQL (stricter types than SQLite), twice."""
    migrations.upgrade(pg_url)
    first = asyncio.run(run_demo(pg_url, components=False))
    second = asyncio.run(run_demo(pg_url, components=False))
    assert first == second
    assert first["service_items"] >= 30 and first["work_orders"] == len(demo_data.ORDERS)


def test_demo_can_open_every_desk_around_the_clock(settings: Settings) -> None:
    """`make run` loads the demo with --open-all-hours, so calls can be tried on a Sunday night;
    loading it again without the flag restores the real office hours."""
    from datetime import UTC, datetime

    from helpdesk.org.calendar import load_calendar

    url = settings.database_url
    migrations.upgrade(url)
    sunday_night = datetime(2026, 11, 29, 15, 0, tzinfo=UTC)  # 23:00 in Beijing

    async def city_open() -> bool:
        engine = make_engine(url)
        try:
            async with make_session_factory(engine)() as s:
                city = (await s.scalars(select(OrgUnit).where(OrgUnit.code == demo_data.UNITS[1].code))).one()
                return (await load_calendar(s, city.id)).is_open(sunday_night)
        finally:
            await engine.dispose()

    asyncio.run(run_demo(url, components=False, open_all_hours=True))
    assert asyncio.run(city_open())
    asyncio.run(run_demo(url, components=False))
    assert not asyncio.run(city_open())


def test_the_sample_import_files_are_the_demo_world() -> None:
    """The demo loads helpdesk/admin/samples/*.csv; they hold exactly the lists of demo_data."""
    import csv

    from helpdesk.demo import SAMPLES

    def column(kind: str, name: str) -> list[str]:
        with (SAMPLES / f"{kind}.csv").open(encoding="utf-8-sig") as f:
            return [row[name] for row in csv.DictReader(f)]

    assert column("units", "code") == [u.code for u in demo_data.UNITS]
    assert column("units", "parent") == [u.parent or "" for u in demo_data.UNITS]
    assert column("items", "code") == [i.code for i in demo_data.ITEMS]
    assert column("items", "units") == [" ".join(demo_data.units_for(i)) for i in demo_data.ITEMS]
    assert column("staff", "username") == [p.username for p in demo_data.STAFF]
    assert column("staff", "skills") == [" ".join(p.skills) for p in demo_data.STAFF]
