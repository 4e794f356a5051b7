"""Staff routes of work orders: lists within the caller's scope, the full record, wrap-up."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Query
from sqlalchemy import select

from helpdesk.accountability.service import open_followup
from helpdesk.deps import ClockDep, CurrentStaff, SessionDep, SettingsDep
from helpdesk.errors import Forbidden
from helpdesk.journey.schemas import WrapUpIn
from helpdesk.org.calendar import SHANGHAI
from helpdesk.org.models import Department, OrgUnit, ServiceItem
from helpdesk.workorders import repository as repo
from helpdesk.workorders import service
from helpdesk.workorders.models import Outcome, WorkOrder, WorkOrderStatus

router = APIRouter(tags=["workorders"])
FOLLOW_UP_STATES = {WorkOrderStatus.unresolved, WorkOrderStatus.callback_pending}


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def summary(wo: WorkOrder) -> dict[str, Any]:
    return {
        "id": wo.id, "number": wo.number, "status": wo.status.value, "channel": wo.channel.value,
        "item_id": wo.item_id, "unit_id": wo.unit_id, "handled_unit_id": wo.handled_unit_id,
        "agent_id": wo.agent_id, "owner_id": wo.owner_id, "applicant_id": wo.applicant_id,
        "priority": wo.priority, "handoff": wo.handoff,
        "queued_at": iso(wo.queued_at), "offered_at": iso(wo.offered_at), "answered_at": iso(wo.answered_at),
        "ended_at": iso(wo.ended_at), "abandoned_at": iso(wo.abandoned_at),
        "wait_s": wo.wait_s, "talk_s": wo.talk_s, "outcome": wo.outcome.value if wo.outcome else None,
        "notes": wo.notes, "rating": wo.rating, "rating_comment": wo.rating_comment,
        "fallback_level": wo.fallback_level, "offers_declined": wo.offers_declined,
        "ended_reason": wo.ended_reason, "callback_phone": wo.callback_phone, "callback_at": wo.callback_at,
        "due_at": iso(wo.due_at), "created_at": iso(wo.created_at), "updated_at": iso(wo.updated_at),
        "transferred_from_id": wo.transferred_from_id, "flag": wo.flag, "owner_unit_id": wo.owner_unit_id,
        "claimed_at": iso(wo.claimed_at),
    }


@router.get("/api/workorders")
async def list_work_orders(staff: CurrentStaff, session: SessionDep, mine: bool = False,
                           status: WorkOrderStatus | None = None, since: datetime | None = None,
                           outcome: Outcome | None = None, day: date | None = None,
                           q: str | None = Query(None, max_length=64),
                           limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0)) -> list[dict[str, Any]]:
    """The caller's scope; `q` finds a number, item or applicant phone; `day` is a local (Beijing) date."""
    until = None
    if day is not None:
        since = datetime.combine(day, time(), SHANGHAI)
        until = since + timedelta(days=1)
    rows = await repo.list_visible(session, staff, mine=mine, status=status, since=since, limit=limit,
                                   offset=offset, search=(q or "").strip() or None, outcome=outcome, until=until)
    names = await session.execute(select(ServiceItem.id, ServiceItem.name, ServiceItem.name_en)
                                  .where(ServiceItem.id.in_({r.item_id for r in rows})))
    items = {i: (n, en) for i, n, en in names}
    return [summary(r) | {"item_name": items.get(r.item_id, (None, None))[0],
                          "item_name_en": items.get(r.item_id, (None, None))[1]} for r in rows]


@router.get("/api/workorders/{work_order_id}")
async def get_work_order(work_order_id: str, staff: CurrentStaff, session: SessionDep) -> dict[str, Any]:
    wo = await repo.get_visible(session, staff, work_order_id)
    events, chat, files = await repo.timeline(session, wo.id)
    item = await session.get(ServiceItem, wo.item_id)
    unit = await session.get(OrgUnit, wo.unit_id)
    dept = await session.get(Department, item.department_id) if item and item.department_id else None
    drops = [{"member": e.actor, "kind": e.kind.removeprefix("peer_"), "at": iso(e.at)}
             for e in events if e.kind.startswith("peer_")]
    return summary(wo) | {
        "drops": drops,
        "item": {"code": item.code, "name": item.name, "name_en": item.name_en} if item else None,
        "unit": {"id": unit.id, "name": unit.name, "name_en": unit.name_en} if unit else None,
        "department": {"name": dept.name, "name_en": dept.name_en} if dept else None,
        "events": [{"at": iso(e.at), "kind": e.kind, "actor": e.actor, "data": e.data} for e in events],
        "chat": [{"id": c.id, "at": iso(c.at), "sender_kind": c.sender_kind, "sender_id": c.sender_id,
                  "text": c.text} for c in chat],
        "files": [{"id": f.id, "name": f.filename, "content_type": f.content_type, "size": f.size,
                   "sha256": f.sha256, "source": f.source, "url": f"/api/files/{f.id}",
                   "uploader_kind": f.uploader_kind, "created_at": iso(f.created_at)} for f in files],
    }


@router.post("/api/workorders/{work_order_id}/wrapup")
async def wrap_up(work_order_id: str, body: WrapUpIn, staff: CurrentStaff, session: SessionDep,
                  clock: ClockDep, settings: SettingsDep) -> dict[str, Any]:
    wo = await repo.get_visible(session, staff, work_order_id)
    if wo.agent_id != staff.id:
        raise Forbidden("only the agent who took the call wraps it up")
    now = clock.now()
    await service.wrap_up(session, wo, outcome=body.outcome, notes=body.notes, staff_id=staff.id, now=now)
    if wo.status in FOLLOW_UP_STATES:  # the unresolved clock starts now, not at the next sweep
        await open_followup(session, settings, wo, now, by=f"s:{staff.id}")
    await session.commit()
    return summary(wo)
