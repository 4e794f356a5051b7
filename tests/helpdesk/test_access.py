"""Access rules run in SQL: two counties, supervisors see their subtree, agents their own rows.
Runs on SQLite and on PostgreSQL. Also the org tree helpers and routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk.access import can_view_work_order, staff_scope, staff_unit_path, unit_scope, visible_work_orders
from helpdesk.accounts.models import Role, Staff
from helpdesk.db import make_engine, make_session_factory
from helpdesk.org.models import OrgUnit, UnitLevel
from helpdesk.org.service import ancestors, subtree, unit_tree
from tests.helpdesk.factories import (
    PASSWORD,
    api_client,
    create_tables,
    make_item,
    make_staff,
    make_unit,
    make_work_order,
)


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest) -> str:
    """A fresh database of each kind (pg_url skips, or fails in CI, without PostgreSQL)."""
    return str(request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url"))


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[AsyncSession]:
    await create_tables(db_url)
    engine = make_engine(db_url)
    async with make_session_factory(engine)() as session:
        yield session
    await engine.dispose()


@dataclass
class World:
    units: dict[str, OrgUnit]
    staff: dict[str, Staff]
    wo: dict[str, str]


async def build_world(s: AsyncSession) -> World:
    city = await make_unit(s, name="保定市", level=UnitLevel.city)
    a = await make_unit(s, parent=city, name="莲池区")
    a1 = await make_unit(s, parent=a, name="五尧乡", level=UnitLevel.township)
    b = await make_unit(s, parent=city, name="竞秀区")
    units = {"city": city, "a": a, "a1": a1, "b": b}
    staff = {
        "admin": await make_staff(s, unit=city, role=Role.admin),
        "sup_a": await make_staff(s, unit=a, role=Role.supervisor),
        "sup_b": await make_staff(s, unit=b, role=Role.supervisor),
        "agent_a": await make_staff(s, unit=a),
        "agent_a1": await make_staff(s, unit=a1),
        "agent_b": await make_staff(s, unit=b),
    }
    item = await make_item(s, units=[a, a1, b])
    wo = {
        "a": await make_work_order(s, unit=a, item=item, agent_id=staff["agent_a"].id),
        "a1": await make_work_order(s, unit=a1, item=item, owner_id=staff["agent_a1"].id),
        "b": await make_work_order(s, unit=b, item=item, agent_id=staff["agent_b"].id),
        # Queued in B, answered by A's agent after a fallback: both supervisors may see it.
        "b_by_a": await make_work_order(s, unit=b, item=item, handled_unit_id=a.id,
                                        agent_id=staff["agent_a"].id),
    }
    await s.commit()
    return World(units, staff, {k: v.id for k, v in wo.items()})


async def seen(s: AsyncSession, w: World, who: str) -> set[str]:
    stmt = await visible_work_orders(s, w.staff[who])
    ids = set((await s.scalars(stmt)).all())
    return {name for name, wo_id in w.wo.items() if wo_id in {wo.id for wo in ids}}


async def test_work_order_scoping_in_sql(db: AsyncSession) -> None:
    w = await build_world(db)
    assert await seen(db, w, "admin") == {"a", "a1", "b", "b_by_a"}
    assert await seen(db, w, "sup_a") == {"a", "a1", "b_by_a"}
    assert await seen(db, w, "sup_b") == {"b", "b_by_a"}
    assert await seen(db, w, "agent_a") == {"a", "b_by_a"}
    assert await seen(db, w, "agent_a1") == {"a1"}
    assert await seen(db, w, "agent_b") == {"b"}
    assert await can_view_work_order(db, w.staff["sup_a"], w.wo["a1"])
    assert not await can_view_work_order(db, w.staff["sup_a"], w.wo["b"])
    assert not await can_view_work_order(db, w.staff["sup_b"], w.wo["a"])
    assert not await can_view_work_order(db, w.staff["agent_b"], w.wo["a"])
    assert not await can_view_work_order(db, w.staff["admin"], "no-such-id")
    # The filter is SQL, not a Python loop: the statement carries the subtree LIKE.
    compiled = str((await visible_work_orders(db, w.staff["sup_a"])).compile(db.bind))
    assert "LIKE" in compiled.upper() and "org_units" in compiled


async def test_staff_and_unit_scoping_in_sql(db: AsyncSession) -> None:
    w = await build_world(db)
    sup_a = w.staff["sup_a"]
    path = await staff_unit_path(db, sup_a)
    visible = set((await db.scalars(select(Staff.id).where(staff_scope(sup_a, path)))).all())
    assert visible == {w.staff[k].id for k in ("sup_a", "agent_a", "agent_a1")}
    agent = w.staff["agent_b"]
    agent_path = await staff_unit_path(db, agent)
    own = (await db.scalars(select(Staff.id).where(staff_scope(agent, agent_path)))).all()
    assert list(own) == [agent.id]
    units = set((await db.scalars(select(OrgUnit.name).where(unit_scope(sup_a, path)))).all())
    assert units == {"莲池区", "五尧乡"}


async def test_a_supervisor_without_a_unit_path_sees_nothing(session: AsyncSession) -> None:
    w = await build_world(session)
    w.units["a"].path = ""  # a broken row must not widen access to everything
    await session.commit()
    assert await seen(session, w, "sup_a") == set()


async def test_sibling_ids_sharing_a_prefix_do_not_leak(session: AsyncSession) -> None:
    """"/1/2/" must not match "/1/20/": paths end with a slash."""
    city = await make_unit(session)
    counties = [await make_unit(session, parent=city) for _ in range(20)]
    by_id = {u.id: u for u in counties}
    short = next(u for u in counties if any(str(o.id).startswith(str(u.id)) and o is not u for o in counties))
    long_ = next(o for o in counties if o is not short and str(o.id).startswith(str(short.id)))
    sup = await make_staff(session, unit=by_id[short.id], role=Role.supervisor)
    wo = await make_work_order(session, unit=long_)
    await session.commit()
    assert not await can_view_work_order(session, sup, wo.id)


async def test_paths_ancestors_and_subtree(session: AsyncSession) -> None:
    province = await make_unit(session, name="河北省", level=UnitLevel.province)
    city = await make_unit(session, parent=province, name="保定市", level=UnitLevel.city)
    county = await make_unit(session, parent=city, name="莲池区")
    village = await make_unit(session, parent=county, name="东关村", level=UnitLevel.village)
    assert village.path == f"/{province.id}/{city.id}/{county.id}/{village.id}/"
    assert [u.name for u in await ancestors(session, village)] == ["莲池区", "保定市", "河北省"]
    assert await ancestors(session, province) == []
    assert {u.name for u in await subtree(session, city)} == {"保定市", "莲池区", "东关村"}
    tree = await unit_tree(session)
    assert tree[0]["name"] == "河北省" and tree[0]["children"][0]["children"][0]["name"] == "莲池区"


async def test_org_and_item_routes(settings, clock, session: AsyncSession) -> None:
    city = await make_unit(session, name="保定市")
    await make_staff(session, unit=city, username="viewer")
    await make_item(session, units=[city], code="GA-HZ-001", name="居民身份证换领", remote_inspection=True)
    await session.commit()
    async with api_client(settings, clock) as client:
        assert (await client.get("/api/org/units")).status_code == 401
        items = (await client.get("/api/items")).json()  # public: the pages need it
        assert [i["code"] for i in items] == ["GA-HZ-001"] and items[0]["remote_inspection"] is True
        one = (await client.get("/api/items/GA-HZ-001")).json()
        assert one["name"] == "居民身份证换领" and one["unit_ids"] == [city.id]
        missing = await client.get("/api/items/NOPE")
        assert missing.status_code == 404 and missing.json()["error"] == "unknown_item"
        await client.post("/api/auth/login", json={"username": "viewer", "password": PASSWORD})
        tree = (await client.get("/api/org/units")).json()
        assert tree[0]["name"] == "保定市" and tree[0]["children"] == []
