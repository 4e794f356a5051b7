"""The dispatcher's journey rules, run on both stores with a hand-driven clock."""

from __future__ import annotations

from dataclasses import replace

import pytest
from helpdesk_queue.events import (
    Abandoned,
    AgentStateChanged,
    Connected,
    Offered,
    OfferRevoked,
    PositionsChanged,
)
from helpdesk_queue.models import InvalidState, NotOffered, OfferExpired, UnknownAgent, UnknownTicket
from helpdesk_queue.testing import CITY, COUNTY, T0, Harness, make_agent, make_entry


async def offered_to(h: Harness, agent_id: int) -> list[str]:
    return [e.ticket for e in h.of(Offered) if e.agent_id == agent_id]


async def test_join_with_ready_agent_offers_at_once(harness: Harness) -> None:
    h, svc = harness, harness.service
    await svc.agent_online(make_agent(1))
    h.clear()
    await svc.join(make_entry("a"))
    (offer,) = h.of(Offered)
    assert (offer.ticket, offer.agent_id, offer.expires_at, offer.fallback_level) == ("a", 1, T0 + 20, 0)
    assert h.of(AgentStateChanged)[-1].state == "offered"
    connected = await svc.accept("a", 1)
    assert connected == Connected("a", 1, "wo-a", 0, 0.0, "100:7")
    assert (await svc.store.get_agent(1)).state == "busy"  # type: ignore[union-attr]
    assert await svc.status("a") is None


async def test_decline_keeps_place_ahead_of_later_arrivals(harness: Harness) -> None:
    h, svc = harness, harness.service
    await svc.join(make_entry("first"))
    h.now.advance(10)
    await svc.join(make_entry("second", at=h.now()))
    await svc.agent_online(make_agent(1))
    await svc.agent_online(make_agent(2))
    assert await offered_to(h, 1) == ["first"] and await offered_to(h, 2) == ["second"]
    await svc.decline("first", 1)
    assert h.of(OfferRevoked) == [OfferRevoked("first", 1, "declined")]
    h.clear()
    await svc.accept("second", 2)
    await svc.call_ended(2, 60, "100:7")
    # agent 2 frees up: "first" (older) is offered before a newcomer, enqueued_at unchanged
    await svc.join(make_entry("third", at=h.now()))
    assert await offered_to(h, 2) == ["first"]
    assert (await svc.store.get_entry("first")).enqueued_at == T0  # type: ignore[union-attr]


async def test_timeout_keeps_place_and_counts_a_miss(harness: Harness) -> None:
    h, svc = harness, harness.service
    await svc.agent_online(make_agent(1))
    await svc.join(make_entry("a"))
    await svc.join(make_entry("b", at=T0 + 1))
    h.now.advance(20)
    await svc.tick()
    assert h.of(OfferRevoked) == []  # 20 s is the last second of the countdown
    h.now.advance(1)
    await svc.tick()
    assert h.of(OfferRevoked) == [OfferRevoked("a", 1, "timeout")]
    assert await offered_to(h, 1) == ["a", "b"]  # "a" is not rung at the same agent again
    assert (await svc.store.get_agent(1)).missed_offers == 1  # type: ignore[union-attr]
    await svc.join(make_entry("c", at=h.now()))
    assert (await svc.status("a")).position == 1  # type: ignore[union-attr]
    await svc.agent_online(make_agent(2))
    assert await offered_to(h, 2) == ["a"]  # still ahead of the later "c"


async def test_accept_after_countdown_is_refused(harness: Harness) -> None:
    svc = harness.service
    await svc.agent_online(make_agent(1))
    await svc.join(make_entry("a"))
    harness.now.advance(21)
    with pytest.raises(OfferExpired):
        await svc.accept("a", 1)
    assert harness.of(OfferRevoked) == [OfferRevoked("a", 1, "timeout")]


async def test_only_offered_agent_may_accept(harness: Harness) -> None:
    svc = harness.service
    await svc.agent_online(make_agent(1))
    await svc.join(make_entry("a"))
    await svc.agent_online(make_agent(2))
    with pytest.raises(NotOffered) as err:
        await svc.accept("a", 2)
    assert err.value.status_code == 409 and err.value.code == "conflict"
    with pytest.raises(NotOffered):
        await svc.decline("a", 2)
    with pytest.raises(UnknownTicket):
        await svc.accept("nope", 1)
    assert (await svc.accept("a", 1)).agent_id == 1


async def test_missing_k_offers_sends_agent_away(harness: Harness) -> None:
    h, svc = harness, harness.service
    await svc.agent_online(make_agent(1))
    await svc.join(make_entry("a"))
    await svc.join(make_entry("b", at=T0 + 1))
    await svc.decline("a", 1)
    assert (await svc.store.get_agent(1)).state == "offered"  # type: ignore[union-attr]
    h.now.advance(21)
    await svc.tick()  # second miss in a row: away, nothing more rings
    agent = await svc.store.get_agent(1)
    assert agent is not None and (agent.state, agent.missed_offers) == ("away", 2)
    assert h.of(AgentStateChanged)[-1].state == "away"
    assert [e.state for e in await svc.store.list_waiting()] == ["waiting", "waiting"]
    await svc.agent_state(1, "ready")  # back: the count restarts
    assert (await svc.store.get_agent(1)).missed_offers == 0  # type: ignore[union-attr]


async def test_priority_applicant_first(harness: Harness) -> None:
    svc = harness.service
    await svc.join(make_entry("plain"))
    await svc.join(make_entry("returning", at=T0 + 30, priority=1))
    await svc.agent_online(make_agent(1))
    assert await offered_to(harness, 1) == ["returning"]


async def test_longest_idle_agent_chosen(harness: Harness) -> None:
    svc = harness.service
    await svc.agent_online(make_agent(1))
    harness.now.advance(5)
    await svc.agent_online(make_agent(2))
    await svc.join(make_entry("a", at=harness.now()))
    assert await offered_to(harness, 1) == ["a"]


async def test_fallback_to_county_then_city_is_recorded(harness: Harness) -> None:
    h, svc = harness, harness.service
    svc.settings = replace(svc.settings, presence_ttl_s=10_000)
    await svc.agent_online(make_agent(1, unit=CITY))
    await svc.join(make_entry("a"))
    h.now.advance(119)
    await svc.tick()
    assert h.of(Offered) == []
    assert (await svc.status("a")).fallback_level == 0  # type: ignore[union-attr]
    h.now.advance(1)
    await svc.tick()
    assert h.of(Offered) == [] and (await svc.status("a")).fallback_level == 1  # type: ignore[union-attr]
    await svc.agent_online(make_agent(2, unit=COUNTY))
    assert [(e.agent_id, e.fallback_level) for e in h.of(Offered)] == [(2, 1)]
    await svc.decline("a", 2)
    h.now.advance(120)
    await svc.tick()
    assert [(e.agent_id, e.fallback_level) for e in h.of(Offered)][-1] == (1, 2)
    assert (await svc.accept("a", 1)).fallback_level == 2


async def test_capacity_two_takes_two_calls(harness: Harness) -> None:
    svc = harness.service
    await svc.agent_online(make_agent(1, capacity=2))
    for i in range(3):
        await svc.join(make_entry(f"e{i}", at=T0 + i))
    assert await offered_to(harness, 1) == ["e0", "e1"]
    await svc.accept("e0", 1)
    await svc.accept("e1", 1)
    agent = await svc.store.get_agent(1)
    assert agent is not None and (agent.state, agent.active_calls) == ("busy", 2)
    await svc.call_ended(1, 100, "100:7")
    assert await offered_to(harness, 1) == ["e0", "e1", "e2"]


async def test_abandonment_records_wait(harness: Harness) -> None:
    h, svc = harness, harness.service
    await svc.join(make_entry("a"))
    h.now.advance(42.5)
    assert await svc.leave("a") == Abandoned("a", "wo-a", 42.5)
    assert h.of(Abandoned) == [Abandoned("a", "wo-a", 42.5)]
    assert await svc.leave("a") is None


async def test_leave_while_ringing_revokes_offer(harness: Harness) -> None:
    svc = harness.service
    await svc.agent_online(make_agent(1))
    await svc.join(make_entry("a"))
    await svc.leave("a")
    assert harness.of(OfferRevoked) == [OfferRevoked("a", 1, "left")]
    agent = await svc.store.get_agent(1)
    assert agent is not None and (agent.state, agent.pending_offers, agent.missed_offers) == ("ready", 0, 0)


async def test_going_away_withdraws_offer_without_a_miss(harness: Harness) -> None:
    svc = harness.service
    await svc.agent_online(make_agent(1))
    await svc.join(make_entry("a"))
    await svc.agent_state(1, "away")
    assert harness.of(OfferRevoked) == [OfferRevoked("a", 1, "taken")]
    await svc.agent_state(1, "ready")
    assert [e.agent_id for e in harness.of(Offered)] == [1, 1]  # not barred: it was no miss


async def test_positions_emitted_on_changes(harness: Harness) -> None:
    h, svc = harness, harness.service
    await svc.join(make_entry("a"))
    await svc.join(make_entry("b", at=T0 + 1))
    assert h.of(PositionsChanged)[-1].lines == ("100:7",)  # positions go by line
    versions = await svc.store.line_versions(["100:7", "101:7"])
    assert versions["100:7"] >= 2 and versions["101:7"] == 0
    assert (await svc.status("b")).position == 2  # type: ignore[union-attr]
    h.clear()
    await svc.leave("a")
    assert h.of(PositionsChanged) == [PositionsChanged((), ("100:7",))]
    assert (await svc.store.line_versions(["100:7"]))["100:7"] > versions["100:7"]
    assert (await svc.status("b")).position == 1  # type: ignore[union-attr]


async def test_presence_expiry_takes_agent_offline(harness: Harness) -> None:
    h, svc = harness, harness.service
    await svc.agent_online(make_agent(1))
    await svc.agent_online(make_agent(2))
    await svc.join(make_entry("a"))
    h.now.advance(30)
    assert await svc.heartbeat(2)
    h.now.advance(20)  # agent 1: 50 s without a heartbeat > 45 s TTL
    await svc.tick()
    assert (await svc.store.get_agent(1)).state == "offline"  # type: ignore[union-attr]
    assert OfferRevoked("a", 1, "taken") in h.of(OfferRevoked)
    assert await offered_to(h, 2) == ["a"]


async def test_wrapup_then_ready(harness: Harness) -> None:
    svc = harness.service
    svc.settings = replace(svc.settings, wrapup_s=30)
    await svc.agent_online(make_agent(1))
    await svc.join(make_entry("a"))
    await svc.accept("a", 1)
    await svc.join(make_entry("b"))
    await svc.call_ended(1, 90, "100:7")
    assert (await svc.store.get_agent(1)).state == "wrap_up"  # type: ignore[union-attr]
    harness.now.advance(30)
    await svc.tick()
    assert await offered_to(harness, 1) == ["a", "b"]
    assert await svc.store.handle_times("100:7") == [90]


async def test_console_reconnect_mid_call_keeps_the_call(harness: Harness) -> None:
    svc = harness.service
    await svc.agent_online(make_agent(1, capacity=2))
    await svc.join(make_entry("a"))
    await svc.accept("a", 1)
    again = await svc.agent_online(make_agent(1, capacity=2), "busy")
    assert (again.state, again.active_calls) == ("busy", 1)
    fresh = await svc.agent_online(make_agent(2), "busy")  # unknown before: simply ready
    assert fresh.state == "ready"


async def test_bad_agent_requests_are_queue_errors(harness: Harness) -> None:
    svc = harness.service
    with pytest.raises(UnknownAgent):
        await svc.agent_state(9, "ready")
    await svc.agent_online(make_agent(1))
    with pytest.raises(InvalidState) as err:
        await svc.agent_state(1, "busy")
    assert err.value.status_code == 400
    with pytest.raises(UnknownAgent):
        await svc.call_ended(9, 10, "100:7")
    assert not await svc.heartbeat(9)
