"""plan(): priority, longest wait, longest idle, fallback levels, capacity; checked against a scan."""

from __future__ import annotations

import random

from helpdesk_queue.models import AgentPresence, Assignment, WaitingEntry
from helpdesk_queue.routing import eligible_level, plan, plan_naive, reachable_level
from helpdesk_queue.testing import CITY, COUNTY, DEPT, ITEM, OTHER_TOWN, T0, TOWN, make_agent, make_entry

FB = 120.0


def test_longest_waiting_goes_to_longest_idle() -> None:
    entries = [make_entry("late", at=T0 + 5), make_entry("early", at=T0)]
    agents = [make_agent(1, idle_since=T0 - 10), make_agent(2, idle_since=T0 - 60)]
    assert plan(entries, agents, T0 + 10, FB) == [Assignment("early", 2, 0), Assignment("late", 1, 0)]


def test_priority_first() -> None:
    entries = [make_entry("old", at=T0), make_entry("vip", at=T0 + 30, priority=5)]
    assert plan(entries, [make_agent(1)], T0 + 31, FB) == [Assignment("vip", 1, 0)]


def test_ties_break_on_ticket() -> None:
    entries = [make_entry("b"), make_entry("a")]
    assert plan(entries, [make_agent(1)], T0, FB) == [Assignment("a", 1, 0)]


def test_fallback_township_county_city() -> None:
    entry = make_entry("t")
    county, city = make_agent(1, unit=COUNTY), make_agent(2, unit=CITY)
    assert plan([entry], [county, city], T0 + 119, FB) == []
    assert plan([entry], [county, city], T0 + 120, FB) == [Assignment("t", 1, 1)]
    assert plan([entry], [city], T0 + 239, FB) == []
    assert plan([entry], [city], T0 + 240, FB) == [Assignment("t", 2, 2)]
    assert reachable_level(entry, T0 + 10_000, FB) == 2  # never beyond the city


def test_own_unit_preferred_after_fallback() -> None:
    agents = [make_agent(1, unit=COUNTY, idle_since=T0 - 999), make_agent(2, unit=TOWN)]
    assert plan([make_entry("t")], agents, T0 + 300, FB) == [Assignment("t", 2, 0)]


def test_other_township_never_eligible() -> None:
    assert plan([make_entry("t")], [make_agent(1, unit=OTHER_TOWN)], T0 + 10_000, FB) == []


def test_department_skill_counts() -> None:
    agent = make_agent(1, items=(), depts=(DEPT,))
    assert eligible_level(make_entry("t"), agent, T0, FB) == 0
    assert eligible_level(make_entry("t", item=ITEM + 1, dept=DEPT + 1), agent, T0, FB) is None


def test_capacity_two_takes_two() -> None:
    entries = [make_entry(f"e{i}", at=T0 + i) for i in range(3)]
    got = plan(entries, [make_agent(1, capacity=2)], T0 + 10, FB)
    assert got == [Assignment("e0", 1, 0), Assignment("e1", 1, 0)]


def test_loaded_agent_comes_after_free_ones() -> None:
    entries = [make_entry("a"), make_entry("b", at=T0 + 1)]
    two = make_agent(1, capacity=2, idle_since=T0 - 100)
    got = plan(entries, [two, make_agent(2, idle_since=T0 - 1)], T0 + 5, FB)
    assert got == [Assignment("a", 1, 0), Assignment("b", 2, 0)]


def test_not_ready_or_full_agents_skipped() -> None:
    away, busy = make_agent(1, state="away"), make_agent(2, state="busy")
    busy.active_calls = 1
    assert plan([make_entry("t")], [away, busy], T0, FB) == []


def test_declined_agent_not_offered_again() -> None:
    entry = make_entry("t")
    entry.declined_by = [1]
    agents = [make_agent(1, idle_since=T0 - 100), make_agent(2)]
    assert plan([entry, make_entry("u", at=T0 + 1)], agents, T0, FB) == [
        Assignment("t", 2, 0),
        Assignment("u", 1, 0),
    ]


def test_indexed_plan_matches_naive_scan() -> None:
    """The heap-indexed plan must take exactly the decisions of the plain scan."""
    rng = random.Random(7)
    units = [TOWN, OTHER_TOWN, COUNTY, CITY]
    for _ in range(200):
        entries = [
            WaitingEntry(
                f"t{i}",
                f"w{i}",
                [rng.choice([TOWN, OTHER_TOWN]), COUNTY, CITY],
                rng.randint(1, 4),
                rng.randint(1, 2),
                priority=rng.choice([0, 0, 1]),
                enqueued_at=T0 - rng.randint(0, 400),
                state=rng.choice(["waiting", "waiting", "offered"]),
                declined_by=rng.sample(range(12), rng.randint(0, 2)),
            )
            for i in range(rng.randint(0, 30))
        ]
        agents = [
            AgentPresence(
                a,
                rng.choice(units),
                set(rng.sample(range(1, 5), rng.randint(0, 2))),
                set(rng.sample([1, 2], rng.randint(0, 1))),
                capacity=rng.randint(1, 3),
                active_calls=rng.randint(0, 1),
                state=rng.choice(["ready", "busy", "away"]),
                idle_since=T0 - rng.randint(0, 50),
            )
            for a in range(rng.randint(0, 12))
        ]
        assert plan(entries, agents, T0, FB) == plan_naive(entries, agents, T0, FB)


def test_a_pinned_entry_goes_only_to_its_named_agent() -> None:
    """A warm transfer to a named colleague: that agent (skilled or not, whatever the wait) and nobody
    else; once they decline, the pin lapses and the entry is routed like any other."""
    entry = make_entry("t", chain=(CITY,))
    entry.pinned_agent = 2
    longest_idle = make_agent(1, unit=CITY, idle_since=T0 - 600)
    named = make_agent(2, unit=CITY, items=(), idle_since=T0)
    for planner in (plan, plan_naive):
        assert planner([entry], [longest_idle, named], T0, FB) == [Assignment("t", 2, 0)]
        assert planner([entry], [longest_idle], T0, FB) == []  # the named agent is away: the entry waits
    entry.declined_by.append(2)
    for planner in (plan, plan_naive):
        assert planner([entry], [longest_idle, named], T0, FB) == [Assignment("t", 1, 0)]


def test_pins_and_plain_entries_share_agents_fairly() -> None:
    """Transfers come in at the front (priority); the others keep the usual order on the other agents."""
    pinned, plain = make_entry("p", chain=(CITY,), at=T0 + 5, priority=900), make_entry("a", chain=(CITY,), at=T0)
    pinned.pinned_agent = 1
    agents = [make_agent(1, unit=CITY, idle_since=T0 - 60), make_agent(2, unit=CITY, idle_since=T0)]
    expected = [Assignment("a", 2, 0), Assignment("p", 1, 0)]
    assert sorted(plan([pinned, plain], agents, T0 + 10, FB), key=str) == sorted(expected, key=str)
    assert sorted(plan_naive([pinned, plain], agents, T0 + 10, FB), key=str) == sorted(expected, key=str)
