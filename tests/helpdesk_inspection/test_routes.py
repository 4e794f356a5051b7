"""The routes through a tiny app wired like the shell will: checklists, versions, flow, reports, demo."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import httpx
from fastapi import Cookie, FastAPI, Header
from helpdesk_inspection.component import wire
from helpdesk_inspection.demo import demo_files, load_demo
from helpdesk_inspection.routes import make_router
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import helpdesk.models as hm
from helpdesk.clock import FakeClock
from helpdesk.config import Settings

from .conftest import World

POINTS = [
    {"title": "加工场所布局", "guidance": "拍全景", "compliance": "生熟分开"},
    {"title": "新增：洗手设施", "guidance": "拍洗手池", "compliance": "有洗手液"},
]


async def make_app(
    settings: Settings,
    clock: FakeClock,
    db: async_sessionmaker[AsyncSession],
    world: World,
    sent: list[tuple[str, dict[str, Any]]],
    stack: contextlib.AsyncExitStack,
) -> FastAPI:
    state = SimpleNamespace(settings=settings, clock=clock, sessions=db, redis=None, components={})

    async def send(member: str, message: dict[str, Any]) -> None:
        sent.append((member, message))

    component = await wire(state, stack)

    async def session_dep() -> AsyncIterator[AsyncSession]:
        async with db() as s:
            yield s

    staff = {str(p.id): p for p in (world.agent, world.other_agent, world.supervisor)}

    async def maybe_staff(x_staff: str | None = Header(None), test_staff: str | None = Cookie(None)) -> Any:
        return staff.get(x_staff or test_staff or "")

    async def maybe_applicant(x_applicant: str | None = Header(None), test_applicant: str | None = Cookie(None)) -> Any:
        who = x_applicant or test_applicant
        return SimpleNamespace(id=who) if who else None

    app = FastAPI()
    app.state.component = component
    app.state.helpdesk = state
    app.include_router(
        make_router(  # no component: read per request from app.state.helpdesk, as the shell has it
            session_dep=session_dep,
            maybe_staff=maybe_staff,
            maybe_applicant=maybe_applicant,
            send_to_member=send,
        )
    )
    return app


async def test_routes_end_to_end(
    settings: Settings, clock: FakeClock, world: World, db_sessions: async_sessionmaker[AsyncSession]
) -> None:
    sent: list[tuple[str, dict[str, Any]]] = []
    async with contextlib.AsyncExitStack() as stack:
        app = await make_app(settings, clock, db_sessions, world, sent, stack)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            agent = {"X-Staff": str(world.agent.id)}
            boss = {"X-Staff": str(world.supervisor.id)}
            me = {"X-Applicant": world.applicant_id}
            assert (await c.get("/static/inspection/inspection.js")).status_code == 200

            body = {"title": "小餐饮 v2", "points": POINTS, "change_note": "加洗手设施"}
            r = await c.put(f"/api/inspections/checklists/{world.food_item}", json=body, headers=agent)
            assert r.status_code == 403 and r.json()["error"] == "forbidden"
            r = await c.put(f"/api/inspections/checklists/{world.food_item}", json=body, headers=boss)
            assert r.status_code == 200 and r.json()["version"] == 2
            assert [p["key"] for p in r.json()["points"]] == ["K1", "P2"]  # same title keeps its key
            v2 = r.json()["id"]

            r = await c.post("/api/inspections", json={"work_order": world.work_order, "room": "r1"}, headers=agent)
            assert r.status_code == 201 and r.json()["checklist"]["version"] == 2
            insp = r.json()["id"]
            r = await c.post("/api/inspections", json={"work_order": world.work_order, "room": "r1"}, headers=agent)
            assert r.status_code == 409 and r.json()["error"] == "inspection_running"
            assert (await c.post(f"/api/inspections/{insp}/consent", json={"accept": True})).status_code == 401
            r = await c.post(
                f"/api/inspections/{insp}/consent",
                headers=me,
                json={"accept": True, "location": {"lat": 38.8, "lon": 115.5}},
            )
            assert r.status_code == 200 and r.json()["status"] == "active"

            # A new version does not change the running inspection's checklist.
            r = await c.put(
                f"/api/inspections/checklists/{world.food_item}",
                headers=boss,
                json={"title": "v3", "points": POINTS[:1]},
            )
            assert r.json()["version"] == 3
            assert (await c.get(f"/api/inspections/{insp}", headers=me)).json()["checklist_id"] == v2

            r = await c.post(f"/api/inspections/{insp}/points/NOPE/snapshot", headers=agent)
            assert r.status_code == 404 and r.json()["error"] == "unknown_point"
            r = await c.post(f"/api/inspections/{insp}/points/K1/snapshot", headers=agent)
            assert r.status_code == 503 and r.json()["error"] == "no_video"
            bad = {"marks": [{"kind": "arrow", "points": [[0.2, 1.5], [0.3, 0.3]]}]}  # off the frame
            r = await c.post(f"/api/inspections/{insp}/points/K1/snapshot", headers=agent, json=bad)
            assert r.status_code == 422
            for key in ("K1", "P2"):
                r = await c.post(
                    f"/api/inspections/{insp}/points/{key}/mark",
                    headers=agent,
                    json={"result": "pass", "note": ""},
                )
                assert r.status_code == 200
            r = await c.post(f"/api/inspections/{insp}/step", json={"index": 1}, headers=agent)
            assert r.json()["index"] == 1
            r = await c.post(f"/api/inspections/{insp}/end", json={"outcome": "pass"}, headers=agent)
            assert r.status_code == 200 and r.json()["outcome"] == "pass"

            pdf = await c.get(f"/api/inspections/{insp}/report.pdf", headers=me)
            assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
            html = await c.get(f"/api/inspections/{insp}/report.html", headers=agent)
            assert "洗手设施" in html.text
            other = {"X-Applicant": "someone-else"}
            assert (await c.get(f"/api/inspections/{insp}/report.pdf", headers=other)).status_code == 404
            r = await c.get(f"/api/inspections/{insp}/report.pdf", headers={"X-Staff": str(world.other_agent.id)})
            assert r.status_code == 404
            assert (await c.get("/api/inspections/figures", headers=agent)).status_code == 403
            rows = (await c.get("/api/inspections/figures", headers=boss)).json()["rows"]
            assert rows[0]["first_pass_rate"] == 1.0
            assert (
                len((await c.get(f"/api/inspections?work_order={world.work_order}", headers=me)).json()["inspections"])
                == 1
            )
    kinds = [m["type"] for who, m in sent if who == f"a:{world.applicant_id}"]
    assert kinds[:2] == ["inspection.requested", "inspection.started"] and kinds[-1] == "inspection.ended"


async def test_demo_checklists_match_items_by_name(db_sessions: async_sessionmaker[AsyncSession]) -> None:
    files = demo_files()
    assert len(files) == 4 and all(len(f["points"]) >= 6 for f in files)
    async with db_sessions() as s:
        dept = hm.Department(code="d", name="审批")
        s.add(dept)
        await s.flush()
        for n, name in enumerate(
            [
                "食品经营许可(小餐饮)",
                "药品经营许可（零售药店）",
                "公共场所卫生许可",
                "劳务派遣经营许可",
                "个体工商户登记",
            ]
        ):
            s.add(hm.ServiceItem(code=f"X{n}", name=name, department_id=dept.id, remote_inspection=True))
        await s.commit()
    added = await load_demo(db_sessions)
    assert len(added) == 4 and "个体工商户登记" not in added
    assert await load_demo(db_sessions) == {}  # idempotent
