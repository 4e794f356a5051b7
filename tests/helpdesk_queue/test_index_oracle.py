"""Routing by index against the full-scan planner: the same random operations on two services,
one routing by index and one scanning everything (routing="scan"), must take the same decisions,
on both backends. The scan service is the oracle: its pass reads the whole queue and every agent.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from helpdesk_queue.events import Connected, Offered, OfferRevoked, QueueEvent
from helpdesk_queue.memory import MemoryQueueStore
from helpdesk_queue.models import QueueError, QueueSettings, WaitingEntry
from helpdesk_queue.service import QueueService
from helpdesk_queue.store import QueueStore
from helpdesk_queue.testing import CITY, COUNTY, OTHER_TOWN, T0, TOWN, FakeNow, make_agent, make_entry

UNITS = (TOWN, OTHER_TOWN, COUNTY, CITY)
CHAINS = ((TOWN, COUNTY, CITY), (OTHER_TOWN, COUNTY, CITY), (COUNTY, CITY))
SETTINGS = QueueSettings(offer_timeout_s=20, missed_offers_before_away=2, fallback_after_s=60, wrapup_s=10,
                         presence_ttl_s=90)  # fmt: skip


@pytest.fixture(params=["memory", "redis"])
async def store_pair(request: pytest.FixtureRequest) -> AsyncIterator[tuple[QueueStore, QueueStore]]:
    if request.param == "memory":
        yield MemoryQueueStore(), MemoryQueueStore()
        return
    url: str = request.getfixturevalue("redis_url")
    prefix: str = request.getfixturevalue("redis_prefix")
    from helpdesk_queue.redis_store import RedisQueueStore
    from redis.asyncio import Redis

    client = Redis.from_url(url, decode_responses=True)
    try:
        yield RedisQueueStore(client, prefix=prefix + "i:"), RedisQueueStore(client, prefix=prefix + "s:")
    finally:
        keys = [k async for k in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


class Side:
    """One service and the decisions it took during the current operation."""

    def __init__(self, store: QueueStore, now: FakeNow, routing: str) -> None:
        self.events: list[QueueEvent] = []

        async def sink(event: QueueEvent) -> None:
            self.events.append(event)

        self.svc = QueueService(store, now=now, emit=sink, settings=replace(SETTINGS, routing=routing))

    def decisions(self) -> list[tuple[Any, ...]]:
        out: list[tuple[Any, ...]] = []
        for e in self.events:
            if isinstance(e, Offered):
                out.append(("offer", e.ticket, e.agent_id, e.fallback_level))
            elif isinstance(e, OfferRevoked):
                out.append(("revoked", e.ticket, e.agent_id, e.reason))
            elif isinstance(e, Connected):
                out.append(("connected", e.ticket, e.agent_id, e.fallback_level))
        self.events.clear()
        return sorted(out, key=repr)


async def apply(side: Side, op: tuple[Any, ...]) -> str | None:
    """Run one operation; the error's class name when it raised (both sides must agree)."""
    svc, kind = side.svc, op[0]
    try:
        if kind == "join":
            entry: WaitingEntry = op[1]
            await svc.join(replace(entry, unit_chain=list(entry.unit_chain), declined_by=[]))
        elif kind == "online":
            await svc.agent_online(replace(op[1]), "ready")
        elif kind == "state":
            await svc.agent_state(op[1], op[2])
        elif kind == "accept":
            await svc.accept(op[1], op[2])
        elif kind == "decline":
            await svc.decline(op[1], op[2])
        elif kind == "leave":
            await svc.leave(op[1])
        elif kind == "ended":
            await svc.call_ended(op[1], 100.0, op[2])
        elif kind == "beat":
            await svc.heartbeat(op[1])
        elif kind == "tick":
            await svc.tick()
    except QueueError as exc:
        return type(exc).__name__
    return None


def random_op(rng: random.Random, n: int, agents: list[int], offered: dict[str, int],
              calls: list[tuple[int, str]], queued: list[str], now: float) -> tuple[Any, ...]:  # fmt: skip
    roll = rng.random()
    if roll < 0.22:
        chain = rng.choice(CHAINS)
        entry = make_entry(f"t{rng.randrange(1000):03d}{n:03d}", chain=chain, item=rng.choice((7, 8, 9)),
                           dept=rng.choice((70, 80)), priority=rng.choice((0, 0, 0, 1, 2)),
                           at=now - rng.choice((0, 0, 1, 2.5)))  # fmt: skip
        if agents and rng.random() < 0.1:
            entry.pinned_agent = rng.choice(agents)
        return ("join", entry)
    if roll < 0.32 or not agents:
        agent_id = len(agents) + 1
        items = tuple(rng.sample((7, 8, 9), rng.choice((1, 1, 2))))
        depts = (rng.choice((70, 80)),) if rng.random() < 0.3 else ()
        return ("online", make_agent(agent_id, unit=rng.choice(UNITS), items=items, depts=depts,
                                     capacity=rng.choice((1, 1, 2)), idle_since=now - rng.randrange(50)))  # fmt: skip
    if roll < 0.42:
        return ("state", rng.choice(agents), rng.choice(("ready", "ready", "away", "offline")))
    if roll < 0.58 and offered:
        ticket = rng.choice(sorted(offered))
        return ("accept", ticket, offered[ticket])
    if roll < 0.66 and offered:
        ticket = rng.choice(sorted(offered))
        return ("decline", ticket, offered[ticket])
    if roll < 0.74 and calls:
        agent_id, line = calls.pop(rng.randrange(len(calls)))
        return ("ended", agent_id, line)
    if roll < 0.78 and queued:
        return ("leave", rng.choice(queued))
    if roll < 0.86:
        return ("beat", rng.choice(agents))
    return ("advance", rng.choice((1.0, 5.0, 15.0, 30.0, 61.0)))


@pytest.mark.parametrize("seed", range(8))
async def test_index_takes_the_scans_decisions(store_pair: tuple[QueueStore, QueueStore], seed: int) -> None:
    rng = random.Random(seed)
    now = FakeNow()
    index, scan = Side(store_pair[0], now, "index"), Side(store_pair[1], now, "scan")
    agents: list[int] = []
    calls: list[tuple[int, str]] = []
    offered: dict[str, int] = {}
    lines: dict[str, str] = {}
    for n in range(160):
        op = random_op(rng, n, agents, offered, calls, sorted(lines), now())
        if op[0] == "advance":
            now.advance(op[1])
            op = ("tick",)  # the leader ticks every second: timers fire on the next one
        errors = (await apply(index, op), await apply(scan, op))
        assert errors[0] == errors[1], (seed, n, op)
        got, want = index.decisions(), scan.decisions()
        assert got == want, (seed, n, op)
        if op[0] == "online":
            agents.append(op[1].agent_id)
        elif op[0] == "join":
            lines[op[1].ticket] = op[1].line
        for kind, ticket, agent_id, _ in got:
            if kind == "offer":
                offered[ticket] = agent_id
            elif kind == "revoked":
                offered.pop(ticket, None)
            elif kind == "connected":
                offered.pop(ticket, None)
                calls.append((agent_id, lines.pop(ticket)))
        if op[0] == "leave":
            lines.pop(op[1], None)
            offered.pop(op[1], None)
        assert await _state(index.svc) == await _state(scan.svc), (seed, n, op)
    assert now() > T0


async def _state(svc: QueueService) -> tuple[Any, ...]:
    entries = [(e.ticket, e.state, e.offered_to, sorted(e.declined_by)) for e in await svc.store.list_waiting()]
    agents = [(a.agent_id, a.state, a.active_calls, a.pending_offers, a.missed_offers)
              for a in await svc.store.list_agents()]  # fmt: skip
    return tuple(entries), tuple(sorted(agents))
