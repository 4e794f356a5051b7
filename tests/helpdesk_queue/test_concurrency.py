"""Several dispatchers on one store (as several processes on one Redis), leaks, key expiries."""

from __future__ import annotations

import asyncio
import threading

import pytest
from helpdesk_queue.dispatch import Batch, route
from helpdesk_queue.events import Offered, PositionsChanged, QueueEvent
from helpdesk_queue.models import AgentPresence, QueueSettings
from helpdesk_queue.redis_store import RedisQueueStore
from helpdesk_queue.service import QueueService
from helpdesk_queue.store import QueueStore
from helpdesk_queue.testing import T0, FakeNow, Harness, make_agent, make_entry
from redis.asyncio import Redis


async def test_two_dispatchers_never_double_offer(store: QueueStore, fake_now: FakeNow) -> None:
    a, b = Harness.build(store, fake_now), Harness.build(store, fake_now)
    for i in range(30):
        await store.add_entry(make_entry(f"t{i:02}", at=T0 + i))
    for agent_id in range(10):
        await store.upsert_agent(make_agent(agent_id, capacity=2, idle_since=T0 - agent_id))
    await asyncio.gather(a.service.dispatch(), b.service.dispatch(), a.service.dispatch())
    offers = a.of(Offered) + b.of(Offered)
    assert len(offers) == 20 and len({o.ticket for o in offers}) == 20
    # Strict order holds within one pass; passes racing each other may swap neighbours at the edge.
    assert {o.ticket for o in offers} == {f"t{i:02}" for i in range(20)}
    for agent in await store.list_agents():
        assert (agent.pending_offers, agent.state) == (2, "offered")
    offered = [e for e in await store.list_waiting() if e.state == "offered"]
    assert sorted(e.ticket for e in offered) == sorted(o.ticket for o in offers)


async def test_racing_passes_without_lock_stay_safe(store: QueueStore, fake_now: FakeNow) -> None:
    """Without the routing lock, claim and reserve alone still prevent double offers and overfill."""
    for i in range(30):
        await store.add_entry(make_entry(f"t{i:02}", at=T0 + i))
    for agent_id in range(10):
        await store.upsert_agent(make_agent(agent_id, capacity=2, idle_since=T0 - agent_id))
    batches = [Batch() for _ in range(4)]
    await asyncio.gather(*(route(store, QueueSettings(), T0, b) for b in batches))
    offers = [e for b in batches for e in b.events if isinstance(e, Offered)]
    assert len(offers) == 20 and len({o.ticket for o in offers}) == 20
    assert all(a.pending_offers == 2 for a in await store.list_agents())


async def test_leaked_reservation_freed_after_two_ticks(harness: Harness) -> None:
    store, svc = harness.service.store, harness.service
    await store.upsert_agent(make_agent(1))
    assert await store.reserve_agent(1)  # a process reserved, then died before its claim
    await svc.tick()
    assert (await store.get_agent(1)).pending_offers == 1  # type: ignore[union-attr]
    await svc.join(make_entry("a"))
    assert harness.of(Offered) == []
    await svc.tick()
    assert [o.ticket for o in harness.of(Offered)] == ["a"]  # the freed slot rings at once
    agent = await store.get_agent(1)
    assert agent is not None and (agent.pending_offers, agent.state) == (1, "offered")
    assert (await store.get_entry("a")).offered_to == 1  # type: ignore[union-attr]


async def test_sink_may_call_back_into_the_service(store: QueueStore, fake_now: FakeNow) -> None:
    seen: list[int] = []
    service: QueueService

    async def sink(event: QueueEvent) -> None:
        if isinstance(event, PositionsChanged):
            status = await service.status(joined[-1])  # would deadlock if emitted under the lock
            seen.append(status.position if status else 0)

    service = QueueService(store, now=fake_now, emit=sink, settings=QueueSettings())
    joined = ["a"]
    await asyncio.wait_for(service.join(make_entry("a")), timeout=5)
    joined.append("b")
    await asyncio.wait_for(service.join(make_entry("b", at=T0 + 1)), timeout=5)
    assert seen == [1, 2]


async def test_redis_keys_are_namespaced_and_expire(redis_url: str, redis_prefix: str) -> None:
    client = Redis.from_url(redis_url, decode_responses=True)
    try:
        store = RedisQueueStore(client, prefix=redis_prefix)
        svc = Harness.build(store, FakeNow()).service
        await svc.agent_online(make_agent(1, capacity=2))
        await svc.join(make_entry("a"))
        await svc.join(make_entry("b", at=T0 + 1))
        await svc.accept("a", 1)
        await svc.call_ended(1, 120, "100:7")
        keys = [k async for k in client.scan_iter(match=f"{redis_prefix}*")]
        assert len(keys) >= 5
        for key in keys:
            assert await client.ttl(key) > 0, key
    finally:
        await client.delete(*[k async for k in client.scan_iter(match=f"{redis_prefix}*")] or ["-"])
        await client.aclose()


async def test_redis_store_requires_decoded_responses(redis_url: str) -> None:
    client = Redis.from_url(redis_url)
    with pytest.raises(ValueError, match="decode_responses"):
        RedisQueueStore(client)
    await client.aclose()


async def test_redis_drops_memberships_of_expired_entries(redis_url: str, redis_prefix: str) -> None:
    client = Redis.from_url(redis_url, decode_responses=True)
    try:
        store = RedisQueueStore(client, prefix=redis_prefix)
        await store.add_entry(make_entry("a"))
        await store.add_entry(make_entry("b", at=T0 + 1))
        await client.delete(f"{redis_prefix}q:e:a")  # as if its TTL ran out
        assert [e.ticket for e in await store.list_waiting()] == ["b"]
        assert await client.zrange(f"{redis_prefix}q:all", 0, -1) == ["b"]
        await store.upsert_agent(make_agent(1))
        await client.delete(f"{redis_prefix}q:a:1")
        assert await store.list_agents() == []
    finally:
        await client.delete(*[k async for k in client.scan_iter(match=f"{redis_prefix}*")] or ["-"])
        await client.aclose()


async def test_fairness_after_decline_holds_across_dispatchers(store: QueueStore, fake_now: FakeNow) -> None:
    """Agent 1 declines on one process; the next pass runs on another: the decliner is not rung
    again, and the declined applicant still goes before anyone who came later."""
    from helpdesk_queue.events import OfferRevoked

    a, b = Harness.build(store, fake_now), Harness.build(store, fake_now)
    await a.service.agent_online(make_agent(1, idle_since=T0 - 10))
    await a.service.join(make_entry("first"))
    assert [o.ticket for o in a.of(Offered)] == ["first"]
    fake_now.advance(5)
    await b.service.join(make_entry("later", at=fake_now()))
    await a.service.decline("first", 1)  # agent 1 now rings for "later" (it never declined that)
    assert a.of(OfferRevoked) == [OfferRevoked("first", 1, "declined")]
    assert [o.ticket for o in a.of(Offered)] == ["first", "later"]
    await b.service.agent_online(make_agent(2, idle_since=T0))
    assert [(o.ticket, o.agent_id) for o in b.of(Offered)] == [("first", 2)]
    entry = await store.get_entry("first")
    assert entry is not None and entry.declined_by == [1] and entry.enqueued_at == T0


async def test_presence_expiry_across_dispatchers(store: QueueStore, fake_now: FakeNow) -> None:
    """Process A keeps its agent alive with heartbeats; process B died: the leader's tick takes B's
    agent offline after the TTL and its ringing offer goes back to the queue at the same place."""
    from helpdesk_queue.events import OfferRevoked

    settings = QueueSettings(presence_ttl_s=45, offer_timeout_s=1000)
    a, b = Harness.build(store, fake_now, settings), Harness.build(store, fake_now, settings)
    await b.service.agent_online(make_agent(2, idle_since=T0 - 10))
    await b.service.join(make_entry("x"))
    assert [o.agent_id for o in b.of(Offered)] == [2]
    await a.service.agent_online(make_agent(1, capacity=1))
    await a.service.join(make_entry("y", at=T0 + 1))  # agent 1 takes y
    for _ in range(5):
        fake_now.advance(10)
        await a.service.heartbeat(1)
    await a.service.tick()  # a is the leader; 50 s without a heartbeat from b
    assert (await store.get_agent(2)).state == "offline"  # type: ignore[union-attr]
    assert (await store.get_agent(1)).state == "offered"  # type: ignore[union-attr]
    assert OfferRevoked("x", 2, "taken") in a.events
    waiting = await store.list_waiting()
    assert (waiting[0].ticket, waiting[0].state) == ("x", "waiting")


async def test_a_reservation_between_read_and_write_is_not_lost(redis_url: str, redis_prefix: str) -> None:
    """update_agent reads an agent, applies a rule in Python and writes back if the hash's version
    did not move. A reservation by another process in between (RESERVE, OFFER, the routing script)
    must move it, or the write-back puts the old pending count back and the agent later rings beyond
    its capacity (seen in CI: 21 offers for 20 slots)."""
    from helpdesk_queue import agents as rules
    from helpdesk_queue.redis_store import RedisQueueStore

    def other_process(action: str) -> None:  # its own connection and event loop, run to completion
        async def go() -> None:
            client = Redis.from_url(redis_url, decode_responses=True)
            try:
                other = RedisQueueStore(client, prefix=redis_prefix)
                if action == "reserve":
                    assert await other.reserve_agent(1)
                else:
                    assert await other.offer("t", 1, 0, T0 + 20) is not None
            finally:
                await client.aclose()

        worker = threading.Thread(target=lambda: asyncio.run(go()))
        worker.start()
        worker.join()

    client = Redis.from_url(redis_url, decode_responses=True)
    try:
        store = RedisQueueStore(client, prefix=redis_prefix)
        for action in ("reserve", "offer"):
            await store.upsert_agent(make_agent(1, capacity=3))
            await store.add_entry(make_entry("t"))
            assert await store.reserve_agent(1)  # one ringing slot, which this process then cancels
            calls: list[int] = []

            def cancel(agent: AgentPresence, action: str = action, calls: list[int] = calls) -> None:
                if not calls:
                    other_process(action)  # after our read, before our write
                calls.append(1)
                rules.settle_offer(agent, "cancelled", missed_limit=3)

            await store.update_agent(1, cancel)
            agent = await store.get_agent(1)
            assert agent is not None and agent.pending_offers == 1, (action, agent)
            assert len(calls) == 2  # the write-back saw the version move and read again
            await store.remove_entry("t")
            await client.delete(store._a(1))
    finally:
        keys = [k async for k in client.scan_iter(match=f"{redis_prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
