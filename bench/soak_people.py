"""The simulated people of bench/bench_soak.py: applicants and agents over the real HTTP + WebSocket
API, as clients that survive drops, restarts and SIGKILLs of the server process they talk to, and the
counters they fill (`Stats`)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.journey.cluster import Client, Proc

RTC_MARK = "soak-rtc"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


@dataclass
class Stats:
    errors: Counter[str] = field(default_factory=Counter)
    events: Counter[str] = field(default_factory=Counter)
    issued: set[str] = field(default_factory=set)  # work-order ids handed to applicants
    waits: list[float] = field(default_factory=list)
    error_samples: list[str] = field(default_factory=list)

    def error(self, kind: str, detail: str = "") -> None:
        self.errors[kind] += 1
        if len(self.error_samples) < 40:
            self.error_samples.append(f"{kind}: {detail[:200]}")


class Cluster:
    def __init__(self, procs: list[Proc]) -> None:
        self.procs = procs
        self.restarting: set[str] = set()
        self.killing = False  # --kill-min: abrupt closes (1006) are the point, not an error

    def live(self) -> list[Proc]:
        return [p for p in self.procs if p.name not in self.restarting]

    def pick(self, avoid: Proc | None = None) -> Proc:
        choices = [p for p in self.live() if p is not avoid] or self.live() or self.procs
        return random.choice(choices)


# ---- a client that survives drops and restarts --------------------------------------------------
class Actor:
    def __init__(self, cluster: Cluster, stats: Stats, name: str) -> None:
        self.cluster = cluster
        self.stats = stats
        self.name = name
        self.c = Client(cluster.pick(), ping_s=5.0)
        self.welcome: dict[str, Any] = {}
        self.moves = 0  # reconnects so far (a restart or a drop)

    async def __aenter__(self) -> Actor:
        for _ in range(20):
            try:
                await self.c.__aenter__()
                return self
            except httpx.HTTPError:
                self.c.move_to(self.cluster.pick(avoid=self.c.proc))
                await asyncio.sleep(0.5)
        raise RuntimeError("no server answers")

    async def __aexit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            await self.c.__aexit__(*exc)

    async def http(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """A request; a process going away (connection refused) is retried on the other one."""
        for attempt in range(6):
            try:
                return await self.c.http.request(method, path, **kw)
            except httpx.TransportError:
                self.stats.events["http retried on the other process"] += 1
                self.c.move_to(self.cluster.pick(avoid=self.c.proc))
                await asyncio.sleep(0.2 * (attempt + 1))
        raise RuntimeError(f"{method} {path}: no server answered")

    async def connect(self, avoid: Proc | None = None) -> dict[str, Any]:
        """(Re)connect, moving process when the current one refuses; returns the welcome."""
        if avoid is not None:
            self.c.move_to(self.cluster.pick(avoid=avoid))
        for attempt in range(30):
            try:
                self.welcome = await self.c.connect(timeout=10)
                return self.welcome
            except (OSError, InvalidStatus, TimeoutError, ConnectionClosed) as exc:
                self.stats.events["socket connect retried"] += 1
                if attempt == 29:
                    raise RuntimeError(f"{self.name}: cannot connect: {exc!r}") from exc
                self.c.move_to(self.cluster.pick(avoid=self.c.proc))
                await asyncio.sleep(min(2.0, 0.1 * 2 ** attempt))
        raise AssertionError("unreachable")

    async def next(self, types: set[str], timeout: float) -> dict[str, Any]:
        """The next message of one of `types`; reconnects (to the other process after a 1012) when the
        socket closes, and hands the new welcome back as a message of type "welcome" if asked for."""
        end = time.monotonic() + timeout
        while True:
            for i, msg in enumerate(self.c.kept):
                if msg["type"] in types:
                    return self.c.kept.pop(i)
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{self.name}: none of {sorted(types)} within {timeout:.0f} s")
            if self.c.closed.is_set() and self.c.inbox.empty():
                await self._reconnect()
                if "welcome" in types:
                    return self.welcome
                continue
            get = asyncio.ensure_future(self.c.inbox.get())
            closed = asyncio.ensure_future(self.c.closed.wait())
            done, _ = await asyncio.wait({get, closed}, timeout=left, return_when=asyncio.FIRST_COMPLETED)
            closed.cancel()
            if get in done:
                msg = get.result()
                if msg["type"] == "error":
                    self.stats.error(f"ws error {msg.get('code')}", f"{self.name}: {msg}")
                self.c.kept.append(msg)
            else:
                get.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await get

    async def _reconnect(self) -> None:
        code = self.c.ws.close_code if self.c.ws is not None else None
        self.moves += 1
        moved = code == 1012 or bool(self.c.seen("reconnect"))
        self.c.kept = [m for m in self.c.kept if m["type"] != "reconnect"]
        self.stats.events[f"socket closed {code}"] += 1
        if code not in (1012, 1000, 4002) and not (code == 1006 and self.cluster.killing):
            self.stats.error(f"socket closed {code}", self.name)  # 1006 is what a SIGKILL looks like
        await self.connect(avoid=self.c.proc if moved else None)

    async def send(self, msg: dict[str, Any]) -> None:
        """Send on the live socket; a closed one is reconnected first (the message is then sent there)."""
        for _ in range(3):
            if self.c.ws is None or self.c.closed.is_set():
                await self._reconnect()
            try:
                await self.c.send(msg)
                return
            except ConnectionClosed:
                await asyncio.sleep(0.05)
        raise RuntimeError(f"{self.name}: could not send {msg['type']}")

    async def drop_and_return(self) -> dict[str, Any]:
        """The network drops: the socket goes, the page comes back through the other process."""
        await self.c.disconnect()
        self.moves += 1
        await asyncio.sleep(random.uniform(0.5, 3.0))
        return await self.connect(avoid=self.c.proc)


# ---- applicants --------------------------------------------------------------------------------
def fake_sdp(kind: str) -> str:
    return f"v=0\r\no=- {random.getrandbits(48)} 2 IN IP4 127.0.0.1\r\ns=soak-{kind}\r\nt=0 0\r\n"


def candidate(i: int) -> dict[str, Any]:
    return {"candidate": f"candidate:{i} 1 udp 2122260223 192.0.2.{i % 250} {50000 + i} typ host",
            "sdpMid": "0", "sdpMLineIndex": 0}


async def applicant(cluster: Cluster, stats: Stats, seed: dict[str, Any], n: int, args: argparse.Namespace) -> None:
    name = f"applicant-{n}"
    async with Actor(cluster, stats, name) as a:
        r = await a.http("POST", "/api/help/session", json={"item": seed["item"], "name": f"群众{n}"})
        if r.status_code != 200:
            stats.error("help session refused", r.text)
            return
        await a.connect()
        r = await a.http("POST", "/api/help/requests", json={"item": seed["item"], "unit": seed["unit"]})
        if r.status_code == 409:
            stats.events[f"request refused: {r.json().get('code')}"] += 1
            return
        if r.status_code != 200:
            stats.error(f"request HTTP {r.status_code}", r.text)
            return
        wo = r.json()["work_order"]
        stats.issued.add(wo)
        asked = time.monotonic()
        impatient = random.random() < args.abandon_share
        patience = random.uniform(5, 40) if impatient else args.max_wait
        try:
            joined = await wait_for_room(a, patience)
        except TimeoutError:
            r = await a.http("POST", f"/api/help/requests/{wo}/leave")
            stats.events["left the queue" if impatient else "gave up (max wait)"] += 1
            if not impatient:
                stats.error("never connected", f"{wo} after {args.max_wait:.0f} s")
            if r.status_code != 200:
                stats.error(f"leave HTTP {r.status_code}", r.text)
            return
        stats.waits.append(time.monotonic() - asked)
        room = joined["room"]
        rtc = random.random() < args.rtc_share
        await in_call_applicant(a, stats, room, rtc)
        if random.random() < args.drop_share:
            welcome = await a.drop_and_return()
            stats.events["dropped and came back"] += 1
            if not (welcome.get("room") or {}).get("resumed"):
                stats.error("not resumed after a drop", json.dumps(welcome)[:200])
        await asyncio.sleep(random.uniform(args.hold_min, args.hold_max))
        if random.random() < 0.7:
            await a.send({"type": "hangup", "room": room})
        else:
            await a.send({"type": "chat", "room": room, "text": "请挂断 hang up please"})
        try:
            ended = await a.next({"call.ended"}, 60)
            stats.events[f"call ended: {ended['reason']}"] += 1
        except TimeoutError:
            stats.error("no call.ended", wo)
            return
        rating = random.randint(3, 5)
        for _ in range(10):
            # call.ended reaches the page just before the work order is stamped ended: a rating sent at
            # once can get 409 "only a finished call can be rated"; the page's user never clicks that fast.
            await asyncio.sleep(0.3)
            r = await a.http("POST", f"/api/help/requests/{wo}/rating", json={"rating": rating})
            if r.status_code != 409 or "finished" not in r.text:
                break
            stats.events["rating retried (call.ended before the work order was stamped)"] += 1
        if r.status_code != 200:
            stats.error(f"rating HTTP {r.status_code}", r.text)


async def wait_for_room(a: Actor, patience: float) -> dict[str, Any]:
    """room.joined, or a welcome carrying the room (room.joined was sent while the socket was moving)."""
    end = time.monotonic() + patience
    while True:
        msg = await a.next({"room.joined", "welcome"}, end - time.monotonic())
        if msg["type"] == "room.joined":
            return msg
        if msg.get("room"):
            a.stats.events["room found in a welcome after a reconnect"] += 1
            return dict(msg["room"])


async def in_call_applicant(a: Actor, stats: Stats, room: str, rtc: bool) -> None:
    moves = a.moves
    if rtc:
        from tests.journey.test_multiprocess import RtcPeer

        await a.send({"type": "media.state", "room": room, "audio": False, "video": False, "screen": False,
                        "screen_stream": RTC_MARK})
        peer = RtcPeer(a.c, room)
        try:
            await peer.offer()
            await peer.connected(30)
            async with asyncio.timeout(15):
                while peer.channel is None or peer.channel.readyState != "open":
                    await asyncio.sleep(0.05)
            peer.channel.send("你好 from aiortc")
            reply = await asyncio.wait_for(peer.received.get(), 15)
            if reply != "你好 from aiortc ✓":
                stats.error("rtc data mismatch", reply)
            stats.events["aiortc calls connected"] += 1
        except Exception as exc:
            if a.moves > moves or a.c.seen("peer.dropped"):
                # A socket moved mid-negotiation (restart): signals relayed meanwhile are lost; the
                # browser client restarts ICE on peer.resumed, this test peer does not.
                stats.events["aiortc negotiation cut by a socket move (not retried)"] += 1
            else:
                stats.error("aiortc call failed", repr(exc))
        finally:
            await peer.close()
            a.c.signals = None
        return
    # Like rtc.js: the offer and trickled candidates; after a socket move (ours or the peer's: signals
    # relayed while a socket is away are lost) the offer is sent again, as an ICE restart would.
    for attempt in range(4):
        await a.send({"type": "signal", "room": room, "description": {"type": "offer", "sdp": fake_sdp("offer")}})
        for i in range(3):
            await a.send({"type": "signal", "room": room, "candidate": candidate(i)})
        await a.send({"type": "signal", "room": room, "candidate": None})
        try:
            while True:
                msg = await a.next({"signal"}, 8)
                if (msg.get("description") or {}).get("type") == "answer":
                    break
            stats.events["fake negotiations relayed"] += 1
            if attempt:
                stats.events["fake negotiations re-offered after a socket move"] += 1
            break
        except TimeoutError as exc:
            moved = a.moves > moves or bool(a.c.seen("peer.dropped")) or bool(a.c.seen("peer.resumed"))
            if attempt == 3 or not moved:
                stats.error("signal not relayed", f"{exc} (moved: {moved})")
                break
    await a.send({"type": "chat", "room": room, "text": "请问营业执照怎么办？"})


# ---- agents --------------------------------------------------------------------------------------
async def agent(cluster: Cluster, stats: Stats, username: str, password: str, stop: asyncio.Event,
                args: argparse.Namespace) -> None:
    async with Actor(cluster, stats, username) as s:
        r = await s.http("POST", "/api/auth/login", json={"username": username, "password": password})
        if r.status_code != 200:
            stats.error("agent login failed", r.text)
            return
        await s.connect()
        await s.send({"type": "agent.state", "state": "ready"})
        room: str | None = None
        peer: Any = None
        echo_task: asyncio.Task[None] | Any = None
        while not (stop.is_set() and room is None):
            try:
                msg = await s.next({"offer", "room.joined", "signal", "media.state", "chat", "call.ended",
                                    "welcome", "agent.state"}, 2.0)
            except TimeoutError:
                continue
            kind = msg["type"]
            if kind == "welcome":
                state = (msg.get("agent") or {}).get("state")
                stats.events[f"agent back with state {state}"] += 1
                if msg.get("room"):
                    room = msg["room"]["room"]
                elif room is not None:  # the call ended while this socket was away (its process died):
                    await wrap_up(s, stats, room)  # the console lists it for wrap-up; so does this agent
                    stats.events["call wrapped up after the agent's socket came back"] += 1
                    room = None
                if state in ("away", "offline"):
                    await s.send({"type": "agent.state", "state": "ready"})
            elif kind == "offer":
                if random.random() < args.decline_share:
                    await s.send({"type": "offer.decline", "ticket": msg["ticket"]})
                    stats.events["offers declined"] += 1
                else:
                    await s.send({"type": "offer.accept", "ticket": msg["ticket"]})
            elif kind == "room.joined":
                room = msg["room"]
            elif kind == "media.state" and msg.get("screen_stream") == RTC_MARK:
                from tests.journey.test_multiprocess import RtcPeer

                peer = RtcPeer(s.c, msg["room"])
                for pending in [m for m in s.c.seen("signal")]:  # signals read before the peer existed
                    s.c.kept.remove(pending)
                    assert s.c.signals is not None
                    s.c.signals.put_nowait(pending)
                echo_task = asyncio.create_task(echo(peer))
            elif kind == "signal" and msg.get("description", {}).get("type") == "offer":
                r_ = msg["room"]
                await s.send({"type": "signal", "room": r_, "description": {"type": "answer",
                                                                              "sdp": fake_sdp("answer")}})
                for i in range(3):
                    await s.send({"type": "signal", "room": r_, "candidate": candidate(100 + i)})
                await s.send({"type": "signal", "room": r_, "candidate": None})
            elif kind == "chat" and "hang up" in msg.get("text", "") and msg.get("from", "").startswith("a:"):
                await s.send({"type": "hangup", "room": msg["room"]})
            elif kind == "call.ended":
                if peer is not None:
                    echo_task.cancel()
                    await peer.close()
                    peer, s.c.signals = None, None
                await asyncio.sleep(random.uniform(0.2, 1.0))
                await wrap_up(s, stats, msg.get("work_order") or msg["room"])
                await s.send({"type": "agent.state", "state": "ready"})  # as the console does after wrap-up
                room = None
        await s.send({"type": "agent.state", "state": "away"})


async def wrap_up(s: Actor, stats: Stats, wo: str) -> None:
    r = await s.http("POST", f"/api/workorders/{wo}/wrapup",
                     json={"outcome": random.choice(["resolved", "resolved", "unresolved"]), "notes": "soak"})
    if r.status_code != 200:
        stats.error(f"wrapup HTTP {r.status_code}", r.text)


async def echo(peer: Any) -> None:
    with contextlib.suppress(Exception):
        while True:
            text = await peer.received.get()
            peer.channel.send(text + " ✓")


