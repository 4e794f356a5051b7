"""The embedded backend: one process, nothing to install. No awaits inside an operation = atomic."""

from __future__ import annotations

import bisect
import contextlib
from collections import deque
from contextlib import AbstractAsyncContextManager
from typing import Any

from helpdesk_queue import agents as agent_rules
from helpdesk_queue import index
from helpdesk_queue.dispatch import route_one
from helpdesk_queue.models import AgentPresence, WaitingEntry, clone_agent, clone_entry
from helpdesk_queue.store import AgentChange, LineChange

EntryKey = tuple[int, float, str]
AgentKey = tuple[int, float, int]


def _drop(keys: list[Any], key: object) -> None:
    i = bisect.bisect_left(keys, key)
    if i < len(keys) and keys[i] == key:
        del keys[i]


class MemoryQueueStore:
    """Dicts plus sorted key lists (lines, routing sets, agent sets, timers); returns copies so
    callers never alias stored state."""

    def __init__(self) -> None:
        self._entries: dict[str, WaitingEntry] = {}
        self._order: list[EntryKey] = []  # all lines, queue order
        self._lines: dict[str, list[EntryKey]] = {}
        self._agents: dict[int, AgentPresence] = {}
        self._handle: dict[str, deque[float]] = {}
        self._rsets: dict[str, list[EntryKey]] = {}  # routing sets of waiting entries
        self._ekeys: dict[str, tuple[list[str], EntryKey]] = {}  # where each entry is indexed
        self._asets: dict[str, list[AgentKey]] = {}  # (unit, skill) sets of routable agents
        self._akeys: dict[int, tuple[list[str], AgentKey]] = {}
        self._offers: dict[int, set[str]] = {}
        self._timers: dict[str, float] = {}
        self._due: list[tuple[float, str]] = []
        self._versions: dict[str, int] = {}

    def route_lock(self) -> AbstractAsyncContextManager[object]:
        return contextlib.nullcontext()  # one process: the dispatcher's asyncio.Lock suffices

    # ---- index upkeep: called after every change of an entry or agent ---------------------------
    def _reindex_entry(self, ticket: str) -> None:
        old = self._ekeys.pop(ticket, None)
        if old is not None:
            for k in old[0]:
                _drop(self._rsets.get(k, []), old[1])
        for agent_id, tickets in list(self._offers.items()):
            tickets.discard(ticket)
            if not tickets:
                del self._offers[agent_id]
        entry = self._entries.get(ticket)
        if entry is None:
            return
        if entry.state == "waiting":
            keys, key = index.entry_keys(entry), entry.sort_key()
            for k in keys:
                bisect.insort(self._rsets.setdefault(k, []), key)
            self._ekeys[ticket] = (keys, key)
        elif entry.offered_to is not None:
            self._offers.setdefault(entry.offered_to, set()).add(ticket)

    def _reindex_agent(self, agent_id: int) -> None:
        old = self._akeys.pop(agent_id, None)
        if old is not None:
            for k in old[0]:
                _drop(self._asets.get(k, []), old[1])
        agent = self._agents.get(agent_id)
        if agent is not None and agent.routable:
            keys = index.agent_keys(agent)
            key = (agent.active_calls + agent.pending_offers, agent.idle_since, agent_id)
            for k in keys:
                bisect.insort(self._asets.setdefault(k, []), key)
            self._akeys[agent_id] = (keys, key)

    def _bump(self, line: str) -> None:
        self._versions[line] = self._versions.get(line, 0) + 1

    # ---- entries -------------------------------------------------------------------------------
    async def add_entry(self, entry: WaitingEntry) -> None:
        if entry.ticket in self._entries:
            self._unindex(self._entries[entry.ticket])
        self._entries[entry.ticket] = clone_entry(entry)
        key = entry.sort_key()
        bisect.insort(self._order, key)
        bisect.insort(self._lines.setdefault(entry.line, []), key)
        self._reindex_entry(entry.ticket)
        self._bump(entry.line)

    def _unindex(self, entry: WaitingEntry) -> None:
        key = entry.sort_key()
        _drop(self._order, key)
        _drop(self._lines.get(entry.line, []), key)
        if not self._lines.get(entry.line):
            self._lines.pop(entry.line, None)

    async def remove_entry(self, ticket: str) -> WaitingEntry | None:
        entry = self._entries.pop(ticket, None)
        if entry is not None:
            self._unindex(entry)
            self._reindex_entry(ticket)
            for kind in ("o", "f", "a", "A"):
                self._disarm(f"{kind}:{ticket}")
            self._bump(entry.line)
        return entry

    async def get_entry(self, ticket: str) -> WaitingEntry | None:
        entry = self._entries.get(ticket)
        return clone_entry(entry) if entry else None

    async def entry_work_orders(self, tickets: list[str]) -> dict[str, str | None]:
        return {t: (e.work_order_id if (e := self._entries.get(t)) else None) for t in tickets}

    async def list_waiting(self, line: str | None = None) -> list[WaitingEntry]:
        keys = self._order if line is None else self._lines.get(line, [])
        return [clone_entry(self._entries[k[2]]) for k in keys]

    async def claim(self, ticket: str, agent_id: int, fallback_level: int, expires_at: float) -> bool:
        entry = self._entries.get(ticket)
        if entry is None or entry.state != "waiting":
            return False
        entry.state, entry.offered_to = "offered", agent_id
        entry.fallback_level, entry.offer_expires_at = fallback_level, expires_at
        self._reindex_entry(ticket)
        self._arm(f"o:{ticket}", expires_at)
        self._bump(entry.line)
        return True

    async def release(self, ticket: str, agent_id: int, exclude_agent: bool) -> bool:
        entry = self._entries.get(ticket)
        if entry is None or entry.state != "offered" or entry.offered_to != agent_id:
            return False
        entry.state, entry.offered_to, entry.offer_expires_at = "waiting", None, None
        if exclude_agent and agent_id not in entry.declined_by:
            entry.declined_by.append(agent_id)
        self._reindex_entry(ticket)
        self._disarm(f"o:{ticket}")
        self._bump(entry.line)
        return True

    # ---- agents --------------------------------------------------------------------------------
    async def upsert_agent(self, agent: AgentPresence) -> None:
        self._agents[agent.agent_id] = clone_agent(agent)
        self._reindex_agent(agent.agent_id)

    async def get_agent(self, agent_id: int) -> AgentPresence | None:
        agent = self._agents.get(agent_id)
        return clone_agent(agent) if agent else None

    async def list_agents(self) -> list[AgentPresence]:
        return [clone_agent(a) for a in self._agents.values()]

    async def reserve_agent(self, agent_id: int) -> bool:
        agent = self._agents.get(agent_id)
        ok = agent is not None and agent_rules.reserve(agent)
        self._reindex_agent(agent_id)
        return ok

    async def update_agent(self, agent_id: int, change: AgentChange) -> AgentPresence | None:
        agent = self._agents.get(agent_id)
        if agent is None:
            return None
        change(agent)
        self._reindex_agent(agent_id)
        return clone_agent(agent)

    async def expire_stale(self, now: float, ttl_s: float) -> list[int]:
        gone = [a for a in self._agents.values() if a.state != "offline" and a.last_heartbeat < now - ttl_s]
        for agent in gone:
            agent_rules.expire(agent)
            self._reindex_agent(agent.agent_id)
        return [a.agent_id for a in gone]

    async def add_handle_time(self, line: str, seconds: float, keep: int) -> None:
        samples = self._handle.setdefault(line, deque(maxlen=keep))
        if samples.maxlen != keep:
            samples = self._handle[line] = deque(samples, maxlen=keep)
        samples.append(seconds)

    async def handle_times(self, line: str) -> list[float]:
        return list(self._handle.get(line, ()))

    # ---- routing by index ----------------------------------------------------------------------
    async def heads_for_agents(self, agent_ids: list[int]) -> tuple[list[AgentPresence], list[WaitingEntry]]:
        agents = [self._agents[i] for i in agent_ids if i in self._agents]
        routable = [a for a in agents if a.routable]
        want = sum(a.free for a in routable)
        found: dict[str, WaitingEntry] = {}
        for agent in routable:
            for k in [*index.agent_keys(agent), f"pin:{agent.agent_id}"]:
                n = 0
                for key in self._rsets.get(k, []):
                    if n >= want:
                        break
                    entry = self._entries[key[2]]
                    if agent.agent_id not in entry.declined_by:
                        found[entry.ticket] = entry
                        n += 1
        return [clone_agent(a) for a in agents], [clone_entry(e) for e in found.values()]

    async def agents_for_entry(self, entry: WaitingEntry) -> list[tuple[int, AgentPresence]]:
        pin = entry.active_pin
        if pin is not None:
            agent = self._agents.get(pin)
            if agent is None or not agent.routable or agent.unit_id not in entry.unit_chain:
                return []
            return [(entry.unit_chain.index(agent.unit_id), clone_agent(agent))]
        out: list[tuple[int, AgentPresence]] = []
        for level in range(min(entry.reach, len(entry.unit_chain) - 1) + 1):
            for k in index.level_keys(entry, level):
                for key in self._asets.get(k, []):
                    if key[2] not in entry.declined_by:
                        out.append((level, clone_agent(self._agents[key[2]])))
                        break
            if out:
                break  # the nearest level that has an agent wins
        return out

    async def offer(self, ticket: str, agent_id: int, fallback_level: int, expires_at: float) -> AgentPresence | None:
        entry, agent = self._entries.get(ticket), self._agents.get(agent_id)
        if entry is None or entry.state != "waiting" or agent is None or not agent.routable:
            return None
        agent_rules.reserve(agent)
        self._reindex_agent(agent_id)
        await self.claim(ticket, agent_id, fallback_level, expires_at)
        return clone_agent(agent)

    async def route_agent(
        self, agent_id: int, expires_at: float
    ) -> tuple[WaitingEntry, AgentPresence, int] | None:
        return await route_one(self, agent_id, expires_at)

    async def take_offer(
        self, ticket: str, agent_id: int, now: float
    ) -> tuple[str, WaitingEntry | None, AgentPresence | None]:
        entry = self._entries.get(ticket)
        if entry is None:
            return "unknown", None, None
        if entry.state != "offered" or entry.offered_to != agent_id:
            return "not_offered", clone_entry(entry), None
        if entry.offer_expires_at is not None and now > entry.offer_expires_at:
            return "expired", clone_entry(entry), None
        await self.remove_entry(ticket)
        return "taken", entry, await self.update_agent(
            agent_id, lambda a: agent_rules.settle_offer(a, "accepted", missed_limit=0, now=now))

    async def offers_of(self, agent_id: int) -> list[WaitingEntry]:
        tickets = sorted(self._offers.get(agent_id, ()), key=lambda t: self._entries[t].sort_key())
        return [clone_entry(self._entries[t]) for t in tickets]

    async def open_level(self, ticket: str, level: int) -> WaitingEntry | None:
        entry = self._entries.get(ticket)
        if entry is None:
            return None
        if level > entry.reach:
            entry.reach = min(level, len(entry.unit_chain) - 1)
            self._reindex_entry(ticket)
            self._bump(entry.line)
        return clone_entry(entry)

    async def set_ready(self, agent_id: int, now: float) -> AgentPresence | None:
        return await self.update_agent(agent_id, lambda a: agent_rules.set_state(a, "ready", now))

    async def heartbeat(self, agent_id: int, now: float) -> bool:
        agent = self._agents.get(agent_id)
        if agent is None or agent.state == "offline":
            return False
        agent.last_heartbeat = now
        return True

    async def line_changes(self, known: dict[str, tuple[int, list[str]]]) -> dict[str, LineChange]:
        out: dict[str, LineChange] = {}
        for line, (seen, tickets) in known.items():
            version = self._versions.get(line, 0)
            if version == seen:
                continue
            keys = self._lines.get(line, [])
            offered = [bisect.bisect_left(keys, self._entries[t].sort_key()) for t in self._line_offers(line)]
            found: dict[str, tuple[WaitingEntry, int]] = {}
            for ticket in tickets:
                entry = self._entries.get(ticket)
                if entry is None or entry.line != line:
                    continue
                rank = bisect.bisect_left(keys, entry.sort_key())
                pos = 1 if entry.state == "offered" else rank - sum(1 for o in offered if o < rank) + 1
                found[ticket] = (clone_entry(entry), pos)
            out[line] = LineChange(version, found, list(self._handle.get(line, ())))
        return out

    def _line_offers(self, line: str) -> list[str]:
        return [t for tickets in self._offers.values() for t in tickets if self._entries[t].line == line]

    async def ringing_without_offers(self) -> dict[int, int]:
        out = {}
        for agent in self._agents.values():
            offers = len(self._offers.get(agent.agent_id, ()))
            if agent.pending_offers > offers:
                out[agent.agent_id] = offers
        return out

    async def heartbeats(self, agent_ids: list[int], now: float) -> set[int]:
        return {a for a in agent_ids if await self.heartbeat(a, now)}

    # ---- timers and line versions --------------------------------------------------------------
    def _arm(self, key: str, due: float) -> None:
        self._disarm(key)
        self._timers[key] = due
        bisect.insort(self._due, (due, key))

    def _disarm(self, key: str) -> None:
        due = self._timers.pop(key, None)
        if due is not None:
            _drop(self._due, (due, key))

    async def set_timer(self, key: str, due: float) -> None:
        self._arm(key, due)

    async def set_timers(self, timers: dict[str, float]) -> None:
        for key, due in timers.items():
            self._arm(key, due)

    async def due_timers(self, now: float, limit: int = 500) -> list[tuple[str, float]]:
        end = bisect.bisect_right(self._due, (now, "\uffff"))
        return [(k, d) for d, k in self._due[: min(end, limit)]]

    async def clear_timers(self, keys: list[str], now: float) -> None:
        for key in keys:
            if self._timers.get(key, now + 1) <= now:
                self._disarm(key)

    async def bump_lines(self, lines: list[str]) -> None:
        for line in lines:
            self._bump(line)

    async def line_versions(self, lines: list[str]) -> dict[str, int]:
        return {line: self._versions.get(line, 0) for line in lines}
