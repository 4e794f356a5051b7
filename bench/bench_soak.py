"""Soak: the full journey over the real HTTP + WebSocket API for a long time, on two server processes
sharing Redis and PostgreSQL (loopback only), with simulated applicants and agents.

Applicants arrive at random (Poisson, --rate per second), open the help page, queue, wait, talk
(fake SDP/candidates relayed through the servers; a sample of calls, --rtc-share, negotiate real
aiortc peers and exchange a data-channel message), chat, sometimes drop their socket and come back
through the other process, sometimes give up while waiting, hang up (or ask the agent to) and rate.
Agents accept (sometimes decline) offers, answer, and wrap up every call. Every --restart-min minutes
one server process is stopped gracefully (SIGTERM: `reconnect` + 1012 to its sockets) and started
again: clients move to the other process, as behind the compose file's proxy.
With --kill-min N, every N minutes a process (A and B in turn) is SIGKILLed under load instead (no
drain): every call must resume or be recorded as dropped, and no work order may be lost.

Reported: client-side errors by kind, lost work orders (every request that got a work-order id must be
in the database with a final status afterwards: must be 0), server RSS over time (growth after the
warm-up), Redis keys left, server log lines at WARNING/ERROR, pairing latency from /metrics.

Usage: .venv/bin/python bench/bench_soak.py [--minutes 30] [--rate 0.5] [--agents 8]
Needs PostgreSQL (127.0.0.1:5432, database `test`, trust) and Redis (127.0.0.1:6379). Bounded: the run
stops after --minutes plus at most 3 minutes of draining. Writes the "Soak" section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
from websockets.exceptions import ConnectionClosed, InvalidStatus  # noqa: E402

from tests.journey.cluster import Client, Proc, cluster_env, delete_keys  # noqa: E402

RESULTS = REPO / "bench" / "RESULTS.md"
SECTION = "## Soak"
KILL_SECTION = "## Soak with SIGKILL"
FINAL = {"resolved", "unresolved", "transferred", "callback_pending", "abandoned", "closed"}
RTC_MARK = "soak-rtc"
PG = "127.0.0.1", 5432


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ---- servers ---------------------------------------------------------------------------------
class ServeProc(Proc):
    """`helpdesk serve` as the container runs it (DrainingServer: graceful shutdown)."""

    def start(self, profile: Path | None = None) -> None:  # no profiling here
        out = self.log_path.open("ab")
        helpdesk = Path(sys.executable).with_name("helpdesk")
        self.popen = subprocess.Popen([str(helpdesk), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                                      cwd=REPO, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                      start_new_session=True)
        out.close()

    def rss_kb(self) -> int | None:
        if self.popen is None or self.popen.poll() is not None:
            return None
        for line in Path(f"/proc/{self.popen.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return None


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
    def __init__(self, procs: list[ServeProc]) -> None:
        self.procs = procs
        self.restarting: set[str] = set()
        self.killing = False  # --kill-min: abrupt closes (1006) are the point, not an error

    def live(self) -> list[ServeProc]:
        return [p for p in self.procs if p.name not in self.restarting]

    def pick(self, avoid: Proc | None = None) -> ServeProc:
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


# ---- setup, sampling, checks ---------------------------------------------------------------------
async def prepare(schema: str, agents: int) -> tuple[str, dict[str, Any], list[str]]:
    import asyncpg

    from helpdesk.accounts.service import Skill
    from helpdesk.db import make_engine, make_session_factory
    from tests.conftest import create_schema
    from tests.helpdesk.factories import PASSWORD, make_staff
    from tests.journey.live import seed

    conn = await asyncpg.connect(host=PG[0], port=PG[1], user="postgres", database="test")
    await conn.execute(f'CREATE SCHEMA "{schema}"')
    await conn.close()
    url = f"postgresql+asyncpg://postgres@{PG[0]}:{PG[1]}/test?options=-csearch_path%3D{schema}"
    await create_schema(url)
    engine = make_engine(url)
    try:
        sessions = make_session_factory(engine)

        class Db:
            pass

        db = Db()
        db.sessions = sessions  # type: ignore[attr-defined]
        data = await seed(db)  # type: ignore[arg-type]
        names = [data["agent"].username]
        async with sessions() as s:
            for i in range(agents - 1):
                staff = await make_staff(s, unit=data["county"], skills=[Skill(item_id=data["item"].id)],
                                         display_name=f"坐席{i}")
                names.append(staff.username)
            await s.commit()
        return url, {"item": data["item"].code, "unit": data["county"].code, "password": PASSWORD}, names
    finally:
        await engine.dispose()


async def final_statuses(url: str, ids: set[str]) -> Counter[str]:
    from sqlalchemy import select

    from helpdesk.db import make_engine, make_session_factory
    from helpdesk.workorders.models import WorkOrder

    engine = make_engine(url)
    found: Counter[str] = Counter()
    try:
        async with make_session_factory(engine)() as s:
            result = await s.execute(select(WorkOrder.id, WorkOrder.status, WorkOrder.ended_reason)
                                     .where(WorkOrder.id.in_(list(ids))))
            rows = {wo_id: (status, reason) for wo_id, status, reason in result.all()}
        for wo in ids:
            status, reason = rows.get(wo, (None, None))
            found[str(status.value) if status is not None else "missing"] += 1
            if reason is not None:
                found["ended:" + reason] += 1
    finally:
        await engine.dispose()
    return found


async def drop_schema(schema: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(host=PG[0], port=PG[1], user="postgres", database="test")
    await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    await conn.close()


async def scrape(proc: Proc) -> dict[str, float]:
    from prometheus_client.parser import text_string_to_metric_families

    out: dict[str, float] = {}
    with contextlib.suppress(httpx.HTTPError):
        async with httpx.AsyncClient(timeout=5) as http:
            text = (await http.get(proc.url + "/metrics")).text
        for fam in text_string_to_metric_families(text):
            for s in fam.samples:
                key = s.name + ("{" + ",".join(f"{k}={v}" for k, v in sorted(s.labels.items())) + "}"
                                if s.labels else "")
                out[key] = s.value
    return out


def histogram_quantile(samples: list[dict[str, float]], name: str, q: float) -> float | None:
    """Quantile from the summed cumulative buckets of several processes (upper bound of the bucket)."""
    buckets: dict[float, float] = {}
    for m in samples:
        for key, v in m.items():
            if key.startswith(name + "_bucket{"):
                raw = key.split("le=", 1)[1].rstrip("}")
                bound = float("inf") if raw == "+Inf" else float(raw)
                buckets[bound] = buckets.get(bound, 0.0) + v
    total = buckets.get(float("inf"), 0.0)
    if not total:
        return None
    for bound in sorted(buckets):
        if buckets[bound] >= q * total:
            return bound
    return None


async def redis_keys(url: str, prefix: str) -> Counter[str]:
    """Keys left under the prefix, by shape (ids replaced by #)."""
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(url, decode_responses=True)
    try:
        keys = [k async for k in client.scan_iter(match=prefix + "*", count=1000)]
    finally:
        await client.aclose()
    return Counter(re.sub(r"[0-9a-f]{8,}|\d+", "#", k.removeprefix(prefix)) for k in keys)


def log_levels(proc: Proc) -> Counter[str]:
    out: Counter[str] = Counter()
    with contextlib.suppress(OSError):
        for line in proc.log_path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    rec = json.loads(line)
                    if rec.get("level") in ("WARNING", "ERROR", "CRITICAL"):
                        out[f"{rec['level']} {rec.get('logger')}: {rec.get('message', '')[:70]}"] += 1
    return out


async def run(args: argparse.Namespace) -> dict[str, Any]:
    me = asyncio.current_task()
    assert me is not None
    for sig in (signal.SIGTERM, signal.SIGINT):  # stopped early: the finally below still cleans up
        asyncio.get_running_loop().add_signal_handler(sig, me.cancel)
    tmp = Path(args.workdir or f"/tmp/helpdesk-soak-{uuid.uuid4().hex[:6]}")
    tmp.mkdir(parents=True, exist_ok=True)
    schema, prefix = f"soak_{uuid.uuid4().hex[:10]}", f"hdsoak:{uuid.uuid4().hex[:8]}:"
    redis_url = "redis://127.0.0.1:6379/0"
    db_url, seed, agents = await prepare(schema, args.agents)
    env = cluster_env(db_url, redis_url, prefix, tmp, heartbeat_interval_s=5.0, reconnect_grace_s=30.0,
                      offer_timeout_s=15.0, log_format="json", log_level="WARNING")
    procs = [ServeProc(n, int(p), env, tmp / f"proc-{n.lower()}.log")
             for n, p in (("A", free_port()), ("B", free_port()))]
    cluster = Cluster(procs)
    cluster.killing = bool(args.kill_min)
    stats = Stats()
    stop_agents = asyncio.Event()
    rss: list[tuple[float, int, int]] = []  # (t, A kB, B kB)
    t0 = time.monotonic()
    try:
        for p in procs:
            p.start()
            await p.wait_ready()
        log(f"servers up: {[p.url for p in procs]}; logs in {tmp}")
        agent_tasks = [asyncio.create_task(agent(cluster, stats, u, seed["password"], stop_agents, args))
                       for u in agents]
        await asyncio.sleep(2)
        deadline = t0 + args.minutes * 60
        applicants: set[asyncio.Task[None]] = set()
        n = 0
        next_sample = next_progress = time.monotonic()
        next_restart = t0 + args.restart_min * 60 if args.restart_min else float("inf")
        next_kill = t0 + args.kill_min * 60 if args.kill_min else float("inf")
        kills = 0
        peak_calls = 0
        restarts = 0
        background: set[asyncio.Task[None]] = set()
        while time.monotonic() < deadline:
            now = time.monotonic()
            if now >= next_sample:
                a_kb, b_kb = procs[0].rss_kb() or 0, procs[1].rss_kb() or 0
                rss.append((now - t0, a_kb, b_kb))
                next_sample = now + args.sample_s
                peak_calls = max(peak_calls, await calls_in_progress(db_url))
            if now >= next_progress:
                log(f"t={now - t0:6.0f}s applicants started {n}, active {len(applicants)}, work orders "
                    f"{len(stats.issued)}, errors {sum(stats.errors.values())}, RSS A {rss[-1][1] / 1024:.0f} MB "
                    f"B {rss[-1][2] / 1024:.0f} MB, restarts {restarts}")
                next_progress = now + 60
            if now >= next_restart and len(cluster.live()) == 2:
                victim = procs[0]  # always A: B lives through the run, for the memory-growth figure
                restarts += 1
                next_restart = now + args.restart_min * 60
                background.add(asyncio.create_task(restart(cluster, victim, stats)))
            if now >= next_kill and len(cluster.live()) == 2:
                victim = procs[kills % 2]  # A and B in turn: every process dies under load
                kills += 1
                next_kill = now + args.kill_min * 60
                background.add(asyncio.create_task(sigkill(cluster, victim, stats)))
            if len(applicants) < args.max_active:
                n += 1
                task = asyncio.create_task(guard(applicant(cluster, stats, seed, n, args), stats, f"applicant-{n}"))
                applicants.add(task)
                task.add_done_callback(applicants.discard)
            await asyncio.sleep(random.expovariate(args.rate))
        log(f"arrivals stopped after {n} applicants; draining (at most 180 s)")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(180):
                while applicants:
                    await asyncio.sleep(1)
        for t in applicants:
            stats.error("applicant still running at the end", t.get_name())
            t.cancel()
        stop_agents.set()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(30):
                await asyncio.gather(*agent_tasks, return_exceptions=True)
        for t in agent_tasks:
            t.cancel()
        await asyncio.sleep(3)  # the last wrap-ups commit
        rss.append((time.monotonic() - t0, procs[0].rss_kb() or 0, procs[1].rss_kb() or 0))
        statuses = await final_statuses(db_url, stats.issued)
        metrics = [await scrape(p) for p in procs]
        waiting_left = sum(m.get("helpdesk_queue_length{state=waiting}", 0) for m in metrics[:1])
        keys = await redis_keys(redis_url, prefix)
        levels = Counter[str]()
        for p in procs:
            levels.update(log_levels(p))
        return {"stats": stats, "statuses": statuses, "rss": rss, "metrics": metrics, "keys": keys,
                "levels": levels, "applicants": n, "restarts": restarts, "took": time.monotonic() - t0,
                "waiting_left": waiting_left, "peak_calls": peak_calls}
    finally:
        for p in procs:
            p.kill()
        await delete_keys(redis_url, prefix)
        await drop_schema(schema)


async def guard(coro: Any, stats: Stats, name: str) -> None:
    try:
        await coro
    except Exception as exc:
        stats.error(f"actor crashed: {type(exc).__name__}", f"{name}: {exc!r}")


async def restart(cluster: Cluster, proc: ServeProc, stats: Stats) -> None:
    """A rolling update of one replica: SIGTERM (drain), wait, start again."""
    cluster.restarting.add(proc.name)
    try:
        log(f"restarting {proc.name} (SIGTERM)")
        assert proc.popen is not None
        proc.popen.terminate()
        await asyncio.to_thread(proc.popen.wait, 30)
        proc.start()
        await proc.wait_ready(60)
        log(f"{proc.name} back")
        stats.events["graceful restarts"] += 1
    except Exception as exc:
        stats.error("restart failed", repr(exc))
    finally:
        cluster.restarting.discard(proc.name)


async def sigkill(cluster: Cluster, proc: ServeProc, stats: Stats) -> None:
    """A crash: SIGKILL (no drain, no socket closes, no lock released), then the orchestrator starts
    it again. Its clients reconnect to the other process; its calls resume there or end as dropped."""
    cluster.restarting.add(proc.name)
    try:
        log(f"SIGKILL {proc.name}")
        proc.kill()
        stats.events["SIGKILLs"] += 1
        await asyncio.sleep(2)
        proc.start()
        await proc.wait_ready(60)
        log(f"{proc.name} back after SIGKILL")
    except Exception as exc:
        stats.error("restart after SIGKILL failed", repr(exc))
    finally:
        cluster.restarting.discard(proc.name)


async def calls_in_progress(url: str) -> int:
    from sqlalchemy import func, select

    from helpdesk.db import make_engine
    from helpdesk.workorders.models import WorkOrder, WorkOrderStatus

    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return int(await conn.scalar(select(func.count()).select_from(WorkOrder)
                                         .where(WorkOrder.status == WorkOrderStatus.in_call)) or 0)
    finally:
        await engine.dispose()


def free_port() -> int:
    from tests.conftest import free_port as fp

    return fp()


def summarize(res: dict[str, Any], args: argparse.Namespace, load: float) -> list[str]:
    stats: Stats = res["stats"]
    statuses: Counter[str] = res["statuses"]
    ended = Counter({k[6:]: v for k, v in statuses.items() if k.startswith("ended:")})
    statuses = Counter({k: v for k, v in statuses.items() if not k.startswith("ended:")})
    lost = sum(v for k, v in statuses.items() if k not in FINAL)
    rss = res["rss"]
    warm = [r for r in rss if r[0] >= min(120.0, res["took"] / 4)] or rss
    first, last = warm[0], rss[-1]
    peak = max(max(r[1], r[2]) for r in rss)
    growth_b = (last[2] - first[2]) / 1024
    slope_b = slope([(t / 3600, b / 1024) for t, _, b in warm])
    p50 = histogram_quantile(res["metrics"], "helpdesk_pairing_seconds", 0.5)
    p99 = histogram_quantile(res["metrics"], "helpdesk_pairing_seconds", 0.99)
    waits = sorted(stats.waits)
    lines = [
        SECTION,
        "",
        f"Command: `.venv/bin/python bench/bench_soak.py --minutes {args.minutes:g} --rate {args.rate:g} "
        f"--agents {args.agents} --restart-min {args.restart_min:g}"
        + (f" --kill-min {args.kill_min:g} --max-active {args.max_active} --hold-min {args.hold_min:g} "
           f"--hold-max {args.hold_max:g}" if args.kill_min else "") + f"` (Python {platform.python_version()}, "
        f"{os.cpu_count()} cores, load average {load:.1f} at the start, run "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, took {res['took'] / 60:.1f} min).",
        "Two `helpdesk serve` processes on one Redis and one PostgreSQL (loopback); simulated applicants",
        f"(Poisson arrivals, {args.rate:g}/s, at most {args.max_active} at once) and {args.agents} agents over the "
        "real HTTP + WebSocket API; "
        f"{args.rtc_share:.0%} of calls negotiate real aiortc peers (data channel) through the servers,",
        f"the others relay fake SDP/candidates; {args.drop_share:.0%} of applicants drop their socket mid-call and "
        f"come back through the other process; {args.abandon_share:.0%} give up while waiting; "
        + (f"every {args.kill_min:g} min a process (A and B in turn) is SIGKILLed under load and started again "
           "(a simulated client reconnects when it next acts; a call whose applicant stays away past the "
           "30 s grace ends as `dropped`)." if args.kill_min else
           f"process A is restarted gracefully (SIGTERM) every {args.restart_min:g} min, B never."),
        "",
        "| measure | value |",
        "|---|---|",
        f"| applicants started / work orders issued | {res['applicants']} / {len(stats.issued)} |",
        f"| **lost work orders** (issued, not in the DB with a final status) | **{lost}** |",
        f"| final statuses | {', '.join(f'{k} {v}' for k, v in statuses.most_common())} |",
        f"| calls ended, by reason (dropped/lost = recorded as dropped) | "
        f"{', '.join(f'{k} {v}' for k, v in ended.most_common())} |",
        f"| SIGKILLs (no shutdown) / peak concurrent calls | {stats.events.get('SIGKILLs', 0)} / "
        f"{res.get('peak_calls', 0)} |",
        f"| **client-side errors** | **{sum(stats.errors.values())}** |",
        f"| graceful restarts | {stats.events.get('graceful restarts', 0)} |",
        f"| aiortc calls connected | {stats.events.get('aiortc calls connected', 0)} |",
        f"| drops resumed through the other process | {stats.events.get('dropped and came back', 0)} |",
        f"| wait for an agent p50 / p95 | {quant(waits, 0.5):.1f} s / {quant(waits, 0.95):.1f} s |",
        f"| pairing (accept → room open) p50 / p99, bucket bound | {fmt_s(p50)} / {fmt_s(p99)} |",
        f"| server RSS after warm-up (t={first[0] / 60:.0f} min) A / B | {first[1] / 1024:.0f} / "
        f"{first[2] / 1024:.0f} MB |",
        f"| server RSS at the end A (restarted) / B | {last[1] / 1024:.0f} / {last[2] / 1024:.0f} MB "
        f"(peak {peak / 1024:.0f}) |",
        f"| **memory growth of B** (never restarted), end − after warm-up | **{growth_b:+.1f} MB** "
        f"(least-squares slope {slope_b:+.1f} MB/h over {len(warm)} samples) |",
        f"| applicants still waiting at the end (queue) | {res['waiting_left']:.0f} |",
        f"| Redis keys left under the prefix | {sum(res['keys'].values())} "
        f"({', '.join(f'{k} × {v}' for k, v in sorted(res['keys'].items()))}) |",
        f"| server log lines at WARNING or above | {sum(res['levels'].values())} |",
        "",
    ]
    if stats.errors:
        lines += ["Errors by kind: " + "; ".join(f"{k} × {v}" for k, v in stats.errors.most_common()) + ".", ""]
    if res["levels"]:
        lines += ["Server warnings: " + "; ".join(f"{k} × {v}" for k, v in res["levels"].most_common(8)) + ".",
                  ""]
    lines += ["Events: " + "; ".join(f"{k} × {v}" for k, v in sorted(stats.events.items())) + "."]
    return lines


def slope(points: list[tuple[float, float]]) -> float:
    if len(points) < 2:
        return float("nan")
    mx = sum(x for x, _ in points) / len(points)
    my = sum(y for _, y in points) / len(points)
    den = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / den if den else float("nan")


def quant(xs: list[float], q: float) -> float:
    return xs[min(len(xs) - 1, int(len(xs) * q))] if xs else float("nan")


def fmt_s(v: float | None) -> str:
    return "n/a" if v is None else f"≤ {v * 1000:.0f} ms"


def write_section(lines: list[str], section: str = SECTION) -> None:
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Bench results\n"
    pattern = re.compile(rf"{re.escape(section)}\n.*?(?=\n## |\Z)", re.S)
    section = "\n".join(lines)
    text = pattern.sub(lambda _m: section, text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + section
    RESULTS.write_text(text.rstrip("\n") + "\n", encoding="utf-8")
    print(f"wrote the {section!r} section of {RESULTS}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=0.5, help="applicant arrivals per second")
    parser.add_argument("--agents", type=int, default=8)
    parser.add_argument("--max-active", type=int, default=60, help="applicants in flight at most")
    parser.add_argument("--hold-min", type=float, default=3.0)
    parser.add_argument("--hold-max", type=float, default=12.0)
    parser.add_argument("--max-wait", type=float, default=150.0, help="an applicant waits at most this long")
    parser.add_argument("--rtc-share", type=float, default=0.1)
    parser.add_argument("--drop-share", type=float, default=0.05)
    parser.add_argument("--abandon-share", type=float, default=0.1)
    parser.add_argument("--decline-share", type=float, default=0.05)
    parser.add_argument("--restart-min", type=float, default=10.0, help="0: never restart a process")
    parser.add_argument("--kill-min", type=float, default=0.0,
                        help="SIGKILL a process (A and B in turn) every this many minutes; 0: never")
    parser.add_argument("--sample-s", type=float, default=15.0, help="RSS sampling interval")
    parser.add_argument("--workdir", help="server logs (default: a new /tmp/helpdesk-soak-* folder)")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    if args.seed is not None:
        random.seed(args.seed)
    load = os.getloadavg()[0]
    res = asyncio.run(run(args))
    lines = summarize(res, args, load)
    print("\n".join(lines))
    stats: Stats = res["stats"]
    if stats.error_samples:
        print("\nfirst errors:\n  " + "\n  ".join(stats.error_samples))
    if not args.no_write:
        if args.kill_min:  # its own section: the graceful soak's figures stay
            lines[0] = KILL_SECTION
        write_section(lines, lines[0])
    lost = sum(v for k, v in res["statuses"].items() if k not in FINAL and not k.startswith("ended:"))
    sys.exit(1 if lost else 0)


if __name__ == "__main__":
    main()
