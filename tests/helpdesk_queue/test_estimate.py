"""Positions and the expected wait against hand-computed cases."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from helpdesk_queue.estimate import (
    SPREAD,
    LineModel,
    Seed,
    build_statuses,
    expected_wait,
    head_range,
    line_model,
    positions,
    wait_range,
    wrapup_key,
)
from helpdesk_queue.events import Offered
from helpdesk_queue.head import Slots, head_waits
from helpdesk_queue.models import QueueSettings, WaitingEntry
from helpdesk_queue.testing import T0, TOWN, Harness, make_agent, make_entry


def test_expected_wait_hand_computed() -> None:
    # 2 busy single-call agents, last handle times 200 s and 400 s, no history: occupied 300 s (the
    # 300 s default weighs as one call), cv 1 (too few calls to measure). 3rd in line: departures every
    # 300/2 = 150 s, the first after (1 + c²)/2 · 150 = 150 s, so the mean is 3 · 150 = 450 s with
    # variance SPREAD · 150² · (1 + 2) · c² (SPREAD: calibrated); shown is the median of the gamma with
    # that mean and variance (shape k = 3 / SPREAD), by Wilson-Hilferty: 450 · (1 − 1/(9k))³.
    shown = expected_wait(3, staffed_slots=2, free_slots=0, handle_times=[200, 400], default_s=300)
    k = 3 / SPREAD
    assert shown == pytest.approx(450 * (1 - 1 / (9 * k)) ** 3)
    first = expected_wait(1, staffed_slots=2, free_slots=0, handle_times=[200, 400], default_s=300)
    assert first == pytest.approx(150 * (1 - SPREAD / 9) ** 3)


def test_expected_wait_edges() -> None:
    assert expected_wait(1, staffed_slots=0, free_slots=0, handle_times=[], default_s=300) is None
    assert expected_wait(1, staffed_slots=3, free_slots=1, handle_times=[], default_s=300) == 0
    # 3 slots, 1 free: the 3rd in line waits for the 2nd departure, with all 3 slots busy by then
    # (the old formula divided by the 2 busy slots only, which overestimated with few agents).
    two_busy = expected_wait(3, staffed_slots=3, free_slots=1, handle_times=[], default_s=300)
    assert two_busy == pytest.approx(expected_wait(2, staffed_slots=3, free_slots=0, handle_times=[], default_s=300))
    assert two_busy is not None and two_busy < 300


def test_range_holds_for_about_80_percent() -> None:
    """Exponential calls (cv 1): with every slot busy, departures are Poisson and the wait of the
    k-th in line is Gamma(k, occupied/N). The range from wait_range covers ~80 % of such waits (a
    little less: SPREAD is calibrated on calls as regular as real ones, CV 0.8)."""
    rng = random.Random(3)
    model = LineModel(occupied_s=600, cv=1.0, abandon=0.0, calls=10_000)  # the mean is well known
    for position, staffed in ((1, 3), (4, 3), (12, 10), (40, 30)):
        point, low, high = wait_range(position, staffed, 0, model)  # type: ignore[misc]
        waits = [rng.gammavariate(position, 600 / staffed) for _ in range(20_000)]
        covered = sum(low <= w <= high for w in waits) / len(waits)
        assert 0.70 <= covered <= 0.84, (position, staffed, covered)
        assert low < point < high
        below = sum(w <= point for w in waits) / len(waits)
        assert 0.45 <= below <= 0.58, (position, below)  # the point shown is about the median
    assert wait_range(2, 3, 2, model) == (0.0, 0.0, 0.0)  # a free slot for them: no wait
    assert wait_range(1, 0, 0, model) is None


def test_people_ahead_who_give_up_shorten_the_wait() -> None:
    calm = LineModel(600, 1.0, 0.0, 100)
    leaving = replace(calm, abandon=0.3)
    assert wait_range(10, 3, 0, leaving)[0] < wait_range(10, 3, 0, calm)[0]  # type: ignore[index]
    assert wait_range(1, 3, 0, leaving) == wait_range(1, 3, 0, calm)  # nobody ahead to leave


async def test_history_seeds_the_estimate_before_any_call_today(harness: Harness) -> None:
    """No call has ended today: the line's history for this weekday and hour sets the occupied time,
    not the 300 s default (which made mornings 25-55 % too short)."""
    svc = harness.service
    svc.settings = replace(svc.settings, presence_ttl_s=10_000)
    seen: list[str] = []

    def history(entry: WaitingEntry) -> Seed:
        seen.append(entry.line)
        return Seed(occupied_s=900, cv=0.8, calls=120, abandon_share=0.0)

    svc.history = history
    await svc.agent_online(make_agent(1))
    await svc.join(make_entry("x"))
    await svc.accept("x", 1)
    await svc.join(make_entry("y", at=T0 + 1))
    status = await svc.status("y")
    assert status is not None and seen == ["100:7"]
    # The one agent's call has just begun: all of it is still to come, a 900 s call with CV 0.8
    # whose median is 900 / √(1 + 0.8²) ≈ 703 s (the head's draws, head.py).
    assert status.expected_wait_s is not None and 600 < status.expected_wait_s < 820
    svc.history = None
    unseeded = await svc.status("y")
    assert unseeded is not None and unseeded.expected_wait_s is not None
    assert unseeded.expected_wait_s < status.expected_wait_s / 2


async def test_wrapup_counts_as_agent_occupied_time(harness: Harness) -> None:
    """An agent wrapping up takes no call: its wrap-up time is recorded when it ends (going ready, or
    at wrapup_s) and the estimate counts it on top of the talk time."""
    svc = harness.service
    svc.settings = replace(svc.settings, presence_ttl_s=10_000, wrapup_s=120)
    await svc.agent_online(make_agent(1))
    for n in range(4):
        await svc.join(make_entry(f"c{n}", at=harness.now.t))
        await svc.accept(f"c{n}", 1)
        harness.now.advance(300)
        await svc.call_ended(1, 300, "100:7")
        harness.now.advance(90 if n < 3 else 200)  # the last wrap-up runs into the 120 s bound
        if n < 3:
            await svc.agent_state(1, "ready")
        else:
            await svc.tick()
    assert await svc.store.handle_times(wrapup_key(TOWN)) == [90, 90, 90, 120]
    await svc.join(make_entry("z", at=harness.now.t))
    await svc.accept("z", 1)
    await svc.join(make_entry("w", at=harness.now.t + 1))
    status = await svc.status("w")
    model = line_model([300] * 4, [90, 90, 90, 120], None, 300)
    assert model.occupied_s == pytest.approx((300 + 4 * (300 + 97.5)) / 5)
    # The agent's call has just begun: the head's draws are a whole call, then its wrap-up.
    assert status is not None and status.expected_wait_s == round(head_point(model, [0.0], [90, 90, 90, 120], 1))
    talk_only = head_point(line_model([300] * 4, [], None, 300), [0.0], [], 1)
    assert status.expected_wait_s > talk_only * 1.2


async def test_a_call_well_under_way_frees_its_agent_sooner(harness: Harness) -> None:
    """The head's draws know how long each busy call has run (AgentPresence.call_since, set by the
    accept in both stores): 500 s into a call on a line whose calls take about 600 s, the next
    applicant waits far less than behind a call that has just begun (the renewal model alone showed
    the same wait both times)."""
    svc = harness.service
    svc.settings = replace(svc.settings, presence_ttl_s=10_000)
    svc.history = lambda entry: Seed(occupied_s=600, cv=0.5, calls=300, abandon_share=0.0)
    await svc.agent_online(make_agent(1))
    await svc.join(make_entry("x"))
    await svc.accept("x", 1)
    agent = await svc.store.get_agent(1)
    assert agent is not None and agent.call_since == harness.now.t
    await svc.join(make_entry("y", at=T0 + 1))
    fresh = (await svc.status("y")).expected_wait_s  # type: ignore[union-attr]
    harness.now.advance(500)
    await svc.agent_online(make_agent(1), "busy")  # a console reconnecting keeps the call's start
    under_way = (await svc.status("y")).expected_wait_s  # type: ignore[union-attr]
    assert fresh is not None and under_way is not None
    assert fresh > 450 and under_way < 0.5 * fresh
    await svc.call_ended(1, 500, "100:7")
    agent = await svc.store.get_agent(1)
    assert agent is not None and agent.call_since is None


def head_point(model: LineModel, talking: list[float], wraps: list[float], place: int) -> float:
    wrap = sum(wraps) / len(wraps) if wraps else 0.0
    talk = model.occupied_s - wrap
    drawn = head_waits(Slots(talking=talking), place, talk, model.cv * model.occupied_s / talk, wraps, 1.0)
    return head_range(drawn[place - 1])[0]


def test_positions_per_line_skip_offered() -> None:
    a, b = make_entry("a"), make_entry("b", at=T0 + 1)
    other = make_entry("x", at=T0 + 2, item=8)
    a.state = "offered"
    assert positions([other, b, a]) == {"a": 1, "b": 1, "x": 1}
    c = make_entry("c", at=T0 + 3)
    assert positions([a, b, c, other])["c"] == 2


async def test_status_uses_line_aht_and_staffed_agents(harness: Harness) -> None:
    svc = harness.service
    svc.settings = replace(svc.settings, presence_ttl_s=10_000)
    await svc.agent_online(make_agent(1))
    await svc.agent_online(make_agent(2))
    for t in ("x", "y"):
        await svc.join(make_entry(t))
        await svc.accept(t, next(e.agent_id for e in harness.of(Offered) if e.ticket == t))
    await svc.store.add_handle_time("100:7", 200, keep=50)
    await svc.store.add_handle_time("100:7", 400, keep=50)
    for i, t in enumerate("abc"):
        await svc.join(make_entry(t, at=T0 + 1 + i))
    status = await svc.status("c")
    assert status is not None
    assert (status.position, status.agents_ready) == (3, 0)
    # Both calls began just now: the head's draws for the 3rd place (head.py).
    model = line_model([200, 400], [], None, 300)
    assert status.expected_wait_s == round(head_point(model, [0.0, 0.0], [], 3))
    assert status.expected_wait_low_s is not None and status.expected_wait_high_s is not None
    assert status.expected_wait_low_s < status.expected_wait_s < status.expected_wait_high_s
    await svc.agent_state(1, "offline")
    await svc.agent_state(2, "offline")
    assert (await svc.status("c")).expected_wait_s is None  # type: ignore[union-attr]


def test_a_pinned_entry_counts_only_its_colleague_beside_an_unpinned_one() -> None:
    """Entries alike share one staffing count in build_statuses; a warm transfer's pin makes an entry
    unlike the others of its line (only the named colleague may take it)."""
    plain, pinned = make_entry("a"), make_entry("b", at=T0 + 1)
    pinned.pinned_agent = 2
    agents = [make_agent(1), make_agent(2)]
    out = build_statuses(["a", "b"], [plain, pinned], agents, {}, T0 + 5, QueueSettings())
    assert (out["a"].agents_ready, out["b"].agents_ready) == (2, 1)


def test_staffing_kept_with_the_same_agents_is_not_worked_out_again(monkeypatch: pytest.MonkeyPatch) -> None:
    import helpdesk_queue.estimate as estimate

    calls: list[str] = []
    real = estimate.staffing

    def counted(entry: WaitingEntry, *args: object) -> tuple[int, int, int]:
        calls.append(entry.ticket)
        return real(entry, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(estimate, "staffing", counted)
    entries = [make_entry(t, at=T0 + i) for i, t in enumerate("abc")]
    agents, kept = [make_agent(1), make_agent(2, state="in_call")], {}
    first = build_statuses("abc", entries, agents, {}, T0 + 5, QueueSettings(), staffed=kept)
    assert calls == ["a"] and len(kept) == 1  # alike: one count for the three
    again = build_statuses("abc", entries, agents, {}, T0 + 6, QueueSettings(), staffed=kept)
    assert calls == ["a"]  # the same agents: the kept count
    assert again["b"].position == first["b"].position == 2 and again["b"].agents_ready == 1
    build_statuses("abc", entries, agents, {}, T0 + 6, QueueSettings())
    assert calls == ["a", "a"]  # nothing kept: worked out afresh
