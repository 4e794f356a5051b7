"""Reading positions and expected waits (QueueService.status, statuses, line_statuses): reads only,
under no lock and emitting nothing; estimate.py does the arithmetic. What a process keeps between
reads: the staffing worked out for the agents it last read, and each unit's recent wrap-up times."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING

from helpdesk_queue.estimate import build_statuses, wrapup_key
from helpdesk_queue.models import AgentPresence, QueueStatus

if TYPE_CHECKING:
    from helpdesk_queue.service import QueueService

WRAPUP_SAMPLES_TTL_S = 10.0
AgentsSource = Callable[[], Awaitable[list[AgentPresence]]]  # the agents, e.g. from a cache (positions.py)


class StatusReader:
    """One QueueService's reads. Its store, settings and history are taken from the service on every
    call: they may be replaced after the service is built (tests do)."""

    def __init__(self, service: QueueService, now: Callable[[], float]) -> None:
        self.service = service
        self._now = now
        self._wrapup_cache: dict[str, tuple[float, list[float]]] = {}
        # line_statuses: the agents its staffing was worked out with, and that staffing by kind of entry
        self._staffed_for: object = None
        self._staffed: dict[tuple[object, ...], tuple[int, int, int]] = {}

    async def status(self, ticket: str) -> QueueStatus | None:
        """Position and expected wait of one queued ticket; None when not queued. Reads only the
        ticket's line (a position counts within its line)."""
        entry = await self.service.store.get_entry(ticket)
        if entry is None:
            return None
        return (await self.statuses([ticket], lines=[entry.line])).get(ticket)

    async def line_statuses(
        self,
        known: dict[str, tuple[int, list[str]]],
        agents: AgentsSource | None = None,
    ) -> tuple[dict[str, int], dict[str, QueueStatus]]:
        """For the lines whose version moved from the one given: their new versions and the
        statuses of the given tickets, reading only those entries (and the agents, through
        `agents` when given, e.g. a cache; only when a line moved): the cost follows the tickets
        asked for, not the length of their lines."""
        store = self.service.store
        changes = await store.line_changes(known)
        if not changes:
            return {}, {}
        now = self._now()
        staff = await agents() if agents is not None else await store.list_agents()
        if staff is not self._staffed_for:  # new agents: staffing is worked out afresh
            self._staffed_for, self._staffed = staff, {}
        out: dict[str, QueueStatus] = {}
        for line, change in changes.items():
            entries = [entry for entry, _ in change.found.values()]
            ranks = {ticket: pos for ticket, (_, pos) in change.found.items()}
            samples = {line: change.handle_times}
            for unit_id in {e.unit_id for e in entries}:
                samples[wrapup_key(unit_id)] = await self._wrapup_samples(unit_id, now)
            out |= build_statuses(list(ranks), entries, staff, samples, now, self.service.settings,
                                  self.service.history, ranks=ranks, staffed=self._staffed)
        return {line: c.version for line, c in changes.items()}, out

    async def _wrapup_samples(self, unit_id: int, now: float) -> list[float]:
        """A unit's recent wrap-up times, read at most every WRAPUP_SAMPLES_TTL_S per process: they
        move slowly, and line changes come every 200 ms."""
        key = wrapup_key(unit_id)
        cached = self._wrapup_cache.get(key)
        if cached is None or now - cached[0] > WRAPUP_SAMPLES_TTL_S:
            cached = self._wrapup_cache[key] = (now, list(await self.service.store.handle_times(key)))
        return cached[1]

    async def statuses(self, tickets: Iterable[str], lines: Iterable[str] | None = None) -> dict[str, QueueStatus]:
        """Statuses of many tickets from one read (for a PositionsChanged event: pass its `lines`
        to read only those lines instead of the whole queue)."""
        store = self.service.store
        wanted = list(tickets)
        asked = set(wanted)
        if lines is None:
            entries = await store.list_waiting()
        else:
            entries = [e for line in sorted(set(lines)) for e in await store.list_waiting(line)]
        agents = await store.list_agents()
        asked_entries = [e for e in entries if e.ticket in asked]
        keys = {e.line for e in asked_entries} | {wrapup_key(e.unit_id) for e in asked_entries}
        samples = {key: await store.handle_times(key) for key in keys}
        return build_statuses(wanted, entries, agents, samples, self._now(), self.service.settings,
                              self.service.history)
