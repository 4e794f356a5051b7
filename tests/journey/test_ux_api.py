"""The routes behind the experience fixes, over a real server: who is logged in without a 401, a
call's files and chat for its members only (after a reload), and the agent's work-order search."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import pytest

from helpdesk.applicants.models import Applicant
from helpdesk.clock import FakeClock
from helpdesk.config import Settings
from helpdesk.workorders.models import WorkOrder
from tests.journey.live import Browser, Live, live_app
from tests.journey.test_journey_api import start_call

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
async def live(settings: Settings, clock: FakeClock) -> Any:
    async with live_app(settings, clock) as server:
        yield server


async def test_session_says_who_without_a_401(live: Live) -> None:
    async with Browser(live) as staff:
        r = await staff.http.get("/api/auth/session")
        assert r.status_code == 200 and r.json() == {"staff": None}
        await staff.login(live.seed["agent"].username)
        r = await staff.http.get("/api/auth/session")
        assert r.status_code == 200 and r.json()["staff"]["display_name"] == "王帮办"


async def test_call_history_for_members_only(live: Live) -> None:
    async with Browser(live) as agent, Browser(live) as applicant, Browser(live) as stranger:
        a_room, _ = await start_call(live, agent, applicant)
        room = a_room["room"]
        r = await agent.http.post(f"/api/calls/{room}/files", files={"file": ("申请表.pdf", PDF, "application/pdf")})
        assert r.status_code == 200, r.text
        await applicant.send({"type": "chat", "room": room, "text": "收到了"})
        await agent.expect("chat")
        r = await applicant.http.get(f"/api/calls/{room}/history")
        assert r.status_code == 200, r.text
        history = r.json()
        assert [f["name"] for f in history["files"]] == ["申请表.pdf"]
        assert history["files"][0]["from"].startswith("s:") and history["chat"][0]["text"] == "收到了"
        assert (await applicant.http.get(history["files"][0]["url"])).content == PDF
        await stranger.open_help(live.seed["item"].code)
        r = await stranger.http.get(f"/api/calls/{room}/history")
        assert r.status_code == 403 and r.json()["error"] == "not_in_room"


async def test_my_work_orders_search(live: Live, clock: FakeClock) -> None:
    seed = live.seed
    async with Browser(live) as agent, Browser(live) as applicant:
        a_room, _ = await start_call(live, agent, applicant)
        room = a_room["room"]
        await applicant.send({"type": "hangup", "room": room})
        await agent.expect("call.ended")
        r = await agent.http.post(f"/api/workorders/{room}/wrapup", json={"outcome": "resolved", "notes": "ok"})
        assert r.status_code == 200, r.text
        number = r.json()["number"]

        async def found(**params: str) -> list[str]:
            r = await agent.http.get("/api/workorders", params={"mine": "1", **params})
            assert r.status_code == 200, r.text
            return [w["number"] for w in r.json()]

        assert await found(q=number[-6:]) == [number]
        assert await found(q="设立登记") == [number]  # the item's name
        assert await found(q="不存在的事项") == []
        assert await found(q="%") == []  # typed text, never a pattern
        assert await found(outcome="resolved") == [number]
        assert await found(outcome="unresolved") == []
        async with live.state.sessions() as s:
            wo = await s.get(WorkOrder, room)
            assert wo is not None
            (await s.get(Applicant, wo.applicant_id)).phone = "13800138000"  # type: ignore[union-attr]
            await s.commit()
        assert await found(q="3800138") == [number]  # the applicant's phone
        today = clock.now().astimezone(ZoneInfo("Asia/Shanghai")).date()
        assert await found(day=today.isoformat()) == [number]
        assert await found(day="2001-01-01") == []
        r = await agent.http.get("/api/workorders", params={"mine": "1", "day": "yesterday"})
        assert r.status_code == 422
        r = await agent.http.get(f"/api/workorders/{room}")
        assert r.json()["department"]["name"] == seed["department"].name
