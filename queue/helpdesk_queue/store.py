"""The shared-state interface; memory and Redis implement it and pass the same contract tests."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from helpdesk_queue.models import AgentPresence, WaitingEntry

AgentChange = Callable[[AgentPresence], object]


class QueueStore(Protocol):
    """Primitive operations on the queue and presence; every method is atomic on its own."""

    def route_lock(self) -> AbstractAsyncContextManager[object]:
        """Serialise routing passes across processes so the queue order holds strictly between
        them; safety (no double offer, capacity) never depends on it, only on claim and reserve."""
        ...

    async def add_entry(self, entry: WaitingEntry) -> None:
        """Queue (or re-queue) an entry; it is ordered by priority desc, enqueued_at asc, ticket."""
        ...

    async def remove_entry(self, ticket: str) -> WaitingEntry | None:
        """Take the entry out of the queue (connected or abandoned); None when not queued."""
        ...

    async def get_entry(self, ticket: str) -> WaitingEntry | None: ...

    async def list_waiting(self, line: str | None = None) -> list[WaitingEntry]:
        """Queued entries (waiting and offered) in queue order, of one line or of all lines."""
        ...

    async def claim(self, ticket: str, agent_id: int, fallback_level: int, expires_at: float) -> bool:
        """waiting → offered to `agent_id`; exactly one of concurrent claimers wins."""
        ...

    async def release(self, ticket: str, agent_id: int, exclude_agent: bool) -> bool:
        """offered (to `agent_id`) → waiting at the same place; `exclude_agent` bars re-offering it."""
        ...

    async def upsert_agent(self, agent: AgentPresence) -> None: ...

    async def get_agent(self, agent_id: int) -> AgentPresence | None: ...

    async def list_agents(self) -> list[AgentPresence]: ...

    async def reserve_agent(self, agent_id: int) -> bool:
        """Atomically take one free slot of a working agent for an offer (capacity check)."""
        ...

    async def update_agent(self, agent_id: int, change: AgentChange) -> AgentPresence | None:
        """Apply `change` (a function from helpdesk_queue.agents) atomically; None if unknown."""
        ...

    async def expire_stale(self, now: float, ttl_s: float) -> list[int]:
        """Agents whose last heartbeat is older than `ttl_s` go offline; returns their ids."""
        ...

    async def add_handle_time(self, line: str, seconds: float, keep: int) -> None:
        """Record one handle-time sample of a line, keeping the newest `keep`."""
        ...

    async def handle_times(self, line: str) -> list[float]: ...
