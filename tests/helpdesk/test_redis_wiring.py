"""Backends chosen by settings alone, namespaced keys with expiries, and a Redis outage: /readyz fails,
sockets get a typed `unavailable` and come back with Redis, the ticker survives, the database keeps
everything it had."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from helpdesk_queue import MemoryQueueStore
from helpdesk_queue.redis_store import RedisQueueStore
from helpdesk_signaling.hub import MemoryHub
from helpdesk_signaling.redis_hub import RedisHub
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from helpdesk.clock import FakeClock
from helpdesk.config import Settings
from helpdesk.journey.wiring import LEADER_KEY, Ticker, build_backends
from helpdesk.leader import MemoryLeaderLock, RedisLeaderLock
from helpdesk.workorders.models import WorkOrder
from tests.conftest import free_port, port_open, require_service
from tests.helpdesk.factories import api_app
from tests.journey.live import Browser, live_app


async def test_without_redis_url_everything_is_in_memory(settings: Settings, clock: FakeClock) -> None:
    async with api_app(settings, clock) as app:
        state = app.state.helpdesk
        journey = state.components["journey"]
        assert state.redis is None and state.components["journey_backends"] == "memory"
        assert isinstance(journey.queue.store, MemoryQueueStore) and isinstance(journey.hub, MemoryHub)
        assert isinstance(build_backends(state).leader, MemoryLeaderLock)


@pytest.mark.redis
async def test_with_redis_url_queue_hub_and_lock_share_redis(settings: Settings, clock: FakeClock,
                                                             redis_url: str, redis_prefix: str) -> None:
    settings = settings.model_copy(update={"redis_url": redis_url, "redis_prefix": redis_prefix,
                                           "heartbeat_interval_s": 5.0, "reconnect_grace_s": 12.0})
    async with api_app(settings, clock) as app:
        state = app.state.helpdesk
        journey = state.components["journey"]
        assert state.components["journey_backends"] == "redis"
        store, hub = journey.queue.store, journey.hub
        assert isinstance(store, RedisQueueStore) and store.p == redis_prefix + "q:"
        assert isinstance(hub, RedisHub) and hub.p == redis_prefix + "sig:"
        assert (hub.owner_ttl_s, hub.grace_s) == (15, 12.0)  # 3 × heartbeat, the reconnect grace
        assert journey.queue.settings.presence_ttl_s == 15.0
        lock = build_backends(state).leader
        assert isinstance(lock, RedisLeaderLock) and lock.key == redis_prefix + LEADER_KEY
        assert state.redis.get_encoder().decode_responses


@pytest.mark.redis
async def test_every_key_is_namespaced_and_expires(settings: Settings, clock: FakeClock, redis_url: str,
                                                   redis_prefix: str) -> None:
    """A whole call on Redis: every key the app wrote sits under the prefix with a TTL (docs/redis.md)."""
    settings = settings.model_copy(update={"redis_url": redis_url, "redis_prefix": redis_prefix})
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        async with live_app(settings, clock) as live, Browser(live) as agent, Browser(live) as applicant:
            state = live.state
            ticker = Ticker(state.components["journey"], build_backends(state).leader)
            await agent.login(live.seed["agent"].username)
            await agent.connect()
            await agent.send({"type": "agent.state", "state": "ready"})
            await agent.expect("agent.state", state="ready")
            await applicant.open_help(live.seed["item"].code)
            await applicant.connect()
            r = await applicant.http.post("/api/help/requests", json={"item": live.seed["item"].code,
                                                                       "unit": live.seed["county"].code})
            assert r.status_code == 200, r.text
            offer = await agent.expect("offer")
            await agent.send({"type": "offer.accept", "ticket": offer["ticket"]})
            room = (await agent.expect("room.joined"))["room"]
            await ticker.step()  # takes the leader lock and ticks
            await agent.send({"type": "hangup", "room": room})
            await agent.expect("call.ended")
            async with asyncio.timeout(5):  # call_ended (just after call.ended) stores the handle time
                while True:
                    keys = sorted([k async for k in client.scan_iter(match=redis_prefix + "*")])
                    kinds = {":".join(k.removeprefix(redis_prefix).split(":")[:2]) for k in keys}
                    if "q:ht" in kinds:
                        break
                    await asyncio.sleep(0.05)
            assert {"q:a", "q:agents", "q:ht", "sig:seen", "leader:journey-tick"} <= kinds, keys
            for key in keys:
                ttl = await client.ttl(key)
                # -2: a short-lived key (e.g. the routing lock) went away since the scan; -1 would be a leak.
                assert ttl > 0 or ttl == -2, (key, ttl)
    finally:
        await client.delete(*[k async for k in client.scan_iter(match=redis_prefix + "*")] or ["-"])
        await client.aclose()


# ---- a Redis outage, on a private redis-server this test may kill ----------------------------------

class PrivateRedis:
    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        self.tmp = tmp
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.tmp)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    async def wait(self, up: bool) -> None:
        async with asyncio.timeout(10):
            while port_open("127.0.0.1", self.port) != up:
                await asyncio.sleep(0.05)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    require_service("redis-server", shutil.which("redis-server") is not None)
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()


@contextlib.asynccontextmanager
async def raw_socket(browser: Browser) -> AsyncIterator[Any]:
    cookie = "; ".join(f"{k}={v}" for k, v in browser.http.cookies.items())
    async with connect(browser.live.ws_url, additional_headers={"Cookie": cookie}) as ws:
        yield ws


async def messages_until_close(ws: Any, timeout: float) -> tuple[list[dict[str, Any]], int | None]:
    out: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        try:
            while True:
                out.append(json.loads(await ws.recv()))
        except ConnectionClosed as exc:
            return out, exc.rcvd.code if exc.rcvd else None


async def test_redis_lost_and_back(settings: Settings, clock: FakeClock, private_redis: PrivateRedis,
                                   caplog: pytest.LogCaptureFixture) -> None:
    await private_redis.wait(up=True)
    settings = settings.model_copy(update={"redis_url": private_redis.url, "redis_prefix": "hdtest-outage:"})
    async with live_app(settings, clock) as live, Browser(live) as agent, Browser(live) as applicant:
        state = live.state
        http = httpx.AsyncClient(base_url=live.url, timeout=10)
        await agent.login(live.seed["agent"].username)
        await agent.connect()
        await applicant.open_help(live.seed["item"].code)
        await applicant.connect()
        r = await applicant.http.post("/api/help/requests", json={"item": live.seed["item"].code,
                                                                   "unit": live.seed["county"].code})
        assert r.status_code == 200, r.text
        work_order = r.json()["work_order"]
        assert (await http.get("/readyz")).status_code == 200

        private_redis.kill()  # Redis gone, with every key (no persistence on this server)
        await private_redis.wait(up=False)
        # Open sockets: a typed error, then close 1011 (the client reconnects with backoff).
        assert applicant.ws is not None
        got, code = await messages_until_close(applicant.ws, 10)
        assert [m for m in got if m["type"] == "error"][-1]["code"] == "unavailable" and code == 1011
        ready = await http.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["redis"].startswith("error")
        r = await applicant.http.get(f"/api/help/items/{live.seed['item'].code}")  # needs the presence
        assert r.status_code == 503 and r.json()["error"] == "unavailable"
        async with raw_socket(applicant) as ws:  # a new socket meanwhile: refused the same way
            got, code = await messages_until_close(ws, 10)
            assert [m["type"] for m in got] == ["error"] and got[0]["code"] == "unavailable" and code == 1011
        ticker: Ticker = state.components["journey_ticker"]  # the app's own, ticking every second
        async with asyncio.timeout(5):
            while ticker.redis_down_since is None:
                await asyncio.sleep(0.1)
        await asyncio.sleep(2.5)  # a few more rounds without Redis
        assert not state.components["journey_ticker_task"].done()  # the ticker survives them
        outage = [r for r in caplog.records if r.name == "helpdesk.journey.wiring" and "unreachable" in r.getMessage()]
        assert len(outage) == 1 and outage[0].levelname == "WARNING"  # one line per outage, no traceback
        assert "Redis unreachable" in outage[0].getMessage()

        private_redis.start()
        await private_redis.wait(up=True)
        async with asyncio.timeout(10):
            while (await http.get("/readyz")).status_code != 200:
                await asyncio.sleep(0.1)
        async with asyncio.timeout(5):
            while ticker.redis_down_since is not None:
                await asyncio.sleep(0.1)
        assert any("reachable again" in r.getMessage() for r in caplog.records)
        welcome: dict[str, Any] = {}
        async with asyncio.timeout(10):  # the subscriber is back within a second or so
            while True:
                with contextlib.suppress(AssertionError, ConnectionClosed, TimeoutError):
                    welcome = await applicant.connect()
                    break
                await asyncio.sleep(0.3)
        assert welcome["type"] == "welcome"
        async with state.sessions() as s:  # the database kept the request
            wo = await s.get(WorkOrder, work_order)
            assert wo is not None and wo.status.value in ("queued", "offered")
        # Redis came back empty: the leader rebuilt the queue from the database, same place.
        journey = state.components["journey"]
        async with asyncio.timeout(10):
            while await journey.queue.status(wo.applicant_id) is None:
                await asyncio.sleep(0.1)
        assert any("rebuilt from the database" in r.getMessage() for r in caplog.records)
        welcome = await applicant.connect()
        assert welcome["ticket"]["work_order"] == work_order and welcome["ticket"]["position"] == 1
        await http.aclose()


class ScriptedLock:
    """A leader lock whose answers the test decides (True: this process leads this tick)."""

    def __init__(self, answers: list[bool]) -> None:
        self.answers = answers

    async def acquire(self) -> bool:
        return self.answers.pop(0)

    async def release(self) -> None:
        return None


async def test_a_new_term_of_leadership_forgets_stale_absence_counts(settings: Settings, clock: FakeClock) -> None:
    """offline_since is kept by the leader only: counts from an earlier term must not carry over, or an
    applicant who went offline just now could be dropped at once."""
    async with api_app(settings, clock) as app:
        journey = app.state.helpdesk.components["journey"]
        ticker = Ticker(journey, ScriptedLock([True, False, True]))
        await ticker.step()
        assert ticker.leading
        journey.offline_since["someone"] = 0.0  # seen absent long ago, in the first term
        journey.queue._leak_suspects = {7}
        await ticker.step()  # another process leads meanwhile
        assert not ticker.leading
        await ticker.step()  # leading again: a new term
        assert ticker.leading and journey.offline_since == {} and journey.queue._leak_suspects == set()
