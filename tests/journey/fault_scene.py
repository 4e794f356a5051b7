"""The scene of the fault tests (issue 14): two real server processes on a private Redis and a
private PostgreSQL, agent 1 in a live call, agent 2 away, three applicants waiting; and the checks
every restart case ends with (nothing stuck, every waiter placed, every call resumed or ended)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

from helpdesk_queue.redis_store import RedisQueueStore
from helpdesk_signaling.redis_hub import RedisHub
from sqlalchemy import select

from helpdesk.workorders.models import WorkOrder, WorkOrderEvent, WorkOrderStatus
from tests.journey.cluster import Client, Proc

HEARTBEAT_S = 2.0
GRACE_S = 20.0
SETTINGS: dict[str, Any] = {"heartbeat_interval_s": HEARTBEAT_S, "reconnect_grace_s": GRACE_S,
                             "offer_timeout_s": 30, "reconcile_interval_s": 2, "wrapup_s": 0}


@dataclass
class Scene:
    procs: list[Proc]
    seed: dict[str, Any]
    db: Any
    redis_url: str
    prefix: str
    agent: Client | None = None
    agent2: Client | None = None
    caller: Client | None = None
    waiters: list[Client] = field(default_factory=list)
    room: str = ""
    requests: dict[int, str] = field(default_factory=dict)  # id(client) -> work order

    async def work_order(self, wo_id: str) -> WorkOrder:
        async with self.db.sessions() as s:
            wo = await s.get(WorkOrder, wo_id, populate_existing=True)
            assert wo is not None
            return wo

    async def events(self, wo_id: str) -> list[str]:
        async with self.db.sessions() as s:
            return list((await s.scalars(select(WorkOrderEvent.kind).where(WorkOrderEvent.work_order_id == wo_id)
                                         .order_by(WorkOrderEvent.seq))).all())

    @contextlib.asynccontextmanager
    async def shared(self) -> Any:
        """The queue store and hub on the scene's Redis, read through their public interfaces."""
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(self.redis_url, decode_responses=True)
        try:
            yield RedisQueueStore(client, prefix=self.prefix), RedisHub(client, self.prefix)
        finally:
            await client.aclose()


async def queue_up(scene: Scene, client: Client, name: str) -> str:
    await client.open_help(scene.seed["item"].code, name=name)
    await client.connect()
    r = await client.http.post("/api/help/requests", json={"item": scene.seed["item"].code,
                                                            "unit": scene.seed["county"].code})
    assert r.status_code == 200, r.text
    wo = str(r.json()["work_order"])
    scene.requests[id(client)] = wo
    return wo


async def stage(scene: Scene, stack: contextlib.AsyncExitStack) -> None:
    """Agent 1 (on A) in a call with an applicant (on B); agent 2 (on B) away; three waiting."""
    a, b = scene.procs
    scene.agent = await stack.enter_async_context(Client(a))
    scene.agent2 = await stack.enter_async_context(Client(b))
    scene.caller = await stack.enter_async_context(Client(b))
    await scene.agent2.login(scene.seed["agent2"].username)
    await scene.agent2.connect()
    await scene.agent2.send({"type": "agent.state", "state": "away"})
    await scene.agent2.expect("agent.state", state="away")
    await scene.agent.login(scene.seed["agent"].username)
    await scene.agent.connect()
    await scene.agent.send({"type": "agent.state", "state": "ready"})
    scene.room = await queue_up(scene, scene.caller, "通话中")
    offer = await scene.agent.expect("offer")
    await scene.agent.send({"type": "offer.accept", "ticket": offer["ticket"]})
    await scene.caller.expect("room.joined", room=scene.room)
    await scene.agent.expect("room.joined", room=scene.room)
    for i, name in enumerate(("甲", "乙", "丙")):
        w = await stack.enter_async_context(Client(scene.procs[i % 2]))
        await queue_up(scene, w, name)
        await w.expect("queue.status", position=i + 1)
        scene.waiters.append(w)


async def rejoin(client: Client, timeout: float = 40.0) -> dict[str, Any]:
    """What the browser does after its socket closed: reconnect with backoff until welcomed."""
    end = time.monotonic() + timeout
    while True:
        try:
            return await client.connect(timeout=3)
        except (TimeoutError, OSError, Exception):
            if time.monotonic() > end:
                raise
            await asyncio.sleep(0.5)


async def wait_until(check: Any, timeout: float, what: str) -> Any:
    end = time.monotonic() + timeout
    last: Any = None
    while True:
        last = await check()
        if last is True or (last and not isinstance(last, bool | list | str)):
            return last
        if time.monotonic() > end:
            raise AssertionError(f"{what}: not within {timeout} s (last: {last!r})")
        await asyncio.sleep(0.3)


async def stuck(scene: Scene) -> list[str]:
    """What the database and Redis disagree on: [] when nothing is stuck."""
    out: list[str] = []
    async with scene.db.sessions() as s:
        rows = (await s.scalars(select(WorkOrder).where(WorkOrder.status.in_(
            [WorkOrderStatus.in_call, WorkOrderStatus.queued, WorkOrderStatus.offered])))).all()
    async with scene.shared() as (store, hub):
        for wo in rows:
            if wo.status == WorkOrderStatus.in_call and await hub.get_room(wo.id) is None:
                out.append(f"work order {wo.id} in_call without a room")
            if wo.status != WorkOrderStatus.in_call:
                entry = await store.get_entry(wo.applicant_id)
                if entry is None or entry.work_order_id != wo.id:
                    out.append(f"work order {wo.id} {wo.status} without a queue entry")
        for agent in await store.list_agents():
            rooms = await hub.rooms_of(f"s:{agent.agent_id}")
            if agent.active_calls > len(rooms):
                out.append(f"agent {agent.agent_id} calls={agent.active_calls} rooms={len(rooms)}")
    return out


async def assert_settled(scene: Scene, waiters: list[Client]) -> None:
    """The acceptance of every restart case: 0 work orders stuck, 0 agents stuck, every waiter
    still waiting with a position (in its original order)."""
    async def clean() -> bool | list[str]:
        found = await stuck(scene)
        return found if found else True

    await wait_until(clean, 20, "nothing stuck")
    async with scene.shared() as (store, _hub):
        tickets = [e.ticket for e in await store.list_waiting()]
    for w in waiters:
        wo = await scene.work_order(scene.requests[id(w)])
        assert wo.status in (WorkOrderStatus.queued, WorkOrderStatus.offered), wo.status
        assert wo.applicant_id in tickets
    order = [tickets.index((await scene.work_order(scene.requests[id(w)])).applicant_id) for w in waiters]
    assert order == sorted(order), "the waiters kept their order"


def last_position(welcome: dict[str, Any], client: Client) -> int | None:
    """The position a waiter knows: from the welcome, or the latest queue.status since."""
    pos = (welcome.get("ticket") or {}).get("position")
    for msg in client.seen("queue.status"):
        pos = msg.get("position", pos)
    return pos


async def end_and_wrap(scene: Scene, wo_id: str) -> None:
    """The call ends cleanly: both sides hear call.ended and the work order can be wrapped up."""
    assert scene.agent is not None and scene.caller is not None
    await scene.agent.send({"type": "hangup", "room": wo_id})
    await scene.agent.expect("call.ended", room=wo_id)
    await scene.caller.expect("call.ended", room=wo_id)
    r = await scene.agent.http.post(f"/api/workorders/{wo_id}/wrapup", json={"outcome": "resolved", "notes": "ok"})
    assert r.status_code == 200, r.text
