"""Position and expected wait: what the applicant sees while waiting (docs/queue.md explains it)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from helpdesk_queue.models import STAFFED_STATES, AgentPresence, QueueSettings, QueueStatus, WaitingEntry
from helpdesk_queue.routing import eligible_level, queue_order, reachable_level


def positions(entries: Iterable[WaitingEntry]) -> dict[str, int]:
    """1-based position of each entry within its line (same unit and item).

    A waiting entry counts the waiting entries of its line ahead of it in queue order; entries
    already being offered are out of the count and report position 1 themselves.
    """
    seen: dict[str, int] = {}
    out: dict[str, int] = {}
    for entry in queue_order(entries):
        if entry.state == "offered":
            out[entry.ticket] = 1
            continue
        seen[entry.line] = seen.get(entry.line, 0) + 1
        out[entry.ticket] = seen[entry.line]
    return out


def expected_wait(
    position: int, staffed_slots: int, free_slots: int, handle_times: Sequence[float], default_s: float
) -> float | None:
    """E[W] for the applicant `position`-th in line, or None when no eligible agent is staffed.

    With N staffed slots (sum of capacities of eligible ready/offered/busy/wrap-up agents), F of
    them free, and AHT the mean of the line's recent handle times (default_s when none):
    k ≤ F → 0; else E[W] = (k − F) · AHT / (N − F). Under exponential handle times each busy slot
    frees at rate 1/AHT, so the (k − F)-th departure takes (k − F)·AHT/(N − F) on average; with
    no free slot this is k · AHT / N.
    """
    if staffed_slots <= 0:
        return None
    if position <= free_slots:
        return 0.0
    aht = sum(handle_times) / len(handle_times) if handle_times else default_s
    busy = staffed_slots - free_slots
    return (position - free_slots) * aht / (busy if busy > 0 else staffed_slots)


def staffing(
    entry: WaitingEntry, agents: Iterable[AgentPresence], now: float, fallback_after_s: float
) -> tuple[int, int, int]:
    """(staffed slots, free slots, ready agents) among the agents eligible for `entry` now."""
    staffed = free = ready = 0
    for a in agents:
        if a.state not in STAFFED_STATES or eligible_level(entry, a, now, fallback_after_s) is None:
            continue
        staffed += a.capacity
        if a.routable:
            free += a.free
            ready += a.state == "ready"
    return staffed, free, ready


def build_statuses(
    tickets: Iterable[str],
    entries: Sequence[WaitingEntry],
    agents: Sequence[AgentPresence],
    handle_times: Mapping[str, Sequence[float]],
    now: float,
    settings: QueueSettings,
    ranks: Mapping[str, int] | None = None,
) -> dict[str, QueueStatus]:
    """Statuses of queued tickets from one snapshot; `handle_times` maps line → recent samples.
    `ranks`: positions already known (the store's line_positions), so `entries` may hold only
    the asked tickets instead of their whole lines."""
    pos = dict(ranks) if ranks is not None else positions(entries)
    by_ticket = {e.ticket: e for e in entries}
    out: dict[str, QueueStatus] = {}
    seen: dict[tuple[object, ...], tuple[int, int, int]] = {}  # applicants alike share the staffing
    for ticket in tickets:
        entry = by_ticket.get(ticket)
        if entry is None:
            continue
        key = (*entry.unit_chain, -1, entry.item_id, entry.department_id, *sorted(entry.declined_by), -1,
               reachable_level(entry, now, settings.fallback_after_s))  # fmt: skip
        if key not in seen:
            seen[key] = staffing(entry, agents, now, settings.fallback_after_s)
        staffed, free, ready = seen[key]
        if entry.state == "offered":
            wait: float | None = 0.0
            level = entry.fallback_level
        else:
            samples = handle_times.get(entry.line, ())
            wait = expected_wait(pos[ticket], staffed, free, samples, settings.default_handle_time_s)
            level = reachable_level(entry, now, settings.fallback_after_s)
        out[ticket] = QueueStatus(ticket, entry.work_order_id, entry.state, pos[ticket], wait, ready, level)
    return out
