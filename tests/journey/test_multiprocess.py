"""Two real server processes on one Redis and one PostgreSQL: the applicant on one, the agent on the
other; real WebRTC peers (aiortc) negotiate through them; processes are killed with SIGKILL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.sdp import candidate_from_sdp
from sqlalchemy import select

from helpdesk.workorders.models import ChatMessage, WorkOrder, WorkOrderEvent
from tests.journey.cluster import Client, Proc, Timeline, cluster, prepare_database
from tests.journey.live import seed

pytestmark = [pytest.mark.redis, pytest.mark.postgres]

HEARTBEAT_S = 2.0  # presence TTL and the hub's owner TTL are 3 × this: 6 s
GRACE_S = 15.0
DEAD_AFTER_S = 3 * HEARTBEAT_S
LEADER_TTL_S = 5.0
SLACK_S = 15.0  # the leader's one-second tick can lag several seconds on a loaded machine
SETTINGS: dict[str, Any] = {"heartbeat_interval_s": HEARTBEAT_S, "reconnect_grace_s": GRACE_S,
                             "offer_timeout_s": 30}


class Env:
    def __init__(self, procs: list[Proc], seed: dict[str, Any], db: Any, prefix: str) -> None:
        self.a, self.b = procs
        self.seed = seed
        self.db = db
        self.prefix = prefix

    async def work_order(self, wo_id: str) -> WorkOrder:
        async with self.db.sessions() as s:
            wo = await s.scalar(select(WorkOrder).where(WorkOrder.id == wo_id))
            assert wo is not None
            return wo


@pytest.fixture
async def env(pg_url: str, redis_url: str, redis_prefix: str, tmp_path: Path) -> AsyncIterator[Env]:
    db = await prepare_database(pg_url)
    try:
        data = await seed(db)  # type: ignore[arg-type]  # seed only needs .sessions
        async with cluster(pg_url, redis_url, redis_prefix, tmp_path, **SETTINGS) as procs:
            env = Env(procs, data, db, redis_prefix)
            try:
                yield env
            except BaseException:
                for p in procs:
                    print(f"---- process {p.name} log ----\n{p.tail()}")
                raise
    finally:
        await db.engine.dispose()


class RtcPeer:
    """A real WebRTC endpoint speaking the journey's signal messages: descriptions without
    candidates, each candidate trickled as its own `signal`, then `candidate: null`."""

    def __init__(self, client: Client, room: str) -> None:
        self.client = client
        self.room = room
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.received: asyncio.Queue[str] = asyncio.Queue()
        self.channel: Any = None
        client.signals = asyncio.Queue()
        self.pump = asyncio.create_task(self._pump())
        self.errors: list[BaseException] = []

        @self.pc.on("datachannel")
        def _on_channel(channel: Any) -> None:
            self._attach(channel)

    def _attach(self, channel: Any) -> None:
        self.channel = channel

        @channel.on("message")
        def _on_message(message: str) -> None:
            self.received.put_nowait(message)

    async def offer(self) -> None:
        self._attach(self.pc.createDataChannel("chat"))
        await self._send_local_offer()

    async def _send_local_offer(self) -> None:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        await self._send_local()

    async def _send_local(self) -> None:
        desc = self.pc.localDescription
        lines, candidates, mid, index = [], [], None, -1
        for line in desc.sdp.splitlines():
            if line.startswith("m="):
                index += 1
            elif line.startswith("a=mid:"):
                mid = line[6:]
            if line.startswith("a=candidate:"):
                candidates.append((line[2:], mid, index))
            elif line != "a=end-of-candidates":
                lines.append(line)
        assert candidates, "no ICE candidate gathered (is there a non-loopback interface?)"
        await self.client.send({"type": "signal", "room": self.room,
                                "description": {"type": desc.type, "sdp": "\r\n".join(lines) + "\r\n"}})
        for cand, cand_mid, cand_index in candidates:
            await self.client.send({"type": "signal", "room": self.room, "candidate": {
                "candidate": cand, "sdpMid": cand_mid, "sdpMLineIndex": cand_index}})
        await self.client.send({"type": "signal", "room": self.room, "candidate": None})

    async def _pump(self) -> None:
        assert self.client.signals is not None
        while True:
            msg = await self.client.signals.get()
            try:
                if msg.get("description"):
                    d = msg["description"]
                    await self.pc.setRemoteDescription(RTCSessionDescription(d["sdp"], d["type"]))
                    if d["type"] == "offer":
                        await self.pc.setLocalDescription(await self.pc.createAnswer())
                        await self._send_local()
                elif msg.get("candidate") is None:
                    await self.pc.addIceCandidate(None)
                else:
                    c = msg["candidate"]
                    ice = candidate_from_sdp(c["candidate"].removeprefix("candidate:"))
                    ice.sdpMid, ice.sdpMLineIndex = c.get("sdpMid"), c.get("sdpMLineIndex")
                    await self.pc.addIceCandidate(ice)
            except Exception as exc:  # surfaced by the test's assertions
                self.errors.append(exc)

    async def connected(self, timeout: float = 40.0) -> None:
        async with asyncio.timeout(timeout):
            while self.pc.connectionState != "connected":
                assert not self.errors, self.errors
                assert self.pc.connectionState not in ("failed", "closed"), self.pc.connectionState
                await asyncio.sleep(0.05)

    async def close(self) -> None:
        self.pump.cancel()
        await self.pc.close()


async def event_kinds(env: Env, wo_id: str) -> list[str]:
    async with env.db.sessions() as s:
        rows = await s.scalars(select(WorkOrderEvent.kind).where(WorkOrderEvent.work_order_id == wo_id)
                               .order_by(WorkOrderEvent.seq))
        return list(rows.all())


async def agent_ready(env: Env, agent: Client, ready: bool = True) -> None:
    await agent.login(env.seed["agent"].username)
    welcome = await agent.connect()
    assert welcome["role"] == "agent"
    if ready:
        await agent.send({"type": "agent.state", "state": "ready"})
        await agent.expect("agent.state", state="ready")


async def queue_up(env: Env, applicant: Client, name: str) -> dict[str, Any]:
    await applicant.open_help(env.seed["item"].code, name=name)
    await applicant.connect()
    r = await applicant.http.post("/api/help/requests", json={"item": env.seed["item"].code,
                                                               "unit": env.seed["county"].code})
    assert r.status_code == 200, r.text
    return dict(r.json())


async def start_call(env: Env, agent: Client, applicant: Client) -> tuple[str, RtcPeer, RtcPeer]:
    """Applicant on A, agent on B: offer, accept, rooms, then real peers connect through both."""
    await agent_ready(env, agent)
    req = await queue_up(env, applicant, "刘晓倩")
    offer = await agent.expect("offer")  # routed on A, delivered to the agent's socket on B
    assert offer["work_order"] == req["work_order"] and offer["context"]["applicant"]["name"] == "刘晓倩"
    await agent.send({"type": "offer.accept", "ticket": offer["ticket"]})
    a_room, s_room = await applicant.expect("room.joined"), await agent.expect("room.joined")
    room = a_room["room"]
    assert s_room["room"] == room == req["work_order"] and a_room["polite"] and not s_room["polite"]
    a_peer, s_peer = RtcPeer(applicant, room), RtcPeer(agent, room)
    await a_peer.offer()
    await asyncio.gather(a_peer.connected(), s_peer.connected())
    return room, a_peer, s_peer


async def data_round_trip(a_peer: RtcPeer, s_peer: RtcPeer, text: str) -> None:
    async with asyncio.timeout(10):
        while not all(p.channel is not None and p.channel.readyState == "open" for p in (a_peer, s_peer)):
            await asyncio.sleep(0.05)
    a_peer.channel.send(text)
    assert await asyncio.wait_for(s_peer.received.get(), 10) == text
    s_peer.channel.send(text + " ✓")
    assert await asyncio.wait_for(a_peer.received.get(), 10) == text + " ✓"


async def test_pairing_webrtc_chat_file_and_hangup_across_processes(env: Env) -> None:
    async with Client(env.b) as agent, Client(env.a) as applicant:
        room, a_peer, s_peer = await start_call(env, agent, applicant)
        try:
            assert a_peer.pc.connectionState == s_peer.pc.connectionState == "connected"
            await data_round_trip(a_peer, s_peer, "你好")
            status = applicant.seen("queue.status")
            assert status and status[0]["position"] == 1  # queue.status crossed over from wherever routed

            await agent.send({"type": "chat", "room": room, "text": "请上传营业执照照片"})  # B → A and B
            for side in (agent, applicant):
                assert (await side.expect("chat"))["text"] == "请上传营业执照照片"
            await applicant.send({"type": "media.state", "room": room, "audio": True, "video": False,
                                  "screen": False})
            assert (await agent.expect("media.state"))["video"] is False
            png = bytes.fromhex("89504e470d0a1a0a0000000d49484452") + b"\x00" * 64
            r = await applicant.http.post(f"/api/calls/{room}/files",
                                          files={"file": ("执照.png", png, "image/png")})
            assert r.status_code == 200, r.text
            assert (await agent.expect("file"))["file"]["name"] == "执照.png"  # uploaded on A, pushed to B

            await applicant.send({"type": "hangup", "room": room})
            for side in (applicant, agent):
                ended = await side.expect("call.ended")
                assert ended["reason"] == "hangup" and ended["by"].startswith("a:")
            await agent.expect("agent.state", state="wrap_up")
            wo = await env.work_order(room)
            assert wo.status.value == "wrap_up" and wo.ended_reason == "hangup"
            async with env.db.sessions() as s:
                texts = (await s.scalars(select(ChatMessage.text)
                                         .where(ChatMessage.work_order_id == room))).all()
            assert texts == ["请上传营业执照照片"]
        finally:
            await a_peer.close()
            await s_peer.close()


async def wait_for(check: Any, timeout: float, what: str, timeline: Timeline) -> None:
    end = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > end:
            raise AssertionError(f"{what}: not within {timeout} s\n{timeline}")
        await asyncio.sleep(0.2)


async def test_waiting_applicant_keeps_place_when_its_process_dies(env: Env) -> None:
    """A is killed (it probably also held the timers' lock): its waiting applicants keep their places
    through the grace; X comes back through B and is served first; Z never comes back and leaves."""
    tl = Timeline()
    async with Client(env.b) as agent, Client(env.a) as x, Client(env.a) as z, Client(env.b) as y:
        await agent_ready(env, agent, ready=False)  # online but away: the applicants wait
        rx = await queue_up(env, x, "先来")
        rz = await queue_up(env, z, "中间")
        ry = await queue_up(env, y, "后到")
        assert (rx["position"], rz["position"], ry["position"]) == (1, 2, 3)
        env.a.kill()
        tl.mark("A killed")
        await asyncio.sleep(DEAD_AFTER_S + 2)  # past the owner TTL: the leader counts x and z as gone
        x.move_to(env.b)
        welcome = await x.connect()
        tl.mark(f"x back on B: {welcome.get('ticket')}")
        assert welcome["ticket"]["state"] == "waiting" and welcome["ticket"]["position"] == 1, tl
        await agent.send({"type": "agent.state", "state": "ready"})
        offer = await agent.expect("offer", timeout=20)
        tl.mark("agent offered " + offer["work_order"])
        assert offer["work_order"] == rx["work_order"], tl  # the first in line, despite the dead process
        await agent.send({"type": "offer.accept", "ticket": offer["ticket"]})
        await x.expect("room.joined")

        async def z_left() -> bool:
            return (await env.work_order(rz["work_order"])).status.value == "abandoned"

        # z had no socket anywhere since the kill: gone after the owner TTL, then the grace
        # (plus a leader takeover of up to LEADER_TTL_S and a tick).
        await wait_for(z_left, DEAD_AFTER_S + GRACE_S + LEADER_TTL_S + SLACK_S, "z abandoned", tl)
        tl.mark("z abandoned")
        elapsed = float(tl.marks[-1].split("s")[0])
        assert elapsed >= DEAD_AFTER_S + GRACE_S - 1, tl  # not before the grace ran out
        status = await y.expect("queue.status", timeout=20, position=1)
        assert status["state"] == "waiting"


async def test_call_resumes_through_the_other_process(env: Env) -> None:
    """Mid-call, the applicant's process dies: the agent hears peer.dropped once the hub notices,
    the applicant reconnects through B within the grace, the room resumes and the media never stopped."""
    tl = Timeline()
    async with Client(env.b) as agent, Client(env.a) as applicant:
        room, a_peer, s_peer = await start_call(env, agent, applicant)
        try:
            env.a.kill()
            tl.mark("A killed")
            await asyncio.wait_for(applicant.closed.wait(), 5)
            dropped = await agent.expect("peer.dropped", timeout=DEAD_AFTER_S + LEADER_TTL_S + SLACK_S)
            tl.mark("agent: peer.dropped")
            assert dropped["room"] == room and dropped["grace_s"] == GRACE_S
            applicant.move_to(env.b)
            welcome = await applicant.connect()
            tl.mark("applicant back on B")
            assert welcome["room"]["room"] == room and welcome["room"]["resumed"] is True, tl
            await agent.expect("peer.resumed", room=room)
            # The signaling path works again: a renegotiation through B, then chat.
            await a_peer._send_local_offer()
            await asyncio.gather(a_peer.connected(), s_peer.connected())
            await data_round_trip(a_peer, s_peer, "还在吗")
            await applicant.send({"type": "chat", "room": room, "text": "网断了一下"})
            assert (await agent.expect("chat"))["text"] == "网断了一下"
            await asyncio.sleep(3)
            assert agent.seen("call.ended") == [] and applicant.seen("call.ended") == []
            wo = await env.work_order(room)
            assert wo.status.value == "in_call"
        finally:
            await a_peer.close()
            await s_peer.close()


async def test_agent_hears_drop_and_resume_when_the_applicant_is_back_through_the_other_process_at_once(
        env: Env) -> None:
    """The applicant's process dies and the applicant is back through B before anyone noticed A's
    silence: the agent still hears peer.dropped then peer.resumed (its side restarts ICE), both are
    on the work order (recorded by B, the process that saw them), and the call goes on."""
    tl = Timeline()
    async with Client(env.b) as agent, Client(env.a) as applicant:
        room, a_peer, s_peer = await start_call(env, agent, applicant)
        try:
            env.a.kill()
            tl.mark("A killed")
            await asyncio.wait_for(applicant.closed.wait(), 5)
            applicant.move_to(env.b)
            welcome = await applicant.connect()
            tl.mark("applicant back on B")
            assert welcome["room"]["room"] == room and welcome["room"]["resumed"] is True, tl
            await agent.expect("peer.dropped", room=room, timeout=DEAD_AFTER_S - 1)
            await agent.expect("peer.resumed", room=room, timeout=5)
            tl.mark("agent: peer.dropped, peer.resumed")
            kinds = await event_kinds(env, room)
            assert kinds[-2:] == ["peer_dropped", "peer_resumed"], (kinds, tl)
            await a_peer._send_local_offer()  # renegotiation through B
            await asyncio.gather(a_peer.connected(), s_peer.connected())
            await data_round_trip(a_peer, s_peer, "又连上了")
            await asyncio.sleep(DEAD_AFTER_S + 2)  # past A's owner TTL: no second drop for the live socket
            assert agent.seen("peer.dropped") == [] and agent.seen("call.ended") == [], tl
        finally:
            await a_peer.close()
            await s_peer.close()


async def test_call_ends_after_the_grace_when_nobody_comes_back(env: Env) -> None:
    tl = Timeline()
    async with Client(env.b) as agent, Client(env.a) as applicant:
        await agent_ready(env, agent)
        req = await queue_up(env, applicant, "刘晓倩")
        offer = await agent.expect("offer")
        await agent.send({"type": "offer.accept", "ticket": offer["ticket"]})
        await agent.expect("room.joined")
        env.a.kill()
        tl.mark("A killed")
        await agent.expect("peer.dropped", timeout=DEAD_AFTER_S + LEADER_TTL_S + SLACK_S)
        tl.mark("peer.dropped")
        ended = await agent.expect("call.ended", timeout=GRACE_S + SLACK_S)
        tl.mark("call.ended")
        assert ended["reason"] == "dropped" and ended["room"] == req["work_order"], tl
        await agent.expect("agent.state", state="wrap_up")
        wo = await env.work_order(req["work_order"])
        assert wo.status.value == "wrap_up" and wo.ended_reason == "dropped"
        kinds = await event_kinds(env, req["work_order"])  # B noticed the drop, and B recorded it
        assert "peer_dropped" in kinds and kinds.index("peer_dropped") < kinds.index("peer_expired"), kinds
