"""The supervisors' live wall: every few seconds each process sends its connected supervisors a
snapshot of queues, agents, calls and unresolved work orders within their org subtree."""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from helpdesk.accounts.models import Role, Staff
from helpdesk.applicants.models import Applicant
from helpdesk.org.models import OrgUnit, ServiceItem
from helpdesk.outage import log_failure
from helpdesk.state import AppState
from helpdesk.tasks import start_background
from helpdesk.workorders.models import WorkOrder, WorkOrderStatus

log = logging.getLogger(__name__)
SNAPSHOT_EVERY_S = 2.0
UNRESOLVED = (WorkOrderStatus.unresolved, WorkOrderStatus.callback_pending, WorkOrderStatus.wrap_up)
UNRESOLVED_LIMIT = 200


@dataclass(frozen=True)
class Watcher:
    staff_id: int
    unit_path: str  # "" for an admin: everything

    def sees(self, path: str | None) -> bool:
        return not self.unit_path or bool(path and path.startswith(self.unit_path))


class SupervisorFeed:
    def __init__(self, state: AppState) -> None:
        self.state = state
        self.watchers: dict[str, Watcher] = {}

    async def watch(self, member: str, staff: Staff) -> None:
        if staff.role not in (Role.supervisor, Role.admin):
            return
        path = ""
        if staff.role == Role.supervisor:
            async with self.state.sessions() as session:
                path = await session.scalar(select(OrgUnit.path).where(OrgUnit.id == staff.unit_id)) or "/none/"
        self.watchers[member] = Watcher(staff.id, path)

    def unwatch(self, member: str) -> None:
        self.watchers.pop(member, None)

    async def push(self) -> None:
        if not self.watchers:
            return
        journey = self.state.components["journey"]
        base = await self.gather(journey)
        for member, watcher in list(self.watchers.items()):
            await journey.hub.send(member, self.scoped(base, watcher))

    async def gather(self, journey: Any) -> dict[str, Any]:
        now = self.state.clock.now()
        async with self.state.sessions() as s:
            units = {u.id: u for u in (await s.scalars(select(OrgUnit))).all()}
            items = {i: n for i, n in await s.execute(select(ServiceItem.id, ServiceItem.name))}
            staff = {i: n for i, n in await s.execute(select(Staff.id, Staff.display_name))}
            calls = (await s.execute(
                select(WorkOrder, Applicant.name).join(Applicant, Applicant.id == WorkOrder.applicant_id)
                .where(WorkOrder.status == WorkOrderStatus.in_call))).all()
            unresolved = (await s.scalars(
                select(WorkOrder).where(WorkOrder.status.in_(UNRESOLVED))
                .order_by(WorkOrder.created_at).limit(UNRESOLVED_LIMIT))).all()
        waiting = await journey.queue.store.list_waiting()
        agents = await journey.queue.store.list_agents()
        ts = now.timestamp()

        def unit(uid: int | None) -> tuple[str | None, str | None]:
            u = units.get(uid) if uid is not None else None
            return (u.name, u.path) if u else (None, None)

        lines: dict[tuple[int, int], dict[str, Any]] = {}
        for e in waiting:
            name, path = unit(e.unit_id)
            row = lines.setdefault((e.unit_id, e.item_id), {
                "unit_id": e.unit_id, "unit_name": name, "item_id": e.item_id, "item_name": items.get(e.item_id),
                "waiting": 0, "longest_wait_s": 0.0, "_path": path})
            row["waiting"] += 1
            row["longest_wait_s"] = max(row["longest_wait_s"], round(ts - e.enqueued_at, 1))
        return {
            "at": now.isoformat(),
            "queues": list(lines.values()),
            "agents": [{"id": a.agent_id, "name": staff.get(a.agent_id), "unit_name": unit(a.unit_id)[0],
                        "state": a.state, "active_calls": a.active_calls, "capacity": a.capacity,
                        "missed_offers": a.missed_offers, "_path": unit(a.unit_id)[1]}
                       for a in agents if a.state != "offline"],
            "calls": [{"work_order": wo.id, "number": wo.number, "agent_name": staff.get(wo.agent_id or 0),
                       "applicant_name": applicant_name, "item_name": items.get(wo.item_id),
                       "unit_name": unit(wo.handled_unit_id or wo.unit_id)[0], "fallback_level": wo.fallback_level,
                       "talk_s": round(ts - wo.answered_at.timestamp(), 1) if wo.answered_at else 0,
                       "_paths": (unit(wo.unit_id)[1], unit(wo.handled_unit_id)[1])}
                      for wo, applicant_name in calls],
            "unresolved": [{"work_order": wo.id, "number": wo.number, "item_name": items.get(wo.item_id),
                            "unit_name": unit(wo.unit_id)[0], "status": wo.status.value,
                            "flag": getattr(wo, "flag", None) or "none",
                            "age_s": round(ts - wo.created_at.timestamp(), 1),
                            "owner_name": staff.get(wo.owner_id or 0), "due_at": iso(wo.due_at),
                            "_paths": (unit(wo.unit_id)[1], unit(wo.handled_unit_id)[1])}
                           for wo in unresolved],
        }

    @staticmethod
    def scoped(base: dict[str, Any], w: Watcher) -> dict[str, Any]:
        def keep(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
            out = []
            for row in rows:
                paths = row.get("_paths") or (row.get("_path"),)
                if any(w.sees(p) for p in paths):
                    out.append({k: v for k, v in row.items() if not k.startswith("_")})
            return out

        queues, agents = keep(base["queues"]), keep(base["agents"])
        calls, unresolved = keep(base["calls"]), keep(base["unresolved"])
        return {
            "type": "supervisor.snapshot", "at": base["at"], "queues": queues, "agents": agents, "calls": calls,
            "unresolved": unresolved,
            "totals": {
                "waiting": sum(q["waiting"] for q in queues),
                "agents_ready": sum(1 for a in agents if a["state"] == "ready"),
                "agents_busy": sum(1 for a in agents if a["state"] in ("busy", "offered", "wrap_up")),
                "calls": len(calls),
                "red": sum(1 for u in unresolved if u["flag"] == "red"),
                "escalated": sum(1 for u in unresolved if u["flag"] == "escalated"),
            },
        }


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


async def wire_supervision(state: AppState, stack: AsyncExitStack) -> None:
    feed = SupervisorFeed(state)
    state.components["supervision"] = feed
    start_background(stack, run_feed(feed), "supervisor-feed")


async def run_feed(feed: SupervisorFeed) -> None:
    while True:
        await asyncio.sleep(SNAPSHOT_EVERY_S)
        try:
            await feed.push()
        except Exception as exc:  # one failed round must not end the wall; the cause is logged
            log_failure(log, exc, "supervisor snapshot failed")
