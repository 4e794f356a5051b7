"""One contract for every QueueStore backend: ordering, claim, release, agents, expiry, samples."""

from __future__ import annotations

import asyncio

from helpdesk_queue import agents as rules
from helpdesk_queue.store import QueueStore
from helpdesk_queue.testing import COUNTY, T0, make_agent, make_entry


async def test_order_priority_then_enqueued_then_ticket(store: QueueStore) -> None:
    await store.add_entry(make_entry("late", at=T0 + 9))
    await store.add_entry(make_entry("b", at=T0))
    await store.add_entry(make_entry("a", at=T0))
    await store.add_entry(make_entry("vip", at=T0 + 20, priority=3))
    await store.add_entry(make_entry("low", at=T0 - 50, priority=-1))
    assert [e.ticket for e in await store.list_waiting()] == ["vip", "a", "b", "late", "low"]


async def test_lines_are_separate(store: QueueStore) -> None:
    await store.add_entry(make_entry("t", at=T0 + 1))
    await store.add_entry(make_entry("c", chain=(COUNTY,), at=T0))
    assert [e.ticket for e in await store.list_waiting("100:7")] == ["t"]
    assert [e.ticket for e in await store.list_waiting(f"{COUNTY}:7")] == ["c"]
    assert [e.ticket for e in await store.list_waiting()] == ["c", "t"]


async def test_entry_round_trip_and_remove(store: QueueStore) -> None:
    entry = make_entry("a", at=T0 + 0.123456, priority=2)
    entry.declined_by = [4, 5]
    entry.pinned_agent = 9
    await store.add_entry(entry)
    assert await store.get_entry("a") == entry
    assert (await store.list_waiting())[0].pinned_agent == 9
    assert await store.remove_entry("a") == entry
    assert await store.remove_entry("a") is None
    assert await store.get_entry("a") is None
    assert await store.list_waiting() == [] and await store.list_waiting("100:7") == []


async def test_entry_work_orders_in_bulk(store: QueueStore) -> None:
    tickets = [f"t{i}" for i in range(1203)]  # more than one round trip's worth
    for ticket in tickets[:1200]:
        await store.add_entry(make_entry(ticket, at=T0))
    await store.remove_entry("t7")
    found = await store.entry_work_orders(tickets)
    assert list(found) == tickets
    assert found["t0"] == (await store.get_entry("t0")).work_order_id  # type: ignore[union-attr]
    assert found["t1199"] is not None
    assert found["t7"] is None and found["t1200"] is None and found["t1202"] is None
    assert await store.entry_work_orders([]) == {}


async def test_claim_and_release_keep_the_place(store: QueueStore) -> None:
    await store.add_entry(make_entry("a"))
    await store.add_entry(make_entry("b", at=T0 + 1))
    assert await store.claim("a", 1, 1, T0 + 20)
    got = await store.get_entry("a")
    assert got is not None and (got.state, got.offered_to, got.fallback_level) == ("offered", 1, 1)
    assert got.offer_expires_at == T0 + 20
    assert not await store.claim("a", 2, 0, T0 + 20)
    assert not await store.release("a", 2, exclude_agent=True)  # not offered to 2
    assert await store.release("a", 1, exclude_agent=True)
    assert not await store.release("a", 1, exclude_agent=True)
    entries = await store.list_waiting()
    assert [(e.ticket, e.state, e.offered_to) for e in entries] == [
        ("a", "waiting", None),
        ("b", "waiting", None),
    ]
    assert entries[0].declined_by == [1] and entries[0].enqueued_at == T0


async def test_claim_unknown_ticket_fails(store: QueueStore) -> None:
    assert not await store.claim("ghost", 1, 0, T0)


async def test_atomic_claim_under_concurrent_claimers(store: QueueStore) -> None:
    await store.add_entry(make_entry("a"))
    wins = await asyncio.gather(*(store.claim("a", agent, 0, T0 + 20) for agent in range(20)))
    assert wins.count(True) == 1
    winner = wins.index(True)
    assert (await store.get_entry("a")).offered_to == winner  # type: ignore[union-attr]


async def test_agent_round_trip(store: QueueStore) -> None:
    agent = make_agent(3, items=(1, 2), depts=(9,), capacity=2, idle_since=T0 - 0.5)
    await store.upsert_agent(agent)
    assert await store.get_agent(3) == agent
    assert await store.get_agent(4) is None
    await store.upsert_agent(make_agent(4, items=(), state="away"))
    assert sorted(a.agent_id for a in await store.list_agents()) == [3, 4]
    assert (await store.get_agent(4)).item_ids == set()  # type: ignore[union-attr]


async def test_reserve_respects_capacity_under_concurrency(store: QueueStore) -> None:
    await store.upsert_agent(make_agent(1, capacity=2))
    wins = await asyncio.gather(*(store.reserve_agent(1) for _ in range(10)))
    assert wins.count(True) == 2
    agent = await store.get_agent(1)
    assert agent is not None and (agent.pending_offers, agent.state, agent.free) == (2, "offered", 0)
    assert not await store.reserve_agent(99)


async def test_reserve_refuses_away_agent(store: QueueStore) -> None:
    await store.upsert_agent(make_agent(1, state="away"))
    assert not await store.reserve_agent(1)


async def test_update_agent_is_atomic(store: QueueStore) -> None:
    await store.upsert_agent(make_agent(1))

    def bump(agent: rules.AgentPresence) -> None:
        agent.missed_offers += 1

    await asyncio.gather(*(store.update_agent(1, bump) for _ in range(15)))
    assert (await store.get_agent(1)).missed_offers == 15  # type: ignore[union-attr]
    assert await store.update_agent(2, bump) is None


async def test_presence_expiry(store: QueueStore) -> None:
    await store.upsert_agent(make_agent(1, heartbeat=T0))
    await store.upsert_agent(make_agent(2, heartbeat=T0 + 30))
    await store.upsert_agent(make_agent(3, heartbeat=T0, state="offline"))
    assert await store.expire_stale(T0 + 40, ttl_s=45) == []
    assert await store.expire_stale(T0 + 46, ttl_s=45) == [1]
    assert (await store.get_agent(1)).state == "offline"  # type: ignore[union-attr]
    assert (await store.get_agent(2)).state == "ready"  # type: ignore[union-attr]


async def test_handle_times_keep_the_newest(store: QueueStore) -> None:
    for seconds in range(1, 8):
        await store.add_handle_time("100:7", float(seconds), keep=5)
    assert sorted(await store.handle_times("100:7")) == [3.0, 4.0, 5.0, 6.0, 7.0]
    assert await store.handle_times("other") == []
