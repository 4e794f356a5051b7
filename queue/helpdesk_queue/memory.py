"""The embedded backend: one process, nothing to install. No awaits inside an operation = atomic."""

from __future__ import annotations

import bisect
import contextlib
from collections import deque
from contextlib import AbstractAsyncContextManager

from helpdesk_queue import agents as agent_rules
from helpdesk_queue.models import AgentPresence, WaitingEntry, clone_agent, clone_entry
from helpdesk_queue.store import AgentChange


class MemoryQueueStore:
    """Dicts plus a sorted key list per line; returns copies so callers never alias stored state."""

    def __init__(self) -> None:
        self._entries: dict[str, WaitingEntry] = {}
        self._order: list[tuple[int, float, str]] = []  # all lines, queue order
        self._lines: dict[str, list[tuple[int, float, str]]] = {}
        self._agents: dict[int, AgentPresence] = {}
        self._handle: dict[str, deque[float]] = {}

    def route_lock(self) -> AbstractAsyncContextManager[object]:
        return contextlib.nullcontext()  # one process: the dispatcher's asyncio.Lock suffices

    async def add_entry(self, entry: WaitingEntry) -> None:
        if entry.ticket in self._entries:
            self._unindex(self._entries[entry.ticket])
        self._entries[entry.ticket] = clone_entry(entry)
        key = entry.sort_key()
        bisect.insort(self._order, key)
        bisect.insort(self._lines.setdefault(entry.line, []), key)

    def _unindex(self, entry: WaitingEntry) -> None:
        key = entry.sort_key()
        for keys in (self._order, self._lines.get(entry.line, [])):
            i = bisect.bisect_left(keys, key)
            if i < len(keys) and keys[i] == key:
                del keys[i]
        if not self._lines.get(entry.line):
            self._lines.pop(entry.line, None)

    async def remove_entry(self, ticket: str) -> WaitingEntry | None:
        entry = self._entries.pop(ticket, None)
        if entry is not None:
            self._unindex(entry)
        return entry

    async def get_entry(self, ticket: str) -> WaitingEntry | None:
        entry = self._entries.get(ticket)
        return clone_entry(entry) if entry else None

    async def list_waiting(self, line: str | None = None) -> list[WaitingEntry]:
        keys = self._order if line is None else self._lines.get(line, [])
        return [clone_entry(self._entries[k[2]]) for k in keys]

    async def claim(self, ticket: str, agent_id: int, fallback_level: int, expires_at: float) -> bool:
        entry = self._entries.get(ticket)
        if entry is None or entry.state != "waiting":
            return False
        entry.state, entry.offered_to = "offered", agent_id
        entry.fallback_level, entry.offer_expires_at = fallback_level, expires_at
        return True

    async def release(self, ticket: str, agent_id: int, exclude_agent: bool) -> bool:
        entry = self._entries.get(ticket)
        if entry is None or entry.state != "offered" or entry.offered_to != agent_id:
            return False
        entry.state, entry.offered_to, entry.offer_expires_at = "waiting", None, None
        if exclude_agent and agent_id not in entry.declined_by:
            entry.declined_by.append(agent_id)
        return True

    async def upsert_agent(self, agent: AgentPresence) -> None:
        self._agents[agent.agent_id] = clone_agent(agent)

    async def get_agent(self, agent_id: int) -> AgentPresence | None:
        agent = self._agents.get(agent_id)
        return clone_agent(agent) if agent else None

    async def list_agents(self) -> list[AgentPresence]:
        return [clone_agent(a) for a in self._agents.values()]

    async def reserve_agent(self, agent_id: int) -> bool:
        agent = self._agents.get(agent_id)
        return agent is not None and agent_rules.reserve(agent)

    async def update_agent(self, agent_id: int, change: AgentChange) -> AgentPresence | None:
        agent = self._agents.get(agent_id)
        if agent is None:
            return None
        change(agent)
        return clone_agent(agent)

    async def expire_stale(self, now: float, ttl_s: float) -> list[int]:
        gone = [a for a in self._agents.values() if a.state != "offline" and a.last_heartbeat < now - ttl_s]
        for agent in gone:
            agent_rules.expire(agent)
        return [a.agent_id for a in gone]

    async def add_handle_time(self, line: str, seconds: float, keep: int) -> None:
        samples = self._handle.setdefault(line, deque(maxlen=keep))
        if samples.maxlen != keep:
            samples = self._handle[line] = deque(samples, maxlen=keep)
        samples.append(seconds)

    async def handle_times(self, line: str) -> list[float]:
        return list(self._handle.get(line, ()))
