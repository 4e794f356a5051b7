"""Positions and the expected wait against hand-computed cases."""

from __future__ import annotations

from dataclasses import replace

from helpdesk_queue.estimate import expected_wait, positions
from helpdesk_queue.events import Offered
from helpdesk_queue.testing import T0, Harness, make_agent, make_entry


def test_expected_wait_hand_computed() -> None:
    # 2 busy single-call agents, last handle times 200 s and 400 s → AHT 300 s; 3rd in line:
    # E[W] = k · AHT / N = 3 · 300 / 2 = 450 s.
    assert expected_wait(3, staffed_slots=2, free_slots=0, handle_times=[200, 400], default_s=300) == 450
    assert expected_wait(1, staffed_slots=2, free_slots=0, handle_times=[200, 400], default_s=300) == 150


def test_expected_wait_edges() -> None:
    assert expected_wait(1, staffed_slots=0, free_slots=0, handle_times=[], default_s=300) is None
    assert expected_wait(1, staffed_slots=3, free_slots=1, handle_times=[], default_s=300) == 0
    # 3 slots, 1 free: the 3rd in line waits for the 2nd departure of 2 busy slots: 2 · 300 / 2
    assert expected_wait(3, staffed_slots=3, free_slots=1, handle_times=[], default_s=300) == 300


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
    assert (status.position, status.expected_wait_s, status.agents_ready) == (3, 450, 0)
    await svc.agent_state(1, "offline")
    await svc.agent_state(2, "offline")
    assert (await svc.status("c")).expected_wait_s is None  # type: ignore[union-attr]
