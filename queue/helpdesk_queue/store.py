"""The shared-state interface; memory and Redis implement it and pass the same contract tests."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

from helpdesk_queue.models import AgentPresence, WaitingEntry

AgentChange = Callable[[AgentPresence], object]


@dataclass(frozen=True)
class LineChange:
    """A line as its followers need it: version, (entry, position) of the asked tickets, handle times."""

    version: int
    found: dict[str, tuple[WaitingEntry, int]]
    handle_times: list[float]


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

    async def entry_work_orders(self, tickets: list[str]) -> dict[str, str | None]:
        """The work order each ticket is queued with (None: not queued), read in bulk: a few round
        trips for many tickets (the reconciler compares every waiting request with the queue)."""
        ...

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

    # ---- routing by index (helpdesk_queue.index); every method below reads or changes only what
    # one routing step needs, never the whole queue ---------------------------------------------

    async def heads_for_agents(self, agent_ids: list[int]) -> tuple[list[AgentPresence], list[WaitingEntry]]:
        """The known agents among `agent_ids` and, for the routable ones, the first waiting entries
        of every set they serve (their pin set included) that they have not declined: as many per
        set as the free slots of all of them together, so a batch never misses its best entries."""
        ...

    async def agents_for_entry(self, entry: WaitingEntry) -> list[tuple[int, AgentPresence]]:
        """(level, agent) candidates for `entry`: for each opened level, the best routable agents of
        its item and department sets that it has not declined; the pinned agent alone when pinned."""
        ...

    async def offer(self, ticket: str, agent_id: int, fallback_level: int, expires_at: float) -> AgentPresence | None:
        """reserve_agent + claim in one atomic step (and the offer's timeout timer `o:{ticket}`);
        the agent as it is now, or None when the entry is not waiting or the agent has no free slot."""
        ...

    async def route_agent(
        self, agent_id: int, expires_at: float
    ) -> tuple[WaitingEntry, AgentPresence, int] | None:
        """One routing decision for one freed agent, made and offered in one step: the best waiting
        entry among the heads of its sets goes to the best agent of its nearest level (this one or
        another). (entry as offered, the chosen agent after reserving, level), or None.
        dispatch.route_one is the rule; the Redis store runs the same rule in one script."""
        ...

    async def take_offer(
        self, ticket: str, agent_id: int, now: float
    ) -> tuple[str, WaitingEntry | None, AgentPresence | None]:
        """The accept in one step: remove the entry if it is offered to `agent_id` and not expired,
        and settle the agent's ringing slot as one more call (agents.settle_offer "accepted").
        Returns ("taken", entry, agent), ("expired", entry, None) (left in place),
        ("not_offered", entry, None) or ("unknown", None, None)."""
        ...

    async def offers_of(self, agent_id: int) -> list[WaitingEntry]:
        """The entries ringing at `agent_id` now."""
        ...

    async def open_level(self, ticket: str, level: int) -> WaitingEntry | None:
        """Widen the entry's search to fallback `level` (index it at those units); None if gone."""
        ...

    async def line_changes(self, known: dict[str, tuple[int, list[str]]]) -> dict[str, LineChange]:
        """Positions by line in one call: for each line whose version differs from the one given,
        its version, the asked tickets still queued in it with their positions (1 + the waiting
        entries ahead; 1 when offered) and its handle times. Reads only those entries."""
        ...

    async def ringing_without_offers(self) -> dict[int, int]:
        """Agents holding more ringing slots than offers (agent id → their offers): a process died
        between taking a slot and settling it. Reads only the agents that ring."""
        ...

    async def set_ready(self, agent_id: int, now: float) -> AgentPresence | None:
        """agents.set_state(agent, "ready", now) in one step; None when unknown."""
        ...

    async def heartbeat(self, agent_id: int, now: float) -> bool:
        """Refresh last_heartbeat in one step; False when unknown or offline."""
        ...

    async def heartbeats(self, agent_ids: list[int], now: float) -> set[int]:
        """heartbeat() for many agents in one round trip; returns those known and not offline."""
        ...

    async def set_timer(self, key: str, due: float) -> None:
        """Arm (or move) one timer: `o:`/`f:{ticket}` (offer timeout, fallback), `a:`/`A:{ticket}`
        (the app's presence check and absence), `w:{agent_id}` (wrap-up end). Removing an entry
        clears its `o:`, `f:`, `a:` and `A:` timers."""
        ...

    async def set_timers(self, timers: dict[str, float]) -> None:
        """set_timer for many at once (one command on Redis)."""
        ...

    async def due_timers(self, now: float, limit: int = 500) -> list[tuple[str, float]]:
        """Timers due at `now`, soonest first; they stay armed until cleared or moved."""
        ...

    async def clear_timers(self, keys: list[str], now: float) -> None:
        """Disarm these timers unless they were moved past `now` meanwhile."""
        ...

    async def bump_lines(self, lines: list[str]) -> None:
        """Advance these lines' versions (a change the entries do not show: staffing, handle times);
        adding, removing, offering, releasing and widening already advance them."""
        ...

    async def line_versions(self, lines: list[str]) -> dict[str, int]:
        """Each line's version (0 when never changed): applicants' sockets refresh when it moves."""
        ...
