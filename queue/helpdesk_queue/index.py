"""The routing index's keys and scores, shared by both stores so they index exactly alike.

Waiting entries sit in one ordered set per (unit, item) and per (unit, department) for every unit
their fallback has opened (`reach`); an entry pinned to a named colleague sits only in that
agent's pin set. Routable agents (working, with a free slot) sit in one ordered set per
(unit, item skill) and (unit, department skill), ranked by load, then idle-since, then id.
"""

from __future__ import annotations

from helpdesk_queue.models import AgentPresence, WaitingEntry

# Agent score = load · 1e10 + idle_since: exact order for idle_since below 1e10 (year 2286).
LOAD_WEIGHT = 1e10


def entry_keys(entry: WaitingEntry) -> list[str]:
    """Where a waiting entry is indexed: the lines of every opened level, or its pinned agent."""
    if entry.active_pin is not None:
        return [f"pin:{entry.active_pin}"]
    keys: list[str] = []
    for unit in entry.unit_chain[: entry.reach + 1]:
        keys += [f"{unit}:i:{entry.item_id}", f"{unit}:d:{entry.department_id}"]
    return keys


def entry_score(entry: WaitingEntry) -> float:
    """Queue order as one number (priority desc, then arrival); readers re-sort by the exact key."""
    return -entry.priority * 1e10 + entry.enqueued_at


def agent_keys(agent: AgentPresence) -> list[str]:
    """The (unit, skill) sets a routable agent sits in; its pin set is looked up beside them."""
    keys = [f"{agent.unit_id}:i:{i}" for i in sorted(agent.item_ids)]
    return keys + [f"{agent.unit_id}:d:{d}" for d in sorted(agent.department_ids)]


def agent_score(agent: AgentPresence) -> float:
    return (agent.active_calls + agent.pending_offers) * LOAD_WEIGHT + agent.idle_since


def level_keys(entry: WaitingEntry, level: int) -> list[str]:
    """The agent sets that may serve `entry` at fallback `level`."""
    unit = entry.unit_chain[level]
    return [f"{unit}:i:{entry.item_id}", f"{unit}:d:{entry.department_id}"]
