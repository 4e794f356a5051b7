"""The dispatcher: one per process; routes on every change, `tick()` handles the passage of time.

An asyncio.Lock serialises this process's changes; the store's atomic claim and agent reservation
keep several processes from offering one applicant twice or overfilling an agent. Events are
collected under the lock and emitted after it is released, so a sink may call back in.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from functools import partial
from typing import TypeVar

from helpdesk_queue import agents as rules
from helpdesk_queue.dispatch import Batch as _Batch
from helpdesk_queue.dispatch import finish, repair_leaks, route, route_indexed
from helpdesk_queue.estimate import HistorySource, wrapup_key
from helpdesk_queue.events import (
    Abandoned,
    Connected,
    EventSink,
    Offered,
    OfferRevoked,
    RevokeReason,
)
from helpdesk_queue.models import (
    AgentPresence,
    AgentState,
    NotOffered,
    OfferExpired,
    QueueError,
    QueueSettings,
    QueueStatus,
    UnknownAgent,
    UnknownTicket,
    WaitingEntry,
    clone_agent,
)
from helpdesk_queue.routing import reachable_level
from helpdesk_queue.statuses import AgentsSource, StatusReader
from helpdesk_queue.store import QueueStore

log = logging.getLogger(__name__)
T = TypeVar("T")


class QueueService:
    """Queue, presence and routing rules on top of a `QueueStore`."""

    def __init__(
        self,
        store: QueueStore,
        *,
        now: Callable[[], float],
        emit: EventSink,
        settings: QueueSettings | None = None,
        history: HistorySource | None = None,
        flush: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.store = store
        self.history = history  # each line's seed for the expected wait (helpdesk_queue.history)
        self._flush = flush  # called after each operation's events: the sink may batch its writes
        self.settings = settings or QueueSettings()
        self._now = now
        self._emit = emit
        self._lock = asyncio.Lock()
        self._last_tick: float | None = None
        self._leak_suspects: set[int] = set()
        self.status_reader = StatusReader(self, now)  # status, statuses, line_statuses

    async def _run(self, op: Callable[[_Batch], Awaitable[T]], *, route: bool = True) -> T:
        """Run `op` under the lock, route, then emit; a QueueError still emits what happened."""
        batch = _Batch()
        error: QueueError | None = None
        result: T | None = None
        async with self._lock:
            try:
                result = await op(batch)
            except QueueError as exc:
                error = exc
            if route:
                await self._dispatch(batch)
            await finish(self.store, batch, by_line=self.by_index)
        for event in batch.events:
            await self._emit(event)
        if self._flush is not None and batch.events:
            await self._flush()
        if error is not None:
            raise error
        return result  # type: ignore[return-value]

    async def dispatch(self) -> list[Offered]:
        """Offer as many waiting applicants as free eligible agents allow (event-driven routing)."""

        async def op(batch: _Batch) -> list[Offered]:
            if self.by_index:  # asked for explicitly: consider every agent with a free slot
                batch.freed |= {a.agent_id for a in await self.store.list_agents() if a.routable}
            await self._dispatch(batch)
            return [e for e in batch.events if isinstance(e, Offered)]

        return await self._run(op, route=False)

    @property
    def by_index(self) -> bool:
        return self.settings.routing != "scan"

    async def _dispatch(self, batch: _Batch) -> None:
        if self.by_index:
            await route_indexed(self.store, self.settings, self._now(), batch)
            return
        async with self.store.route_lock():
            await route(self.store, self.settings, self._now(), batch)

    def _settle(self, outcome: rules.OfferOutcome) -> Callable[[AgentPresence], None]:
        limit = self.settings.missed_offers_before_away
        return lambda agent: rules.settle_offer(agent, outcome, limit)

    async def _revoke(self, entry: WaitingEntry, reason: RevokeReason, batch: _Batch) -> None:
        """Put an offered entry back at its place; a decline or timeout counts as the agent's miss."""
        agent_id = entry.offered_to
        if agent_id is None:
            return
        missed = reason in ("timeout", "declined")
        if not await self.store.release(entry.ticket, agent_id, exclude_agent=missed):
            return
        batch.agent(await self.store.update_agent(agent_id, self._settle("missed" if missed else "cancelled")))
        log.info("offer of ticket %s to agent %s revoked: %s", entry.ticket, agent_id, reason)
        batch.events.append(OfferRevoked(entry.ticket, agent_id, reason))
        batch.lines.add(entry.line)
        batch.agents.add(agent_id)
        batch.waiting[entry.ticket] = None

    async def join(self, entry: WaitingEntry) -> None:
        """Queue an applicant (enqueued_at = now when left at 0) and route at once."""

        async def op(batch: _Batch) -> None:
            if not entry.enqueued_at:
                entry.enqueued_at = self._now()
            entry.state, entry.offered_to, entry.offer_expires_at = "waiting", None, None
            now, after = self._now(), self.settings.fallback_after_s
            entry.reach = reachable_level(entry, now, after)
            await self.store.add_entry(entry)
            batch.lines.add(entry.line)
            batch.waiting[entry.ticket] = entry
            batch.joined[entry.ticket] = entry.line
            if self.by_index and after > 0 and entry.reach < len(entry.unit_chain) - 1:
                await self.store.set_timer(f"f:{entry.ticket}", entry.enqueued_at + (entry.reach + 1) * after)

        await self._run(op)

    async def leave(self, ticket: str) -> Abandoned | None:
        """The applicant gave up: record the wait; a ringing offer is revoked with reason `left`."""

        async def op(batch: _Batch) -> Abandoned | None:
            entry = await self.store.remove_entry(ticket)
            if entry is None:
                return None
            if entry.state == "offered" and entry.offered_to is not None:
                batch.agent(await self.store.update_agent(entry.offered_to, self._settle("cancelled")))
                batch.events.append(OfferRevoked(ticket, entry.offered_to, "left"))
                batch.agents.add(entry.offered_to)
            abandoned = Abandoned(ticket, entry.work_order_id, self._now() - entry.enqueued_at)
            batch.events.append(abandoned)
            batch.lines.add(entry.line)
            return abandoned

        return await self._run(op)

    async def agent_online(self, agent: AgentPresence, state: AgentState = "ready") -> AgentPresence:
        """Register or refresh an agent's profile (unit, skills, capacity), keeping live counters.

        `state` ready/away/offline is applied; a live state (offered/busy/wrap_up, e.g. the state
        seen before a reconnect) keeps the agent's current state, or makes a new agent ready."""

        async def op(batch: _Batch) -> AgentPresence:
            now = self._now()
            old = await self.store.get_agent(agent.agent_id)
            if old is not None:
                agent.active_calls, agent.pending_offers = old.active_calls, old.pending_offers
                agent.state, agent.idle_since = old.state, old.idle_since
                agent.missed_offers, agent.wrapup_until = old.missed_offers, old.wrapup_until
                agent.call_since = old.call_since
            agent.last_heartbeat = now
            await self.store.upsert_agent(agent)
            if state in ("ready", "away", "offline"):
                return await self._set_state(agent.agent_id, state, batch)
            if agent.state in ("offered", "busy", "wrap_up"):  # a console reconnecting mid-call
                batch.agents.add(agent.agent_id)
                return agent
            return await self._set_state(agent.agent_id, "ready", batch)

        return await self._run(op)

    async def agent_state(self, agent_id: int, state: AgentState) -> AgentPresence:
        """ready / away / offline from the agent; away or offline withdraws ringing offers."""
        return await self._run(lambda batch: self._set_state(agent_id, state, batch))

    async def _set_state(self, agent_id: int, state: AgentState, batch: _Batch) -> AgentPresence:
        now = self._now()
        # Leaving wrap-up is agent-occupied time the expected wait counts: know the state before.
        before = await self.store.get_agent(agent_id) if self.settings.wrapup_s > 0 else None
        if state == "ready":  # the pairing path: one step
            agent = await self.store.set_ready(agent_id, now)
        else:
            agent = await self.store.update_agent(agent_id, lambda a: rules.set_state(a, state, now))
        if agent is None:
            raise UnknownAgent(f"agent {agent_id} is not online")
        if before is not None:
            await self._wrapup_done(before, now)
        batch.agent(agent)
        if state != "ready" and agent.pending_offers > 0:  # a ringing offer holds a pending slot
            for entry in await self.store.offers_of(agent_id):
                await self._revoke(entry, "taken", batch)
        return agent

    async def heartbeat(self, agent_id: int) -> bool:
        """Keep the agent's presence alive; False when unknown or expired (call agent_online again)."""
        return await self.store.heartbeat(agent_id, self._now())

    async def heartbeats(self, agent_ids: list[int]) -> set[int]:
        """heartbeat() for all of a process's agents in one round trip; the ones still alive."""
        return await self.store.heartbeats(agent_ids, self._now())

    async def _offered_to(self, ticket: str, agent_id: int) -> WaitingEntry:
        entry = await self.store.get_entry(ticket)
        if entry is None:
            raise UnknownTicket(f"ticket {ticket} is not in the queue")
        if entry.state != "offered" or entry.offered_to != agent_id:
            raise NotOffered(f"ticket {ticket} is not offered to agent {agent_id}")
        return entry

    async def accept(self, ticket: str, agent_id: int) -> Connected:
        """offer → connected; only the agent the ticket is offered to, before the countdown ends."""

        async def op(batch: _Batch) -> Connected:
            now = self._now()
            verdict, entry, agent = await self.store.take_offer(ticket, agent_id, now)  # one atomic step
            if entry is None:
                raise UnknownTicket(f"ticket {ticket} is not in the queue")
            if verdict == "not_offered":
                raise NotOffered(f"ticket {ticket} is not offered to agent {agent_id}")
            if verdict == "expired":
                await self._revoke(entry, "timeout", batch)
                raise OfferExpired(f"the offer of ticket {ticket} expired")
            batch.agent(agent)
            waited = now - entry.enqueued_at
            connected = Connected(
                ticket, agent_id, entry.work_order_id, entry.fallback_level, waited, entry.line
            )
            batch.events.append(connected)
            batch.lines.add(entry.line)
            batch.agents.add(agent_id)
            return connected

        return await self._run(op)

    async def decline(self, ticket: str, agent_id: int) -> None:
        """Back to the original place; the agent's miss counts towards going away."""

        async def op(batch: _Batch) -> None:
            await self._revoke(await self._offered_to(ticket, agent_id), "declined", batch)

        await self._run(op)

    async def call_ended(self, agent_id: int, handle_time_s: float, line: str) -> AgentPresence:
        """Record the handle time for the line's estimate; the agent wraps up or is ready again."""

        async def op(batch: _Batch) -> AgentPresence:
            now, s = self._now(), self.settings
            if handle_time_s >= 0:
                await self.store.add_handle_time(line, handle_time_s, s.aht_window)
            agent = await self.store.update_agent(agent_id, lambda a: rules.end_call(a, now, s.wrapup_s))
            if agent is None:
                raise UnknownAgent(f"agent {agent_id} is not online")
            batch.lines.add(line)
            batch.agent(agent)
            if self.by_index:
                await self.store.bump_lines([line])  # the line's handle time moved its estimates
                if agent.state == "wrap_up" and agent.wrapup_until is not None:
                    await self.store.set_timer(f"w:{agent_id}", agent.wrapup_until)
            return agent

        return await self._run(op)

    async def tick(self) -> None:
        """Time-based changes: presence expiry, then the timers that are due (offer timeouts,
        fallback widening, wrap-up ends); reads nothing that is not due (scan mode: everything)."""
        if not self.by_index:
            await self._run(self._tick_scan)
            return

        async def op(batch: _Batch) -> None:
            now = self._now()
            leaks = await self.store.ringing_without_offers()  # seen on two ticks running: freed
            for agent_id in set(leaks) & self._leak_suspects:
                log.warning("agent %s held a ringing slot without an offer; freeing it", agent_id)
                batch.agent(await self.store.update_agent(
                    agent_id, partial(rules.drop_leaked, offers=leaks[agent_id])))  # fmt: skip
            self._leak_suspects = set(leaks) - self._leak_suspects
            for agent_id in await self.store.expire_stale(now, self.settings.presence_ttl_s):
                batch.agents.add(agent_id)
                batch.seen.pop(agent_id, None)
                for entry in await self.store.offers_of(agent_id):
                    await self._revoke(entry, "taken", batch)
            done = [key for key, _ in await self.store.due_timers(now) if await self._fire(key, now, batch)]
            await self.store.clear_timers(done, now)

        await self._run(op)

    async def _wrapup_done(self, before: AgentPresence, now: float) -> None:
        """An agent left wrap-up: its length is agent-occupied time the estimate must count."""
        if before.state == "wrap_up" and before.wrapup_until is not None and self.settings.wrapup_s > 0:
            took = now - (before.wrapup_until - self.settings.wrapup_s)
            await self.store.add_handle_time(wrapup_key(before.unit_id), min(max(0.0, took), self.settings.wrapup_s),
                                             self.settings.aht_window)

    async def _fire(self, key: str, now: float, batch: _Batch) -> bool:
        """Act on one due timer; True when it is spent (the caller disarms it unless re-armed)."""
        kind, _, ident = key.partition(":")
        if kind == "o":  # offer timeout
            entry = await self.store.get_entry(ident)
            if entry is not None and entry.state == "offered" and (entry.offer_expires_at or now) >= now:
                return False  # due exactly now: it times out after now, on the next tick
            if entry is not None and entry.state == "offered":
                await self._revoke(entry, "timeout", batch)
        elif kind == "f":  # the entry's search widens to the next unit up
            entry = await self.store.get_entry(ident)
            after = self.settings.fallback_after_s
            if entry is not None and after > 0:
                level = reachable_level(entry, now, after)
                widened = await self.store.open_level(ident, level)
                if widened is not None and widened.state == "waiting":
                    batch.waiting[ident] = widened
                batch.lines.add(entry.line)
                if level < len(entry.unit_chain) - 1:
                    await self.store.set_timer(key, entry.enqueued_at + (level + 1) * after)
        elif kind == "w":  # wrap-up over
            was: list[AgentPresence] = []

            def finish_wrapup(a: AgentPresence) -> None:
                was.append(clone_agent(a))
                rules.finish_wrapup(a, now)

            agent = await self.store.update_agent(int(ident), finish_wrapup)
            if was:
                await self._wrapup_done(was[-1], now)
            batch.agent(agent)
        else:
            return False  # not the queue's (abandonment timers belong to the app)
        return True

    async def _tick_scan(self, batch: _Batch) -> None:
        """The scan-mode tick (benchmark baseline): one snapshot of every entry and agent."""
        now, s = self._now(), self.settings
        async with self.store.route_lock():  # no pass in flight: a ringing slot needs its offer
            entries, agents = await self.store.list_waiting(), await self.store.list_agents()
            self._leak_suspects = await repair_leaks(self.store, entries, agents, self._leak_suspects)
        gone = set(await self.store.expire_stale(now, s.presence_ttl_s))
        batch.agents |= gone
        for agent in agents:
            if agent.agent_id not in gone and rules.finish_wrapup(clone_agent(agent), now):
                await self.store.update_agent(agent.agent_id, lambda a: rules.finish_wrapup(a, now))
                await self._wrapup_done(agent, now)
                batch.agents.add(agent.agent_id)
        for entry in entries:
            if entry.state == "offered" and entry.offered_to in gone:
                await self._revoke(entry, "taken", batch)
            elif entry.state == "offered" and (entry.offer_expires_at or now) < now:
                await self._revoke(entry, "timeout", batch)
            elif self._last_tick is not None and reachable_level(
                entry, now, s.fallback_after_s
            ) != reachable_level(entry, self._last_tick, s.fallback_after_s):
                batch.lines.add(entry.line)  # the search widened: the estimate may change
        self._last_tick = now

    def reset_timers(self) -> None:
        """Forget what earlier ticks saw (leak suspects, the last tick time): call it when this
        process becomes the one that ticks, so sightings from an earlier term are not trusted."""
        self._last_tick = None
        self._leak_suspects = set()

    async def status(self, ticket: str) -> QueueStatus | None:
        """Position and expected wait of one queued ticket; None when not queued (statuses.py)."""
        return await self.status_reader.status(ticket)

    async def line_statuses(
        self, known: dict[str, tuple[int, list[str]]], agents: AgentsSource | None = None
    ) -> tuple[dict[str, int], dict[str, QueueStatus]]:
        """The moved lines' new versions and the given tickets' statuses, reading only those entries."""
        return await self.status_reader.line_statuses(known, agents)

    async def statuses(self, tickets: Iterable[str], lines: Iterable[str] | None = None) -> dict[str, QueueStatus]:
        """Statuses of many tickets from one read (only the given `lines` when given)."""
        return await self.status_reader.statuses(tickets, lines)
