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
from helpdesk_queue.routing import agent_rank, plan
from helpdesk_queue.store import QueueStore

log = logging.getLogger(__name__)


@dataclass
class Batch:
    """What one operation changed: events to emit, lines whose positions moved, agents touched;
    for routing by index also the agents that may have a free slot now, the entries that became
    routable (ticket → the entry, or None to read it) and the agents as last seen."""

    events: list[QueueEvent] = field(default_factory=list)
    lines: set[str] = field(default_factory=set)
    agents: set[int] = field(default_factory=set)
    freed: set[int] = field(default_factory=set)
    waiting: dict[str, WaitingEntry | None] = field(default_factory=dict)
    seen: dict[int, AgentPresence] = field(default_factory=dict)
    joined: dict[str, str] = field(default_factory=dict)  # ticket → line of entries queued now

    def agent(self, agent: AgentPresence | None) -> None:
        """Note an agent's new presence: touched, and a routing candidate when it has a free slot."""
        if agent is not None:
            self.agents.add(agent.agent_id)
            self.seen[agent.agent_id] = agent
            if agent.routable:
                self.freed.add(agent.agent_id)


async def route(
    store: QueueStore, settings: QueueSettings, now: float, batch: Batch, rounds: int = 4
) -> None:
    """Plan on a snapshot, then make each offer real with the store's atomic reserve and claim.

    Another process may win either race; the loser undoes its reservation and plans again on a
    fresh snapshot (a few rounds at most), so an applicant is never offered twice, an agent never
    rings beyond capacity, and a lost race leaves no free agent idle while someone waits.
    """
    batch.seen.clear()  # reservations below change agents behind the batch's back
    for _ in range(rounds):
        if not await _route_once(store, settings, now, batch):
            return


async def route_indexed(store: QueueStore, settings: QueueSettings, now: float, batch: Batch) -> None:
    """Route only what this change touched: the heads of the lines the freed agents serve, and the
    entries that became routable, each looking only at the agent sets of its opened levels.

    Why this equals the full scan (plan_naive) on the same state: between changes no free agent
    is eligible for a waiting entry (each change routes to the end), so only the touched entries
    and entries a freed agent may serve can be offered now; taking them in queue order and giving
    each the best agent of its nearest level is the scan's rule. A freed agent can take no more
    entries than the freed slots together, hence that many heads per set suffice.
    """
    if len(batch.freed) == 1 and not batch.waiting:  # an agent turned free: the pairing path
        await _route_freed_agent(store, settings, now, batch, next(iter(batch.freed)))
        return
    agents, heads = await store.heads_for_agents(sorted(batch.freed))
    free = {a.agent_id: a.free for a in agents if a.routable}
    touched: dict[str, WaitingEntry] = {}
    for ticket, known in batch.waiting.items():
        entry = known or await store.get_entry(ticket)
        if entry is not None:
            touched[ticket] = entry
    candidates = {e.ticket: e for e in heads} | touched
    for entry in sorted(candidates.values(), key=WaitingEntry.sort_key):
        if entry.state != "waiting":
            continue
        if entry.ticket not in touched and not any(n > 0 for n in free.values()):
            continue  # only a freed agent could take it, and they are all full
        for _ in range(3):  # another process may take the entry or fill the agent meanwhile
            options = await store.agents_for_entry(entry)
            if not options:
                break
            level, agent = min(options, key=lambda o: agent_rank(o[1]))
            expires_at = now + settings.offer_timeout_s
            got = await store.offer(entry.ticket, agent.agent_id, level, expires_at)
            if got is None:
                fresh = await store.get_entry(entry.ticket)
                if fresh is None or fresh.state != "waiting":
                    break
                entry = fresh
                continue
            if agent.agent_id in free:
                free[agent.agent_id] = got.free
            batch.seen[agent.agent_id] = got
            _offered(entry, agent.agent_id, level, expires_at, now, batch)
            break


async def _route_freed_agent(
    store: QueueStore, settings: QueueSettings, now: float, batch: Batch, agent_id: int
) -> None:
    """route_indexed for one freed agent: one store call per offer (one script on Redis)."""
    for _ in range(64):  # bounded: at most one offer per free slot of this agent, plus the others'
        got = await store.route_agent(agent_id, now + settings.offer_timeout_s)
        if got is None:
            return
        entry, agent, level = got
        batch.seen[agent.agent_id] = agent
        _offered(entry, agent.agent_id, level, now + settings.offer_timeout_s, now, batch)
        if agent.agent_id == agent_id and not agent.routable:
            return


async def route_one(
    store: QueueStore, agent_id: int, expires_at: float
) -> tuple[WaitingEntry, AgentPresence, int] | None:
    """The rule behind QueueStore.route_agent, on the store's primitive reads (memory backend)."""
    agents, heads = await store.heads_for_agents([agent_id])
    if not agents or not agents[0].routable:
        return None
    for entry in sorted(heads, key=WaitingEntry.sort_key):
        options = await store.agents_for_entry(entry)
        if not options:
            continue
        level, agent = min(options, key=lambda o: agent_rank(o[1]))
        chosen = await store.offer(entry.ticket, agent.agent_id, level, expires_at)
        if chosen is not None:
            entry.state, entry.offered_to, entry.fallback_level = "offered", agent.agent_id, level
            entry.offer_expires_at = expires_at
            return entry, chosen, level
    return None


def _offered(entry: WaitingEntry, agent_id: int, level: int, expires_at: float, now: float, batch: Batch) -> None:
    log.info("offer: ticket %s (work order %s) to agent %s, level %s", entry.ticket, entry.work_order_id,
             agent_id, level)  # fmt: skip
    batch.events.append(
        Offered(entry.ticket, agent_id, entry.work_order_id, expires_at, level, entry.priority, now - entry.enqueued_at)
    )
    batch.lines.add(entry.line)
    batch.agents.add(agent_id)


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
        batch.seen.pop(a.agent_id, None)
        _offered(by_ticket[a.ticket], a.agent_id, a.fallback_level, expires_at, now, batch)
    return lost


async def finish(store: QueueStore, batch: Batch, by_line: bool = True) -> None:
    """Append the agents' new states and one PositionsChanged for the affected lines: by line
    (`tickets` empty; applicants' sockets read their line when its version moves) or, in scan
    mode, with every queued ticket of those lines."""
    for agent_id in sorted(batch.agents):
        agent = batch.seen.get(agent_id) or await store.get_agent(agent_id)
        if agent is not None:
            batch.events.append(
                AgentStateChanged(
                    agent_id, agent.state, agent.active_calls, agent.capacity, agent.missed_offers
                )
            )
    if batch.lines:
        tickets: list[str] = []
        for line in sorted(batch.lines) if not by_line else ():
            tickets += [e.ticket for e in await store.list_waiting(line)]
        joined = tuple(sorted(batch.joined.items()))
        batch.events.append(PositionsChanged(tuple(tickets), tuple(sorted(batch.lines)), joined))


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
