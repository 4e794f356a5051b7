"""Figures against a hand-computed day, scoping (a county supervisor sees only their subtree), and
the CSV exports matching the work orders."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk.clock import FakeClock
from helpdesk.config import Settings
from helpdesk.workorders.models import Channel, Outcome, WorkOrder, WorkOrderStatus
from tests.helpdesk.accountability.world import World, build_world
from tests.helpdesk.factories import PASSWORD, api_app, client_for, make_work_order

DAY = "2026-11-30"


def bj(d: int, hh: int, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(2026, 11, d, hh, mm, ss, tzinfo=UTC) - timedelta(hours=8)


async def call(s: AsyncSession, w: World, unit: str, agent: str | None, queued: datetime, wait: float,
               talk: float | None = None, outcome: Outcome | None = None, rating: int | None = None,
               status: WorkOrderStatus | None = None, channel: Channel = Channel.video) -> WorkOrder:
    answered = queued + timedelta(seconds=wait) if agent else None
    ended = answered + timedelta(seconds=talk) if answered and talk is not None else None
    st = status or (WorkOrderStatus.abandoned if agent is None else WorkOrderStatus.resolved)
    wo = await make_work_order(
        s, unit=w.units[unit], item=w.item, status=st, channel=channel, queued_at=queued, wait_s=wait,
        agent_id=w.id(agent) if agent else None, handled_unit_id=w.staff[agent].unit_id if agent else None,
        answered_at=answered, ended_at=ended, talk_s=talk, outcome=outcome, rating=rating,
        abandoned_at=None if agent else queued + timedelta(seconds=wait))
    wo.created_at = queued
    return wo


async def hand_computed_day(s: AsyncSession, w: World) -> dict[str, WorkOrder]:
    r, u = Outcome.resolved, Outcome.unresolved
    orders = {
        "1": await call(s, w, "a", "agent_a", bj(30, 9), 10, 300, r, 5),
        "2": await call(s, w, "a", "agent_a", bj(30, 9, 5), 30, 600, u, 3, WorkOrderStatus.unresolved),
        "3": await call(s, w, "a", None, bj(30, 9, 10), 45),  # abandoned after 45 s
        # Exactly at the threshold; follow-up in the call, resolved later.
        "4": await call(s, w, "a1", "agent_a1", bj(30, 10), 20, 120, Outcome.follow_up, None,
                        WorkOrderStatus.unresolved),
        "5": await call(s, w, "b", "agent_b", bj(30, 11), 5, 200, r, 4),
        "6": await call(s, w, "b", None, bj(30, 11, 30), 0, channel=Channel.callback,
                        status=WorkOrderStatus.callback_pending),  # not a call: never offered
        "7": await call(s, w, "a", "agent_a", bj(29, 23, 59), 10, 100, r, 1),  # Sunday in Beijing
        "8": await call(s, w, "a", "agent_a", bj(30, 0, 30), 60, 100, r, 4),  # Monday in Beijing, Sunday in UTC
    }
    await s.commit()
    return orders


EXPECTED_DAY = {
    "key": DAY, "label": DAY, "offered": 6, "answered": 5, "abandoned": 1, "answered_within": 3,
    "service_level": 0.5, "asa_s": 25.0, "aht_s": 264.0, "resolved_in_call": 3, "resolved": 4,
    "first_contact_resolution": 0.6, "resolution_rate": 0.8, "rated": 4, "rating": 4.0,
    "inspections": 0, "inspection_first_pass_rate": None,
}


@pytest.fixture
async def app(settings: Settings, clock: FakeClock) -> AsyncIterator[tuple[FastAPI, World, dict[str, WorkOrder]]]:
    async with api_app(settings, clock) as app:
        async with app.state.helpdesk.sessions() as s:
            w = await build_world(s)
            orders = await hand_computed_day(s, w)
            # A follow-up in A1 resolved after the call: "4" counts as resolved, not in the call.
            orders["4"].status = WorkOrderStatus.resolved
            await s.commit()
        yield app, w, orders


async def login(app: FastAPI, w: World, who: str) -> Any:
    cm = client_for(app)
    client: httpx.AsyncClient = await cm.__aenter__()
    r = await client.post("/api/auth/login", json={"username": w.staff[who].username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return cm, client


async def figures(app: FastAPI, w: World, who: str, group: str, fmt: str = "") -> Any:
    cm, client = await login(app, w, who)
    try:
        r = await client.get(f"/api/stats/figures{fmt}", params={"group": group, "from": DAY, "to": DAY})
        assert r.status_code == 200, r.text
        return r.json() if not fmt else r
    finally:
        await cm.__aexit__(None, None, None)


async def test_a_hand_computed_day(app: Any) -> None:
    a, w, _ = app
    day = await figures(a, w, "admin", "day")
    assert day["rows"] == [EXPECTED_DAY] and day["service_level_threshold_s"] == 20.0
    by_agent = {r["label"]: r for r in (await figures(a, w, "admin", "agent"))["rows"]}
    agent_a = by_agent[w.staff["agent_a"].display_name]
    assert {k: agent_a[k] for k in ("offered", "answered", "abandoned", "answered_within", "service_level",
                                    "asa_s", "aht_s", "first_contact_resolution", "rating")} == {
        "offered": 3, "answered": 3, "abandoned": 0, "answered_within": 1, "service_level": 0.3333,
        "asa_s": 33.33, "aht_s": 333.33, "first_contact_resolution": 0.6667, "rating": 4.0}
    assert by_agent["—"]["offered"] == 1 and by_agent["—"]["abandoned"] == 1  # nobody answered it
    by_unit = {r["label"]: r["offered"] for r in (await figures(a, w, "admin", "unit"))["rows"]}
    assert by_unit == {"莲池区": 4, "五尧乡": 1, "竞秀区": 1}
    (item,) = (await figures(a, w, "admin", "item"))["rows"]
    assert item["label"] == w.item.name and item["offered"] == 6


async def test_a_county_supervisor_sees_only_their_subtree(app: Any) -> None:
    a, w, _ = app
    (day,) = (await figures(a, w, "sup_a", "day"))["rows"]
    assert (day["offered"], day["answered"], day["abandoned"]) == (5, 4, 1)
    units = {r["label"] for r in (await figures(a, w, "sup_a", "unit"))["rows"]}
    assert units == {"莲池区", "五尧乡"}
    (day_b,) = (await figures(a, w, "sup_b", "day"))["rows"]
    assert day_b["offered"] == 1 and day_b["rating"] == 4.0
    agents = {r["label"] for r in (await figures(a, w, "agent_a", "agent"))["rows"]}
    assert agents == {w.staff["agent_a"].display_name}  # an agent sees their own calls only


def parse(r: httpx.Response) -> list[dict[str, str]]:
    assert r.headers["content-type"].startswith("text/csv")
    text = r.content.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


async def test_csv_exports_match(app: Any) -> None:
    a, w, orders = app
    rows = parse(await figures(a, w, "admin", "day", ".csv"))
    assert len(rows) == 1 and rows[0]["offered"] == "6" and rows[0]["service_level"] == "0.5"
    assert rows[0]["inspection_first_pass_rate"] == ""
    cm, client = await login(a, w, "sup_a")
    try:
        r = await client.get("/api/stats/workorders.csv", params={"from": DAY, "to": DAY})
    finally:
        await cm.__aexit__(None, None, None)
    exported = {row["number"]: row for row in parse(r)}
    # County A's subtree, created on Monday (Beijing): 1, 2, 3, 4, 8 — not B's, not Sunday's.
    expected = {orders[k] for k in ("1", "2", "3", "4", "8")}
    assert set(exported) == {wo.number for wo in expected}
    for wo in expected:
        row = exported[wo.number]
        assert row["status"] == str(wo.status) and float(row["wait_s"]) == wo.wait_s
        assert row["agent_id"] == (str(wo.agent_id) if wo.agent_id else "")
        assert wo.queued_at is not None and row["queued_at"] == wo.queued_at.isoformat()


async def test_inspection_hook_is_joined_in_sql(app: Any) -> None:
    """The inspection package hands a query (work_order_id, first_pass); the figures join it."""
    from sqlalchemy import literal, select, union_all

    a, w, orders = app
    first = select(literal(orders["1"].id).label("work_order_id"), literal(1).label("first_pass"))
    second = select(literal(orders["2"].id).label("work_order_id"), literal(0).label("first_pass"))
    a.state.helpdesk.components["inspection_first_pass"] = lambda: union_all(first, second).subquery().select()
    (day,) = (await figures(a, w, "admin", "day"))["rows"]
    assert day["inspections"] == 2 and day["inspection_first_pass_rate"] == 0.5 and day["offered"] == 6


async def test_the_same_figures_in_each_database(sessions: Any) -> None:
    """The GROUP BY (and the Beijing day in each SQL dialect) on SQLite and PostgreSQL alike."""
    from dataclasses import asdict

    from helpdesk.access import staff_unit_path, work_order_scope
    from helpdesk.stats import figures as f

    async with sessions() as s:
        w = await build_world(s)
        await hand_computed_day(s, w)
        lo, hi = f.day_bounds(datetime(2026, 11, 30).date(), datetime(2026, 11, 30).date())
        admin = work_order_scope(w.staff["admin"], await staff_unit_path(s, w.staff["admin"]))
        (day,) = await f.compute(s, admin, "day", lo, hi, 20.0)
        # "4" stays a follow-up here (not resolved later): resolved 3, not 4.
        assert asdict(day) == EXPECTED_DAY | {"resolved": 3, "resolution_rate": 0.6}
        sup_a = work_order_scope(w.staff["sup_a"], await staff_unit_path(s, w.staff["sup_a"]))
        units = {r.label: r.offered for r in await f.compute(s, sup_a, "unit", lo, hi, 20.0)}
        assert units == {"莲池区": 4, "五尧乡": 1}
        two_days = f.day_bounds(datetime(2026, 11, 29).date(), datetime(2026, 11, 30).date())
        days = {r.key: r.offered for r in await f.compute(s, admin, "day", *two_days, 20.0)}
        assert days == {"2026-11-29": 1, DAY: 6}
