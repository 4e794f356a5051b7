"""One routing pass (plan, reserve, claim) and the bookkeeping every dispatcher operation shares."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial

from helpdesk_queue import agents as rules
from helpdesk_queue.events import AgentStateChanged, Offered, PositionsChanged, QueueEvent
from helpdesk_queue.models import AgentPresence, QueueSettings, WaitingEntry
from helpdesk_queue.routing import plan
from helpdesk_queue.store import QueueStore

log = logging.getLogger(__name__)


@dataclass
class Batch:
    """What one operation changed: events to emit, lines whose positions moved, agents touched."""

    events: list[QueueEvent] = field(default_factory=list)
    lines: set[str] = field(default_factory=set)
    agents: set[int] = field(default_factory=set)


async def route(
    store: QueueStore, settings: QueueSettings, now: float, batch: Batch, rounds: int = 4
) -> None:
    """Plan on a snapshot, then make each offer real with the store's atomic reserve and claim.

    Another process may win either race; the loser undoes its reservation and plans again on a
    fresh snapshot (a few rounds at most), so an applicant is never offered twice, an agent never
    rings beyond capacity, and a lost race leaves no free agent idle while someone waits.
    """
    for _ in range(rounds):
        if not await _route_once(store, settings, now, batch):
            return


async def _route_once(store: QueueStore, settings: QueueSettings, now: float, batch: Batch) -> bool:
    """One plan-and-offer round; True when a race was lost (the snapshot was stale)."""
    agents = await store.list_agents()
    if not any(a.routable for a in agents):
        return False  # nobody can take a call: skip reading the queue
    entries = await store.list_waiting()
    by_ticket = {e.ticket: e for e in entries}
    cancel = partial(rules.settle_offer, outcome="cancelled", missed_limit=settings.missed_offers_before_away)
    lost = False
    for a in plan(entries, agents, now, settings.fallback_after_s):
        if not await store.reserve_agent(a.agent_id):
            lost = True
            continue
        expires_at = now + settings.offer_timeout_s
        if not await store.claim(a.ticket, a.agent_id, a.fallback_level, expires_at):
            await store.update_agent(a.agent_id, cancel)
            lost = True
            continue
        entry = by_ticket[a.ticket]
        waited = now - entry.enqueued_at
        log.info("offer: ticket %s (work order %s) to agent %s, level %s", a.ticket, entry.work_order_id,
                 a.agent_id, a.fallback_level)  # fmt: skip
        batch.events.append(
            Offered(
                a.ticket,
                a.agent_id,
                entry.work_order_id,
                expires_at,
                a.fallback_level,
                entry.priority,
                waited,
            )
        )
        batch.lines.add(entry.line)
        batch.agents.add(a.agent_id)
    return lost


async def finish(store: QueueStore, batch: Batch) -> None:
    """Append the agents' new states and one PositionsChanged for every affected line."""
    for agent_id in sorted(batch.agents):
        agent = await store.get_agent(agent_id)
        if agent is not None:
            batch.events.append(
                AgentStateChanged(
                    agent_id, agent.state, agent.active_calls, agent.capacity, agent.missed_offers
                )
            )
    if batch.lines:
        tickets: list[str] = []
        for line in sorted(batch.lines):
            tickets += [e.ticket for e in await store.list_waiting(line)]
        batch.events.append(PositionsChanged(tuple(tickets), tuple(sorted(batch.lines))))


async def repair_leaks(
    store: QueueStore, entries: Sequence[WaitingEntry], agents: Sequence[AgentPresence], suspects: set[int]
) -> set[int]:
    """Free ringing slots without an offer once seen on two ticks running; returns new suspects.

    A slot is reserved a moment before its claim, so one sighting may be a pass in flight; two
    sightings a tick apart mean the reserving process died in between.
    """
    offers = Counter(e.offered_to for e in entries if e.state == "offered")
    seen = {a.agent_id for a in agents if a.pending_offers > offers[a.agent_id]}
    for agent_id in seen & suspects:
        count = offers[agent_id]
        log.warning("agent %s held a ringing slot without an offer; freeing it", agent_id)
        await store.update_agent(agent_id, partial(rules.drop_leaked, offers=count))
    return seen - suspects
