"""The follow-up routes as the console calls them: claim, note, call back, attach, resolve,
reassign, the unresolved list and the accountability report, each within the caller's scope."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from helpdesk.accountability.sweep import sweep
from helpdesk.clock import FakeClock
from helpdesk.config import Settings
from helpdesk.workorders.models import WorkOrderEvent
from tests.helpdesk.accountability.world import Inbox, World, build_world, callback
from tests.helpdesk.factories import PASSWORD, api_app, client_for

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de"  # a real 1x1 PNG
                    "0000000c49444154789c63f8ffff3f0005fe02fe0def46b80000000049454e44ae426082")


@pytest.fixture
async def env(settings: Settings, clock: FakeClock) -> AsyncIterator[tuple[FastAPI, World, AsyncExitStack]]:
    async with api_app(settings, clock) as app, AsyncExitStack() as stack:
        async with app.state.helpdesk.sessions() as s:
            w = await build_world(s)
        yield app, w, stack


async def as_(env: tuple[FastAPI, World, AsyncExitStack], who: str) -> httpx.AsyncClient:
    app, w, stack = env
    client = await stack.enter_async_context(client_for(app))
    r = await client.post("/api/auth/login", json={"username": w.staff[who].username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return client


async def new_callback(env: Any, unit: str) -> str:
    app, w, _ = env
    async with app.state.helpdesk.sessions() as s:
        wo = await callback(s, w, unit, app.state.helpdesk.clock.now())
    return wo.id


async def test_an_agent_claims_notes_calls_back_attaches_and_resolves(env: Any, clock: FakeClock) -> None:
    app, w, _ = env
    wo_id = await new_callback(env, "a1")
    agent, other, outsider = await as_(env, "agent_a1"), await as_(env, "agent_a1b"), await as_(env, "agent_b")
    listed = (await agent.get("/api/stats/unresolved")).json()
    assert [r["id"] for r in listed] == [wo_id] and listed[0]["flag"] == "none" and not listed[0]["claimed"]
    assert (await outsider.get("/api/stats/unresolved")).json() == []
    assert (await outsider.post(f"/api/workorders/{wo_id}/claim")).status_code == 404  # not theirs to see
    clock.advance(120)
    r = await agent.post(f"/api/workorders/{wo_id}/claim")
    assert r.status_code == 200 and r.json()["owner_id"] == w.id("agent_a1") and r.json()["due_at"]
    r = await other.post(f"/api/workorders/{wo_id}/claim")
    assert r.status_code == 404  # claimed: no longer the unit's to pick up, and not theirs to see
    assert (await agent.post(f"/api/workorders/{wo_id}/notes", json={"text": "已核对材料"})).status_code == 200
    r = await agent.post(f"/api/workorders/{wo_id}/call-back", json={"reached": False, "note": "无人接听"})
    assert r.status_code == 200
    r = await agent.post(f"/api/workorders/{wo_id}/attachments", files={"file": ("样表.png", PNG, "image/png")})
    assert r.status_code == 200, r.text
    assert (await agent.post(f"/api/workorders/{wo_id}/resolve", json={"note": ""})).status_code == 422
    r = await agent.post(f"/api/workorders/{wo_id}/resolve", json={"note": "已回电指导办结"})
    assert r.status_code == 200 and r.json()["status"] == "resolved"
    assert (await agent.post(f"/api/workorders/{wo_id}/notes", json={"text": "x"})).json()["error"] == "not_open"
    async with app.state.helpdesk.sessions() as s:
        events = (await s.scalars(select(WorkOrderEvent).where(WorkOrderEvent.work_order_id == wo_id)
                                  .order_by(WorkOrderEvent.seq))).all()
    assert [e.kind for e in events] == ["callback_requested", "followup_opened", "claimed", "note",
                                        "called_back", "file_shared", "resolved"]
    assert all(e.actor == f"s:{w.id('agent_a1')}" for e in events[2:])
    assert events[3].ip == "203.0.113.7"


async def test_supervisors_reassign_within_their_subtree(env: Any) -> None:
    _, w, _ = env
    wo_id = await new_callback(env, "a1")
    sup_a, sup_b, agent = await as_(env, "sup_a"), await as_(env, "sup_b"), await as_(env, "agent_a1")
    body = {"staff_id": w.id("agent_a"), "reason": "乡镇无法办理，转区级"}
    assert (await sup_b.post(f"/api/workorders/{wo_id}/reassign", json=body)).status_code == 404
    assert (await agent.post(f"/api/workorders/{wo_id}/reassign", json=body)).status_code == 403
    r = await sup_a.post(f"/api/workorders/{wo_id}/reassign", json={"staff_id": w.id("agent_b"), "reason": "x"})
    assert r.status_code == 404  # the target is outside A's subtree
    r = await sup_a.post(f"/api/workorders/{wo_id}/reassign", json={"staff_id": w.id("agent_a")})
    assert r.status_code == 422  # a reason is required
    r = await sup_a.post(f"/api/workorders/{wo_id}/reassign", json=body)
    assert r.status_code == 200 and r.json()["owner_id"] == w.id("agent_a") and r.json()["cycle"] == 1
    new_owner = await as_(env, "agent_a")
    items = (await new_owner.get("/api/notifications")).json()["items"]
    assert items[0]["kind"] == "reassigned" and items[0]["work_order_id"] == wo_id
    r = await sup_a.post(f"/api/workorders/{wo_id}/reassign", json={"unit_id": w.units["a1"].id, "reason": "退回"})
    assert r.status_code == 200 and r.json()["owner_id"] is None and r.json()["owner_unit_id"] == w.units["a1"].id


async def test_the_accountability_report(env: Any, clock: FakeClock) -> None:
    app, w, _ = env
    state = app.state.helpdesk
    first, second = await new_callback(env, "a1"), await new_callback(env, "b")
    inbox = Inbox()
    await sweep(state.sessions, clock, inbox, state.settings)
    clock.advance(60 * 60)  # 10:00: both red and escalated once
    await sweep(state.sessions, clock, inbox, state.settings)
    sup_a, admin = await as_(env, "sup_a"), await as_(env, "admin")
    mine = (await sup_a.get("/api/followups/report", params={"from": "2026-11-30", "to": "2026-11-30"})).json()
    assert {b["work_order_id"] for b in mine["breaches"]} == {first}  # not B's order
    assert mine["by_unit"] == [{"id": w.units["a1"].id, "name": "五尧乡", "total": 2,
                                "reasons": {"unclaimed": 2}}]
    everything = (await admin.get("/api/followups/report", params={"from": "2026-11-30"})).json()
    assert len(everything["breaches"]) == 4 and {u["name"] for u in everything["by_unit"]} == {"五尧乡", "竞秀区"}
    assert everything["by_agent"] == [{"id": None, "name": "—", "total": 4, "reasons": {"unclaimed": 4}}]
    r = await admin.get("/api/followups/report.csv", params={"from": "2026-11-30"})
    lines = r.content.decode("utf-8-sig").strip().splitlines()
    assert lines[0].startswith("at,number,reason,level") and len(lines) == 5
    unresolved = (await sup_a.get("/api/stats/unresolved")).json()
    assert [(u["id"], u["flag"], u["escalation_level"]) for u in unresolved] == [(first, "escalated", 1)]
    assert unresolved[0]["age_s"] == 3600
    assert second


async def test_policies_are_edited_within_scope(env: Any) -> None:
    app, w, _ = env
    sup_a, admin, agent = await as_(env, "sup_a"), await as_(env, "admin"), await as_(env, "agent_a")
    assert (await agent.get("/api/followups/policies")).status_code == 403
    r = await sup_a.put("/api/followups/policies", json={"unit_id": w.units["b"].id, "t2_s": 600})
    assert r.status_code == 404
    assert (await sup_a.put("/api/followups/policies", json={"t2_s": 600})).status_code == 403
    r = await sup_a.put("/api/followups/policies", json={"unit_id": w.units["a1"].id, "t2_s": 600})
    assert r.status_code == 200 and r.json()["t2_s"] == 600
    r = await sup_a.put("/api/followups/policies", json={"unit_id": w.units["a1"].id, "t2_s": 900})
    policy_id = r.json()["id"]
    listed = (await admin.get("/api/followups/policies")).json()
    assert listed["defaults"]["t2_s"] == 1200 and [p["t2_s"] for p in listed["policies"]] == [900]
    clock = app.state.helpdesk.clock
    wo_id = await new_callback(env, "a1")
    await sweep(app.state.helpdesk.sessions, clock, Inbox(), app.state.helpdesk.settings)
    detail = (await sup_a.get(f"/api/workorders/{wo_id}")).json()
    assert detail["due_at"]
    async with app.state.helpdesk.sessions() as s:
        from helpdesk.workorders.models import WorkOrder

        wo = await s.get(WorkOrder, wo_id)
        assert wo is not None and wo.red_at == clock.now() + timedelta(seconds=900)
    assert (await sup_a.delete(f"/api/followups/policies/{policy_id}")).status_code == 200
