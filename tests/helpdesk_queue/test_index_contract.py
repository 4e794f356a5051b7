"""The routing indexes' contract, on both backends: heads of lines, agent sets, one-step offer and
accept, fallback widening, timers, line versions, heartbeats and leaked slots."""

from __future__ import annotations

import asyncio

from helpdesk_queue import agents as rules
from helpdesk_queue.store import QueueStore
from helpdesk_queue.testing import CITY, COUNTY, DEPT, ITEM, OTHER_TOWN, T0, TOWN, Harness, make_agent, make_entry


async def test_heads_are_the_first_waiting_of_the_agents_sets(store: QueueStore) -> None:
    for i, ticket in enumerate(("a", "b", "c")):
        await store.add_entry(make_entry(ticket, at=T0 + i))
    await store.add_entry(make_entry("vip", at=T0 + 9, priority=2))
    await store.add_entry(make_entry("other", chain=(OTHER_TOWN, COUNTY, CITY)))  # not this unit
    await store.add_entry(make_entry("item8", item=8, dept=80))  # not this skill
    await store.upsert_agent(make_agent(1))
    agents, heads = await store.heads_for_agents([1, 99])
    assert [a.agent_id for a in agents] == [1]
    assert [e.ticket for e in heads] == ["vip"]  # one free slot: one head per set
    await store.upsert_agent(make_agent(2, capacity=2))
    _, heads = await store.heads_for_agents([1, 2])  # three free slots together
    assert sorted(e.ticket for e in heads) == ["a", "b", "vip"]
    assert await store.claim("vip", 1, 0, T0 + 20)  # offered entries leave the heads
    assert await store.release("a", 1, exclude_agent=True) is False
    _, heads = await store.heads_for_agents([1])
    assert [e.ticket for e in heads] == ["a"]


async def test_declined_entries_are_skipped_and_department_sets_count(store: QueueStore) -> None:
    await store.add_entry(make_entry("a"))
    await store.add_entry(make_entry("b", at=T0 + 1))
    await store.upsert_agent(make_agent(1, items=(), depts=(DEPT,)))
    assert await store.claim("a", 1, 0, T0 + 20) and await store.release("a", 1, exclude_agent=True)
    _, heads = await store.heads_for_agents([1])
    assert [e.ticket for e in heads] == ["b"]
    entry = await store.get_entry("a")
    assert entry is not None and await store.agents_for_entry(entry) == []


async def test_agents_for_entry_nearest_level_then_load_then_idle(store: QueueStore) -> None:
    await store.add_entry(make_entry("t"))
    await store.upsert_agent(make_agent(1, unit=COUNTY, idle_since=T0 - 500))
    entry = await store.get_entry("t")
    assert entry is not None and await store.agents_for_entry(entry) == []  # county not opened yet
    widened = await store.open_level("t", 1)
    assert widened is not None and widened.reach == 1
    assert [(lvl, a.agent_id) for lvl, a in await store.agents_for_entry(widened)] == [(1, 1)]
    await store.upsert_agent(make_agent(2, idle_since=T0 - 10, capacity=2))
    await store.upsert_agent(make_agent(3, idle_since=T0 - 20, items=(), depts=(DEPT,)))
    best = await store.agents_for_entry(widened)
    assert sorted((lvl, a.agent_id) for lvl, a in best) == [(0, 2), (0, 3)]  # own unit first
    await store.update_agent(3, lambda a: rules.set_state(a, "away", T0))
    await store.add_entry(make_entry("x", at=T0 + 5))
    assert await store.offer("x", 2, 0, T0 + 20) is not None  # agent 2 now carries one offer
    await store.upsert_agent(make_agent(4, idle_since=T0))
    assert [a.agent_id for _, a in await store.agents_for_entry(widened)] == [4]  # less loaded
    assert await store.open_level("gone", 1) is None


async def test_pinned_entry_goes_only_to_its_agent_until_declined(store: QueueStore) -> None:
    entry = make_entry("p")
    entry.pinned_agent = 2
    await store.add_entry(entry)
    await store.upsert_agent(make_agent(1))
    await store.upsert_agent(make_agent(2, unit=COUNTY, items=()))
    assert (await store.heads_for_agents([1]))[1] == []
    assert [e.ticket for e in (await store.heads_for_agents([2]))[1]] == ["p"]
    assert [(lvl, a.agent_id) for lvl, a in await store.agents_for_entry(entry)] == [(1, 2)]
    assert await store.offer("p", 2, 1, T0 + 20) is not None
    assert await store.release("p", 2, exclude_agent=True)  # declined: the pin lapses
    assert [e.ticket for e in (await store.heads_for_agents([1]))[1]] == ["p"]


async def test_offer_is_one_atomic_step(store: QueueStore) -> None:
    await store.add_entry(make_entry("a"))
    await store.add_entry(make_entry("b", at=T0 + 1))
    await store.upsert_agent(make_agent(1))
    await store.upsert_agent(make_agent(2))
    won = await asyncio.gather(*(store.offer("a", i, 0, T0 + 20) for i in (1, 2)))
    assert sum(w is not None for w in won) == 1  # one applicant, one offer
    winner = next(w for w in won if w is not None)
    assert (winner.state, winner.pending_offers) == ("offered", 1)
    assert await store.offer("b", winner.agent_id, 0, T0 + 20) is None  # capacity 1: full
    assert [e.ticket for e in await store.offers_of(winner.agent_id)] == ["a"]
    assert await store.due_timers(T0 + 20) == [("o:a", T0 + 20)]
    assert await store.release("a", winner.agent_id, exclude_agent=False)
    assert await store.due_timers(T0 + 99) == [] and await store.offers_of(winner.agent_id) == []


async def test_take_offer_verdicts(store: QueueStore) -> None:
    await store.add_entry(make_entry("a"))
    await store.upsert_agent(make_agent(1))
    assert await store.take_offer("nope", 1, T0) == ("unknown", None, None)
    verdict, entry, _ = await store.take_offer("a", 1, T0)
    assert verdict == "not_offered" and entry is not None and entry.state == "waiting"
    assert await store.offer("a", 1, 0, T0 + 20) is not None
    verdict, entry, agent = await store.take_offer("a", 1, T0 + 21)
    assert verdict == "expired" and agent is None and await store.get_entry("a") is not None
    await store.update_agent(1, lambda a: setattr(a, "missed_offers", 1))
    verdict, entry, agent = await store.take_offer("a", 1, T0 + 20)
    assert verdict == "taken" and entry is not None and entry.offered_to == 1
    assert agent is not None and (agent.state, agent.pending_offers, agent.active_calls) == ("busy", 0, 1)
    assert agent.missed_offers == 0 and agent == await store.get_agent(1)
    assert (await store.heads_for_agents([1]))[0][0].routable is False
    assert await store.get_entry("a") is None and await store.offers_of(1) == []
    assert await store.due_timers(T0 + 99) == []


async def test_timers_fire_in_order_and_moved_ones_stay(store: QueueStore) -> None:
    await store.set_timer("f:a", T0 + 60)
    await store.set_timers({"w:3": T0 + 10, "a:b": T0 + 90})
    assert await store.due_timers(T0 + 60) == [("w:3", T0 + 10), ("f:a", T0 + 60)]
    await store.set_timer("f:a", T0 + 120)  # re-armed while being handled
    await store.clear_timers(["w:3", "f:a"], T0 + 60)
    assert await store.due_timers(T0 + 1000) == [("a:b", T0 + 90), ("f:a", T0 + 120)]
    await store.add_entry(make_entry("a"))
    await store.remove_entry("a")  # an entry's timers go with it
    assert await store.due_timers(T0 + 1000) == [("a:b", T0 + 90)]


async def test_line_versions_move_with_every_change(store: QueueStore) -> None:
    line = f"{TOWN}:{ITEM}"
    assert await store.line_versions([line]) == {line: 0}
    seen = [0]
    await store.add_entry(make_entry("a"))
    seen.append((await store.line_versions([line]))[line])
    await store.upsert_agent(make_agent(1))
    await store.offer("a", 1, 0, T0 + 20)
    seen.append((await store.line_versions([line]))[line])
    await store.release("a", 1, exclude_agent=False)
    seen.append((await store.line_versions([line]))[line])
    await store.bump_lines([line])
    seen.append((await store.line_versions([line]))[line])
    await store.remove_entry("a")
    seen.append((await store.line_versions([line]))[line])
    assert seen == sorted(set(seen))  # strictly increasing


async def test_heartbeat_and_expiry_read_only_stale_agents(store: QueueStore) -> None:
    await store.upsert_agent(make_agent(1, heartbeat=T0))
    await store.upsert_agent(make_agent(2, heartbeat=T0))
    assert await store.heartbeat(2, T0 + 40)
    assert not await store.heartbeat(99, T0 + 40)
    assert await store.heartbeats([2, 99], T0 + 41) == {2} and await store.heartbeats([], T0) == set()
    assert (await store.get_agent(2)).last_heartbeat == T0 + 41  # type: ignore[union-attr]
    assert await store.expire_stale(T0 + 50, 45) == [1]
    assert not await store.heartbeat(1, T0 + 51)  # offline until it comes back online
    assert await store.expire_stale(T0 + 50, 45) == []
    assert (await store.heads_for_agents([1]))[0][0].state == "offline"


async def test_ringing_without_offers_finds_leaked_slots(store: QueueStore) -> None:
    await store.add_entry(make_entry("a"))
    await store.upsert_agent(make_agent(1, capacity=2))
    assert await store.offer("a", 1, 0, T0 + 20) is not None
    assert await store.ringing_without_offers() == {}
    assert await store.reserve_agent(1)  # a slot taken, its claim never made
    assert await store.ringing_without_offers() == {1: 1}


async def test_line_changes_read_only_the_asked_entries_of_moved_lines(store: QueueStore) -> None:
    line, other = f"{TOWN}:{ITEM}", f"{OTHER_TOWN}:{ITEM}"
    for i, ticket in enumerate("abcde"):
        await store.add_entry(make_entry(ticket, at=T0 + i))
    await store.add_entry(make_entry("vip", at=T0 + 9, priority=1))
    await store.add_entry(make_entry("other", chain=(OTHER_TOWN, COUNTY, CITY)))
    await store.upsert_agent(make_agent(1))
    assert await store.offer("b", 1, 0, T0 + 20) is not None  # offered: out of the count
    await store.add_handle_time(line, 120.0, 50)
    changes = await store.line_changes({line: (-1, ["a", "b", "d", "vip", "other", "gone"]), other: (-1, [])})
    got = changes[line]
    assert {t: pos for t, (_, pos) in got.found.items()} == {"vip": 1, "a": 2, "b": 1, "d": 4}
    assert got.found["b"][0].state == "offered" and got.found["d"][0].ticket == "d"
    assert got.handle_times == [120.0] and changes[other].found == {}
    versions = {k: c.version for k, c in changes.items()}
    assert await store.line_changes({k: (v, ["a"]) for k, v in versions.items()}) == {}  # nothing moved
    await store.remove_entry("vip")
    moved = await store.line_changes({k: (v, ["a"]) for k, v in versions.items()})
    assert list(moved) == [line] and moved[line].found["a"][1] == 1


async def test_line_statuses_match_the_full_read(harness: Harness) -> None:
    svc = harness.service
    await svc.agent_online(make_agent(1, capacity=2))
    for i in range(6):
        await svc.join(make_entry(f"t{i}", at=T0 + i, priority=int(i % 3 == 0)))
        await svc.join(make_entry(f"c{i}", chain=(COUNTY, CITY), at=T0 + i))
    tickets = [f"t{i}" for i in range(6)] + ["c1", "c4"]
    full = await svc.statuses(tickets)
    versions, by_line = await svc.line_statuses({f"{TOWN}:{ITEM}": (-1, tickets[:6]),
                                                 f"{COUNTY}:{ITEM}": (-1, ["c1", "c4"])})  # fmt: skip
    assert by_line == full and {s.state for s in full.values()} == {"offered", "waiting"}
    assert set(versions) == {f"{TOWN}:{ITEM}", f"{COUNTY}:{ITEM}"}


async def test_set_ready_follows_the_agent_rules(store: QueueStore) -> None:
    for agent_id, state, calls, pending in ((1, "away", 0, 0), (2, "busy", 1, 0), (3, "offline", 0, 0),
                                            (4, "offered", 0, 1), (5, "wrap_up", 0, 0)):  # fmt: skip
        agent = make_agent(agent_id, state=state, idle_since=T0 - 100)  # type: ignore[arg-type]
        agent.active_calls, agent.pending_offers, agent.missed_offers = calls, pending, 1
        agent.wrapup_until = T0 + 5 if state == "wrap_up" else None
        await store.upsert_agent(agent)
        want = make_agent(agent_id)
        want.__dict__.update(agent.__dict__)
        rules.set_state(want, "ready", T0 + 7)
        got = await store.set_ready(agent_id, T0 + 7)
        assert got == want and await store.get_agent(agent_id) == want, state
    assert await store.set_ready(99, T0) is None
    assert [a.agent_id for a in (await store.heads_for_agents([1, 2, 3, 4, 5]))[0] if a.routable] == [1, 3, 5]


async def test_route_agent_gives_the_head_to_the_best_agent_of_its_nearest_level(store: QueueStore) -> None:
    await store.add_entry(make_entry("late", at=T0 + 5))
    await store.add_entry(make_entry("early", at=T0))
    await store.add_entry(make_entry("vip", at=T0 + 9, priority=1, chain=(COUNTY, CITY)))
    await store.open_level("early", 1)
    await store.open_level("late", 1)
    await store.upsert_agent(make_agent(1, unit=COUNTY, idle_since=T0 - 900))
    await store.upsert_agent(make_agent(2, idle_since=T0 - 10))
    await store.upsert_agent(make_agent(3, idle_since=T0 - 20, items=(), depts=(DEPT,)))
    got = await store.route_agent(1, T0 + 20)  # county agent freed: the vip is its own unit's head
    assert got is not None and (got[0].ticket, got[1].agent_id, got[2]) == ("vip", 1, 0)
    assert got[0].state == "offered" and got[1].pending_offers == 1
    await store.upsert_agent(make_agent(1, unit=COUNTY, idle_since=T0 - 900))  # free again
    await store.release("vip", 1, exclude_agent=True)
    got = await store.route_agent(1, T0 + 20)  # early's own township has agents: the longest idle
    assert got is not None and (got[0].ticket, got[1].agent_id, got[2]) == ("early", 3, 0)
    got = await store.route_agent(1, T0 + 20)
    assert got is not None and (got[0].ticket, got[1].agent_id, got[2]) == ("late", 2, 0)
    assert await store.route_agent(1, T0 + 20) is None  # nothing left it may take
    assert await store.route_agent(99, T0 + 20) is None
