"""Routing as pure functions: who is eligible, who gets whom, positions and the expected wait.

Rules: an entry is eligible for an agent at fallback level k when the agent sits in
`unit_chain[k]` and k ≤ floor(waited / fallback_after_s) (township → county → city); the agent has
the item or its department as a skill; the agent works with a free slot and has not declined or
missed this entry before. The longest-waiting entry (priority first) goes to the nearest level that
has an eligible agent, and there to the least-loaded, longest-idle agent (smallest `idle_since`).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence

from helpdesk_queue.models import AgentPresence, Assignment, WaitingEntry

Rank = tuple[int, float, int]  # (load, idle_since, agent_id): smaller is preferred
SkillKey = tuple[str, int, int]  # ("i", unit, item) or ("d", unit, department)


def reachable_level(entry: WaitingEntry, now: float, fallback_after_s: float) -> int:
    """The highest fallback level the entry's waiting time has opened."""
    top = len(entry.unit_chain) - 1
    if fallback_after_s <= 0:
        return top
    return min(top, int(max(0.0, now - entry.enqueued_at) // fallback_after_s))


def eligible_level(
    entry: WaitingEntry, agent: AgentPresence, now: float, fallback_after_s: float
) -> int | None:
    """The fallback level at which `agent` may serve `entry`, or None (ignores free capacity)."""
    pin = entry.active_pin
    if pin is not None:  # a named colleague: their desk, whatever the skills or the wait
        if agent.agent_id != pin or agent.unit_id not in entry.unit_chain:
            return None
        return entry.unit_chain.index(agent.unit_id)
    if not agent.skilled_for(entry.item_id, entry.department_id) or agent.agent_id in entry.declined_by:
        return None
    for level in range(reachable_level(entry, now, fallback_after_s) + 1):
        if entry.unit_chain[level] == agent.unit_id:
            return level
    return None


def agent_rank(agent: AgentPresence) -> Rank:
    return (agent.active_calls + agent.pending_offers, agent.idle_since, agent.agent_id)


def queue_order(entries: Iterable[WaitingEntry]) -> list[WaitingEntry]:
    return sorted(entries, key=WaitingEntry.sort_key)


def plan(
    entries: Sequence[WaitingEntry], agents: Sequence[AgentPresence], now: float, fallback_after_s: float
) -> list[Assignment]:
    """As many assignments as one pass can make, never beyond an agent's free capacity.

    Agents are indexed by (unit, skill) in heaps keyed by rank, so each entry costs a few heap
    peeks per fallback level instead of a scan over every agent.
    """
    free = {a.agent_id: a.free for a in agents if a.routable}
    remaining = sum(free.values())
    if not remaining:
        return []
    load = {a.agent_id: a.active_calls + a.pending_offers for a in agents if a.agent_id in free}
    heaps: dict[SkillKey, list[Rank]] = {}
    keys_of: dict[int, list[SkillKey]] = {}
    for a in agents:
        if a.agent_id not in free:
            continue
        keys: list[SkillKey] = [("i", a.unit_id, i) for i in a.item_ids]
        keys += [("d", a.unit_id, d) for d in a.department_ids]
        keys_of[a.agent_id] = keys
        for key in keys:
            heaps.setdefault(key, []).append(agent_rank(a))
    for heap in heaps.values():
        heapq.heapify(heap)

    def best_in(key: SkillKey, declined: list[int]) -> Rank | None:
        heap = heaps.get(key)
        if not heap:
            return None
        skipped: list[Rank] = []
        found: Rank | None = None
        while heap:
            rank = heap[0]
            if free[rank[2]] <= 0 or load[rank[2]] != rank[0]:
                heapq.heappop(heap)  # stale: the agent was filled or re-ranked in this pass
            elif rank[2] in declined:
                skipped.append(heapq.heappop(heap))  # still good for other entries
            else:
                found = rank
                break
        for rank in skipped:
            heapq.heappush(heap, rank)
        return found

    out: list[Assignment] = []
    by_id = {a.agent_id: a for a in agents}
    for entry in queue_order(e for e in entries if e.state == "waiting"):
        pin = entry.active_pin
        if pin is not None:  # only the named colleague (see eligible_level)
            pinned = by_id.get(pin)
            if pinned is not None and free.get(pin, 0) > 0 and pinned.unit_id in entry.unit_chain:
                out.append(Assignment(entry.ticket, pin, entry.unit_chain.index(pinned.unit_id)))
                free[pin] -= 1
                load[pin] += 1
                remaining -= 1
                if free[pin] > 0:
                    for key in keys_of[pin]:
                        heapq.heappush(heaps[key], (load[pin], pinned.idle_since, pin))
                if not remaining:
                    break
            continue
        top = reachable_level(entry, now, fallback_after_s)
        for level in range(top + 1):
            unit = entry.unit_chain[level]
            found = [
                r
                for r in (
                    best_in(("i", unit, entry.item_id), entry.declined_by),
                    best_in(("d", unit, entry.department_id), entry.declined_by),
                )
                if r is not None
            ]
            if not found:
                continue
            agent_id = min(found)[2]
            out.append(Assignment(entry.ticket, agent_id, level))
            free[agent_id] -= 1
            load[agent_id] += 1
            remaining -= 1
            if free[agent_id] > 0:
                rank = (load[agent_id], min(found)[1], agent_id)
                for key in keys_of[agent_id]:
                    heapq.heappush(heaps[key], rank)
            break
        if not remaining:
            break
    return out


def plan_naive(
    entries: Sequence[WaitingEntry], agents: Sequence[AgentPresence], now: float, fallback_after_s: float
) -> list[Assignment]:
    """The same decisions by a plain O(entries × agents) scan: the bench baseline and test oracle."""
    free = {a.agent_id: a.free for a in agents if a.routable}
    load = {a.agent_id: a.active_calls + a.pending_offers for a in agents}
    out: list[Assignment] = []
    for entry in queue_order(e for e in entries if e.state == "waiting"):
        best: tuple[int, int, float, int] | None = None
        for a in agents:
            if free.get(a.agent_id, 0) <= 0:
                continue
            level = eligible_level(entry, a, now, fallback_after_s)
            if level is not None:
                cand = (level, load[a.agent_id], a.idle_since, a.agent_id)
                best = cand if best is None or cand < best else best
        if best is not None:
            out.append(Assignment(entry.ticket, best[3], best[0]))
            free[best[3]] -= 1
            load[best[3]] += 1
    return out
