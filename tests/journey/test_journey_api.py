"""The journey over a real server: HTTP + WebSocket clients act as the applicant page and the console."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from helpdesk.clock import FakeClock
from helpdesk.config import Settings
from tests.journey.live import Browser, Live, live_app

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de"  # a real 1x1 PNG
                    "0000000c49444154789c63f8ffff3f0005fe02fe0def46b80000000049454e44ae426082")


@pytest.fixture
async def live(settings: Settings, clock: FakeClock) -> Any:
    async with live_app(settings, clock) as server:
        yield server


async def agent_ready(live: Live, b: Browser, username: str) -> None:
    await b.login(username)
    welcome = await b.connect()
    assert welcome["role"] == "agent" and welcome["agent"]["state"] == "away"
    await b.send({"type": "agent.state", "state": "ready"})
    await b.expect("agent.state", state="ready")


async def drops_recorded(staff: Browser, room: str, kinds: list[str]) -> None:
    """The drop is written just after the peer hears of it: wait for the record."""
    async with asyncio.timeout(5):
        while True:
            wo = (await staff.http.get(f"/api/workorders/{room}")).json()
            if [d["kind"] for d in wo["drops"]] == kinds:
                return
            await asyncio.sleep(0.02)


async def start_call(live: Live, agent: Browser, applicant: Browser) -> tuple[dict[str, Any], dict[str, Any]]:
    """Agent ready, applicant queued, offer accepted: returns (applicant's, agent's) room.joined."""
    await agent_ready(live, agent, live.seed["agent"].username)
    await applicant.open_help(live.seed["item"].code, name="刘晓倩")
    await applicant.connect()
    r = await applicant.http.post("/api/help/requests", json={"item": live.seed["item"].code,
                                                               "unit": live.seed["county"].code})
    assert r.status_code == 200, r.text
    offer = await agent.expect("offer")
    assert offer["context"]["item"]["name"] == "企业设立登记"
    assert offer["context"]["applicant"]["name"] == "刘晓倩"
    await agent.send({"type": "offer.accept", "ticket": offer["ticket"]})
    return await applicant.expect("room.joined"), await agent.expect("room.joined")


async def test_full_call_leaves_a_complete_work_order(live: Live, clock: FakeClock) -> None:
    async with Browser(live) as agent, Browser(live) as applicant:
        a_room, s_room = await start_call(live, agent, applicant)
        room = a_room["room"]
        assert a_room["polite"] is True and s_room["polite"] is False and s_room["room"] == room
        assert a_room["peer"]["name"] == "王帮办"

        # Offer/answer/candidates are relayed only to the other member, marked with the sender.
        await applicant.send({"type": "signal", "room": room, "description": {"type": "offer", "sdp": "v=0"}})
        relayed = await agent.expect("signal")
        assert relayed["description"]["type"] == "offer" and relayed["from"].startswith("a:")
        await agent.send({"type": "signal", "room": room, "candidate": None})
        assert (await applicant.expect("signal"))["candidate"] is None

        clock.advance(30)
        await agent.send({"type": "chat", "room": room, "text": "请上传营业执照照片"})
        for side in (agent, applicant):
            assert (await side.expect("chat"))["text"] == "请上传营业执照照片"

        r = await applicant.http.post(f"/api/calls/{room}/files", files={"file": ("执照.png", PNG, "image/png")})
        assert r.status_code == 200, r.text
        shared = (await agent.expect("file"))["file"]
        assert shared["name"] == "执照.png" and shared["content_type"] == "image/png"
        got = await agent.http.get(shared["url"])
        assert got.status_code == 200 and got.content == PNG
        assert got.headers["x-content-type-options"] == "nosniff"

        clock.advance(60)
        await applicant.send({"type": "hangup", "room": room})
        for side in (agent, applicant):
            ended = await side.expect("call.ended")
            assert ended["reason"] == "hangup" and ended["by"].startswith("a:")
        await agent.expect("agent.state", state="wrap_up")

        r = await agent.http.post(f"/api/workorders/{room}/wrapup", json={"outcome": "resolved", "notes": "已指导提交"})
        assert r.status_code == 200, r.text
        r = await applicant.http.post(f"/api/help/requests/{room}/rating", json={"rating": 5, "comment": "很好"})
        assert r.status_code == 200, r.text

        wo = (await agent.http.get(f"/api/workorders/{room}")).json()
        for stamp in ("queued_at", "offered_at", "answered_at", "ended_at"):
            assert wo[stamp], stamp
        assert wo["status"] == "resolved" and wo["outcome"] == "resolved" and wo["rating"] == 5
        assert wo["talk_s"] == pytest.approx(90, abs=1)
        assert [c["text"] for c in wo["chat"]] == ["请上传营业执照照片"]
        assert [f["name"] for f in wo["files"]] == ["执照.png"]
        kinds = [e["kind"] for e in wo["events"]]
        assert kinds[:3] == ["queued", "offered", "answered"] and "ended" in kinds and "wrapped_up" in kinds


async def test_no_agent_online_offers_a_callback(live: Live) -> None:
    async with Browser(live) as applicant:
        await applicant.open_help(live.seed["other_item"].code)
        r = await applicant.http.post("/api/help/requests", json={"item": live.seed["other_item"].code})
        assert r.status_code == 409 and r.json()["error"] == "no_agents"
        code = await applicant.http.post("/api/help/phone-codes", json={"phone": "13800000000"})
        assert code.status_code == 200, code.text
        r = await applicant.http.post("/api/help/callbacks", json={
            "item": live.seed["other_item"].code, "phone": "13800000000", "preferred_time": "明天上午",
            "code": code.json()["dev_code"]})
        assert r.status_code == 200
    async with live.state.sessions() as s:
        from helpdesk.workorders.models import WorkOrder

        wo = await s.get(WorkOrder, r.json()["work_order"])
        assert wo is not None and wo.status == "callback_pending" and wo.callback_phone == "13800000000"


async def test_dropped_applicant_resumes_within_grace(live: Live, clock: FakeClock) -> None:
    async with Browser(live) as agent, Browser(live) as applicant:
        a_room, _ = await start_call(live, agent, applicant)
        room = a_room["room"]
        assert applicant.ws is not None
        await applicant.ws.close()
        dropped = await agent.expect("peer.dropped")
        assert dropped["room"] == room and dropped["grace_s"] == live.state.settings.reconnect_grace_s
        await drops_recorded(agent, room, ["dropped"])
        clock.advance(10)
        welcome = await applicant.connect()
        assert welcome["room"]["room"] == room and welcome["room"]["resumed"] is True
        await agent.expect("peer.resumed", room=room)
        await applicant.send({"type": "chat", "room": room, "text": "我回来了"})
        assert (await agent.expect("chat"))["text"] == "我回来了"
        wo = (await agent.http.get(f"/api/workorders/{room}")).json()
        assert [d["kind"] for d in wo["drops"]] == ["dropped", "resumed"]
        assert wo["status"] == "in_call"


async def test_drop_past_grace_ends_the_call_and_records_who(live: Live, clock: FakeClock) -> None:
    async with Browser(live) as agent, Browser(live) as applicant:
        a_room, _ = await start_call(live, agent, applicant)
        room = a_room["room"]
        assert applicant.ws is not None
        await applicant.ws.close()
        await agent.expect("peer.dropped")
        await drops_recorded(agent, room, ["dropped"])
        clock.advance(live.state.settings.reconnect_grace_s + 1)
        await live.state.components["journey"].tick()
        ended = await agent.expect("call.ended")
        assert ended["reason"] == "dropped" and ended["by"].startswith("a:")
        await agent.expect("agent.state", state="wrap_up")
        wo = (await agent.http.get(f"/api/workorders/{room}")).json()
        assert wo["status"] == "wrap_up" and wo["ended_reason"] == "dropped"
        assert [d["kind"] for d in wo["drops"]] == ["dropped", "expired"]


async def test_waiting_applicant_keeps_place_through_reconnect(live: Live, clock: FakeClock) -> None:
    async with Browser(live) as applicant, Browser(live) as agent:
        await agent.login(live.seed["agent"].username)
        await agent.connect()  # online but away: the applicant waits
        await applicant.open_help(live.seed["item"].code)
        await applicant.connect()
        r = await applicant.http.post("/api/help/requests", json={"item": live.seed["item"].code,
                                                                   "unit": live.seed["county"].code})
        assert r.status_code == 200 and r.json()["position"] == 1
        assert applicant.ws is not None
        await applicant.ws.close()
        await asyncio.sleep(0.1)
        await live.state.components["journey"].tick()  # first seen gone
        clock.advance(5)
        await live.state.components["journey"].tick()
        welcome = await applicant.connect()
        assert welcome["ticket"]["position"] == 1 and welcome["ticket"]["state"] == "waiting"
        # Gone for longer than the grace: the place is given up and recorded as abandoned.
        await applicant.ws.close()
        await asyncio.sleep(0.1)
        await live.state.components["journey"].tick()
        clock.advance(live.state.settings.reconnect_grace_s + 1)
        await live.state.components["journey"].tick()
        wo = (await agent.http.get("/api/workorders")).json()
        assert wo == []  # an agent sees only their own work orders
    async with live.state.sessions() as s:
        from helpdesk.workorders.models import WorkOrder

        row = await s.get(WorkOrder, r.json()["work_order"])
        assert row is not None and row.status == "abandoned" and row.wait_s == pytest.approx(36, abs=1)


async def test_strangers_cannot_touch_a_call(live: Live) -> None:
    async with Browser(live) as agent, Browser(live) as applicant, Browser(live) as stranger:
        a_room, _ = await start_call(live, agent, applicant)
        room = a_room["room"]
        await stranger.open_help(live.seed["item"].code)
        await stranger.connect()
        await stranger.send({"type": "chat", "room": room, "text": "hi"})
        assert (await stranger.expect("error"))["code"] == "not_in_room"
        await stranger.send({"type": "signal", "room": room, "candidate": None})
        assert (await stranger.expect("error"))["code"] == "not_in_room"
        await stranger.send({"type": "offer.accept", "ticket": "x"})
        assert (await stranger.expect("error"))["code"] == "forbidden"
        r = await stranger.http.post(f"/api/calls/{room}/files", files={"file": ("a.png", PNG, "image/png")})
        assert r.status_code == 403
        r = await applicant.http.post(f"/api/calls/{room}/files", files={"file": ("a.png", PNG, "image/png")})
        file_url = r.json()["url"]
        assert (await stranger.http.get(file_url)).status_code == 404
        r = await applicant.http.post(f"/api/calls/{room}/files",
                                      files={"file": ("x.exe", b"MZ\x90\x00" + b"\x00" * 100, "image/png")})
        assert r.status_code == 415 and r.json()["error"] == "unsupported_type"
        big = b"%PDF-1.4\n" + b"0" * (live.state.settings.upload_max_bytes + 1)
        r = await applicant.http.post(f"/api/calls/{room}/files", files={"file": ("a.pdf", big, "application/pdf")})
        assert r.status_code == 413
        # The call still works after all of that.
        await applicant.send({"type": "chat", "room": room, "text": "还在"})
        assert (await agent.expect("chat"))["text"] == "还在"


async def test_socket_without_session_is_refused(live: Live) -> None:
    with pytest.raises(InvalidStatus) as info:
        await connect(live.ws_url)
    assert info.value.response.status_code == 403
    with pytest.raises(InvalidStatus):  # a page of another site cannot ride on the cookies
        async with Browser(live) as agent:
            await agent.login(live.seed["agent"].username)
            cookie = "; ".join(f"{k}={v}" for k, v in agent.http.cookies.items())
            await connect(live.ws_url, additional_headers={"Cookie": cookie, "Origin": "https://evil.example"})
