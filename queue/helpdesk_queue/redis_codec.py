"""How a waiting entry and an agent's presence are written in their Redis hashes (q:e:{ticket},
q:a:{agent_id}; docs/redis.md): the field names the Lua scripts (redis_scripts.py, redis_routing.py)
read and write too. Values are strings; floats as repr(), so they come back exact."""

from __future__ import annotations

import json
from typing import Any

from helpdesk_queue import index, redis_routing
from helpdesk_queue.models import AgentPresence, WaitingEntry


def _opt(value: str) -> float | None:
    return float(value) if value else None


def encode_entry(e: WaitingEntry) -> dict[str, str]:
    return {
        "ticket": e.ticket, "wo": e.work_order_id, "chain": json.dumps(e.unit_chain), "item": str(e.item_id),
        "dept": str(e.department_id), "prio": str(e.priority), "at": repr(e.enqueued_at), "state": e.state,
        "to": "" if e.offered_to is None else str(e.offered_to), "lvl": str(e.fallback_level),
        "exp": "" if e.offer_expires_at is None else repr(e.offer_expires_at), "line": e.line,
        "declined": ",".join(str(a) for a in e.declined_by),
        "pin": "" if e.pinned_agent is None else str(e.pinned_agent), "reach": str(e.reach),
        "sc": repr(index.entry_score(e)),
    }  # fmt: skip


def decode_entry(h: dict[str, str]) -> WaitingEntry:
    return WaitingEntry(
        h["ticket"], h["wo"], json.loads(h["chain"]), int(h["item"]), int(h["dept"]),
        priority=int(h["prio"]), enqueued_at=float(h["at"]), state=h["state"],  # type: ignore[arg-type]
        offered_to=int(h["to"]) if h["to"] else None, fallback_level=int(h["lvl"]),
        offer_expires_at=_opt(h["exp"]), declined_by=[int(a) for a in h["declined"].split(",") if a],
        pinned_agent=int(h["pin"]) if h.get("pin") else None, reach=int(h.get("reach") or 0),
    )  # fmt: skip


def decode_row(f: list[Any]) -> WaitingEntry:
    """An entry from its fields in redis_routing.ENTRY_FIELDS order (missing ones are None)."""
    return decode_entry(dict(zip(redis_routing.ENTRY_FIELDS, (v or "" for v in f), strict=True)))


def encode_agent(a: AgentPresence) -> dict[str, str]:
    return {
        "id": str(a.agent_id), "unit": str(a.unit_id), "items": json.dumps(sorted(a.item_ids)),
        "depts": json.dumps(sorted(a.department_ids)), "cap": str(a.capacity), "calls": str(a.active_calls),
        "pending": str(a.pending_offers), "state": a.state, "idle": repr(a.idle_since),
        "missed": str(a.missed_offers), "hb": repr(a.last_heartbeat),
        "wrap": "" if a.wrapup_until is None else repr(a.wrapup_until), "ik": " ".join(index.agent_keys(a)),
        "call": "" if a.call_since is None else repr(a.call_since),
    }  # fmt: skip


def decode_agent(h: dict[str, str]) -> AgentPresence:
    return AgentPresence(
        int(h["id"]), int(h["unit"]), set(json.loads(h["items"])), set(json.loads(h["depts"])),
        capacity=int(h["cap"]), active_calls=int(h["calls"]), pending_offers=int(h["pending"]),
        state=h["state"], idle_since=float(h["idle"]), missed_offers=int(h["missed"]),  # type: ignore[arg-type]
        last_heartbeat=float(h["hb"]), wrapup_until=_opt(h["wrap"]), call_since=_opt(h.get("call", "")),
    )  # fmt: skip
