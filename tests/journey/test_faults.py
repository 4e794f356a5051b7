"""Restarts of Redis and PostgreSQL under two real processes, a live call and three waiting
applicants (issue 14, cases 1-6): after each, nothing is stuck, every waiter still waits with a
position and the live call resumed or ended cleanly. Private servers: these tests kill them."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from helpdesk.workorders.models import WorkOrder, WorkOrderStatus
from tests.conftest import require_service
from tests.journey.cluster import Client, cluster, prepare_database
from tests.journey.fault_scene import (
    SETTINGS,
    Scene,
    assert_settled,
    end_and_wrap,
    last_position,
    rejoin,
    stage,
    wait_until,
)
from tests.journey.live import seed
from tests.journey.services import PrivatePostgres, PrivateRedis, pg_bin

pytestmark = [pytest.mark.redis, pytest.mark.postgres]


@pytest.fixture(scope="module")
def private_pg() -> Iterator[PrivatePostgres]:
    require_service("PostgreSQL server binaries", pg_bin() is not None)
    pg = PrivatePostgres()
    pg.init()
    try:
        yield pg
    finally:
        pg.destroy()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    require_service("redis-server", shutil.which("redis-server") is not None)
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
async def scene(private_pg: PrivatePostgres, private_redis: PrivateRedis, tmp_path: Path) -> AsyncIterator[Scene]:
    url = await private_pg.create_database("t_" + uuid.uuid4().hex[:10])
    db = await prepare_database(url)
    try:
        data = await seed(db)  # type: ignore[arg-type]
        async with cluster(url, private_redis.url, "hd:", tmp_path, **SETTINGS) as procs:
            scene = Scene(procs, data, db, private_redis.url, "hd:")
            async with contextlib.AsyncExitStack() as stack:
                await stage(scene, stack)
                try:
                    yield scene
                except BaseException:
                    for p in procs:
                        print(f"---- process {p.name} log ----\n{p.tail(80)}")
                    raise
    finally:
        await db.engine.dispose()


async def test_1_hangup_while_database_down_is_refused_then_ends_cleanly(
        scene: Scene, private_pg: PrivatePostgres) -> None:
    """Case 1: the hang-up cannot be recorded → refused with `unavailable` before Redis changes;
    once PostgreSQL is back the same hang-up ends the call on both sides and frees the agent."""
    assert scene.agent is not None and scene.caller is not None
    private_pg.stop()
    try:
        await scene.agent.send({"type": "hangup", "room": scene.room})
        err = await scene.agent.expect("error", timeout=20)
        assert err["code"] == "unavailable" and err["ref"] == "hangup", err
        async with scene.shared() as (_store, hub):
            assert await hub.get_room(scene.room) is not None  # Redis unchanged: the call goes on
    finally:
        private_pg.start()
    await end_and_wrap(scene, scene.room)
    try:
        offer = await scene.agent.expect("offer", timeout=20)  # the agent is free again (ready kept)
    except TimeoutError:
        async with scene.shared() as (store, hub):
            print("DEBUG", await store.list_agents(), await store.list_waiting(), scene.agent.kept)
        raise
    assert offer["work_order"] == scene.requests[id(scene.waiters[0])]
    assert (await scene.work_order(scene.room)).status.value == "resolved"
    await assert_settled(scene, scene.waiters[1:])


async def _restart_and_rejoin(scene: Scene, private_redis: PrivateRedis, snapshot: Path | None = None) -> dict:
    private_redis.restart(snapshot)
    clients = [scene.agent, scene.agent2, scene.caller, *scene.waiters]
    for c in clients:
        assert c is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(c.closed.wait(), 15)
    welcomes = await asyncio.gather(*(rejoin(c) for c in clients if c is not None))
    return {id(c): w for c, w in zip(clients, welcomes, strict=True)}


async def test_2_redis_restarting_empty_keeps_the_live_call(scene: Scene, private_redis: PrivateRedis) -> None:
    """Case 2: the room of the live call is re-created from the database: both peers are told it
    resumed (they restart ICE), signaling, chat and hang-up work, and the work order wraps up."""
    assert scene.agent is not None and scene.caller is not None
    welcomes = await _restart_and_rejoin(scene, private_redis)
    for c in (scene.agent, scene.caller):
        room = welcomes[id(c)].get("room")
        if room is None:  # rebuilt after this socket connected: announced as a message instead
            room = await c.expect("room.joined", room=scene.room, timeout=10)
        assert room["room"] == scene.room and room["resumed"] is True
    await scene.caller.send({"type": "chat", "room": scene.room, "text": "还在吗"})
    assert (await scene.agent.expect("chat", timeout=10))["text"] == "还在吗"
    assert (await scene.caller.expect("chat", timeout=10))["text"] == "还在吗"
    await scene.agent.send({"type": "signal", "room": scene.room, "candidate": None})
    assert (await scene.caller.expect("signal", timeout=10))["room"] == scene.room
    await assert_settled(scene, scene.waiters)
    await end_and_wrap(scene, scene.room)


async def test_3_redis_restored_from_an_older_snapshot(scene: Scene, private_redis: PrivateRedis) -> None:
    """Case 3: the snapshot holds a call that has since ended and a waiter who has since been
    served; current waiters are put back, the finished call never comes back to life."""
    assert scene.agent is not None and scene.caller is not None
    old = private_redis.snapshot("older.rdb")
    first_call = scene.room
    await end_and_wrap(scene, first_call)
    served = scene.waiters.pop(0)
    offer = await scene.agent.expect("offer", timeout=20)
    await scene.agent.send({"type": "offer.accept", "ticket": offer["ticket"]})
    second_call = offer["work_order"]
    await served.expect("room.joined", room=second_call)
    late = Client(scene.procs[1])
    async with late:
        from tests.journey.fault_scene import queue_up

        await queue_up(scene, late, "丁")
        scene.waiters.append(late)
        events_before = await scene.events(first_call)
        welcomes = await _restart_and_rejoin(scene, private_redis, snapshot=old)
        w = await rejoin(served)
        room = w.get("room") or await served.expect("room.joined", room=second_call, timeout=10)
        assert room["room"] == second_call and room["resumed"] is True
        await assert_settled(scene, scene.waiters)
        for i, waiter in enumerate(scene.waiters):
            async def placed(waiter: Client = waiter, i: int = i) -> bool:
                return last_position(welcomes.get(id(waiter), {}), waiter) == i + 1
            await wait_until(placed, 10, f"waiter {i} at position {i + 1}")
        assert scene.caller.seen("call.ended") == []  # no stale call.ended for the finished call
        assert await scene.events(first_call) == events_before  # nothing appended after wrapped_up
        async with scene.shared() as (_store, hub):
            assert await hub.get_room(first_call) is None
        assert (await scene.work_order(second_call)).status.value == "in_call"


async def test_4_agents_keep_their_state_and_waiters_their_positions(
        scene: Scene, private_redis: PrivateRedis) -> None:
    """Case 4: after an empty restart agent 1 is still busy (then ready after the call), agent 2
    still away, every waiter's welcome carries its position, and a new request is estimated and routed."""
    assert scene.agent is not None and scene.agent2 is not None
    welcomes = await _restart_and_rejoin(scene, private_redis)
    assert welcomes[id(scene.agent)]["agent"]["state"] == "busy"
    assert welcomes[id(scene.agent)]["agent"]["active_calls"] == 1
    assert welcomes[id(scene.agent2)]["agent"]["state"] == "away"
    for i, w in enumerate(scene.waiters):
        ticket = welcomes[id(w)].get("ticket")
        assert ticket is not None and ticket["position"] == i + 1, ticket
        assert ticket["expected_wait_s"] is not None
    await assert_settled(scene, scene.waiters)
    await end_and_wrap(scene, scene.room)
    offer = await scene.agent.expect("offer", timeout=20)  # ready, as chosen before the restart
    assert offer["work_order"] == scene.requests[id(scene.waiters[0])]


async def test_5_database_down_answers_503_everywhere(scene: Scene, private_pg: PrivatePostgres) -> None:
    """Case 5: HTTP and the socket handshake answer `unavailable` (503 + Retry-After, the error
    body); chat during the outage is refused with "not sent" and goes through once it is back."""
    assert scene.agent is not None and scene.caller is not None
    a = scene.procs[0]
    private_pg.stop()
    try:
        async with httpx.AsyncClient(base_url=a.url, timeout=15) as http:
            await http.get("/healthz")
            http.headers["X-CSRF-Token"] = http.cookies["hd_csrf"]
            for method, path, body in (("POST", "/api/help/session", {"item": scene.seed["item"].code}),
                                       ("POST", "/api/auth/login", {"username": "x", "password": "y"})):
                r = await http.request(method, path, json=body)
                assert r.status_code == 503, (path, r.status_code, r.text)
                assert r.json()["error"] == "unavailable" and r.headers["Retry-After"]
        r = await scene.agent.http.get(f"/api/workorders/{scene.room}")
        assert r.status_code == 503 and r.json()["error"] == "unavailable", r.text
        fresh = Client(a)
        async with fresh:
            fresh.http.cookies.update(scene.caller.http.cookies)
            with contextlib.suppress(Exception):
                await fresh.connect(timeout=5)
            err = await fresh.expect("error", timeout=5)
            assert err["code"] == "unavailable"
        await scene.caller.send({"type": "chat", "room": scene.room, "text": "停电了吗"})
        err = await scene.caller.expect("error", timeout=20)
        assert err["code"] == "unavailable" and err["ref"] == "chat" and "not sent" in err["message"], err
        assert "reconnect" not in err["message"]
    finally:
        private_pg.start()
    await scene.caller.send({"type": "chat", "room": scene.room, "text": "停电了吗"})  # the client resends
    assert (await scene.agent.expect("chat", timeout=20))["text"] == "停电了吗"
    for proc in scene.procs:
        assert "Traceback" not in proc.tail(400), proc.tail(80)
    await assert_settled(scene, scene.waiters)


async def test_6_redis_outage_logs_one_warning_not_tracebacks(scene: Scene, private_redis: PrivateRedis) -> None:
    """Case 6: an expected outage is a warning line per process and component, no ERROR traceback."""
    private_redis.kill()
    await asyncio.sleep(6)
    await _restart_and_rejoin(scene, private_redis)
    await assert_settled(scene, scene.waiters)
    for proc in scene.procs:
        log = proc.tail(1000)
        assert "Traceback" not in log, log
        assert " ERROR " not in log and "ERROR:" not in log, log


async def test_reconciler_repairs_a_lost_room_and_a_busy_agent(scene: Scene) -> None:
    """A room lost without a restart (a step died half way) and an agent counted busier than their
    rooms: the leader's reconciler ends the call cleanly (wrap-up works), frees the agent and
    records both repairs on the work order's timeline."""
    assert scene.agent is not None and scene.caller is not None
    async with scene.shared() as (store, hub):
        await hub.close_room(scene.room)
    ended = await scene.agent.expect("call.ended", room=scene.room, timeout=30)
    assert ended["reason"] == "lost"
    await scene.caller.expect("call.ended", room=scene.room, timeout=5)
    r = await scene.agent.http.post(f"/api/workorders/{scene.room}/wrapup", json={"outcome": "resolved"})
    assert r.status_code == 200, r.text
    assert "reconciled" in await scene.events(scene.room)
    offer = await scene.agent.expect("offer", timeout=20)  # freed: the next waiter rings
    await scene.agent.send({"type": "offer.accept", "ticket": offer["ticket"]})
    second = offer["work_order"]
    await scene.waiters[0].expect("room.joined", room=second)
    async with scene.db.sessions() as s:  # the process recorded the end, then died before closing the room
        wo = await s.get(WorkOrder, second)
        assert wo is not None
        wo.status, wo.ended_reason = WorkOrderStatus.wrap_up, "hangup"
        await s.commit()
    assert (await scene.waiters[0].expect("call.ended", room=second, timeout=40))["reason"] == "hangup"
    await scene.agent.expect("call.ended", room=second, timeout=5)
    async with scene.shared() as (_store, hub):
        assert await hub.get_room(second) is None  # never resumed: the call is over
    await scene.agent.expect("offer", timeout=20)  # and the agent is free for the next one
    async with scene.shared() as (store, _hub):
        def bump(agent: object) -> None:
            agent.active_calls += 1  # type: ignore[attr-defined]
        await store.update_agent(scene.seed["agent2"].id, bump)

    async def agent2_freed() -> bool:
        async with scene.shared() as (store, _hub):
            agent = await store.get_agent(scene.seed["agent2"].id)
            return agent is not None and agent.active_calls == 0

    await wait_until(agent2_freed, 20, "agent 2 freed by the reconciler")
