"""The transactional outbox: a work order's timeline entry that partners care about becomes an
integration event (and one delivery row per matching webhook subscription) in the SAME transaction
as the step. A crash before the commit loses both the step and the event; after it, the sender
finds the rows and delivers them. Nothing is sent from inside a request.

Called from `helpdesk.workorders.service.record_event`, the one place every timeline entry passes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk.db import new_id
from helpdesk.integration.models import EventDelivery, IntegrationEvent, WebhookSubscription
from helpdesk.org.models import OrgUnit, ServiceItem
from helpdesk.workorders.models import WorkOrder

# Timeline kind → the lifecycle events it announces. wrapped_up fans out by outcome below.
EVENT_TYPES: dict[str, tuple[str, ...]] = {
    "queued": ("work_order.created", "work_order.queued"),
    "callback_requested": ("work_order.created", "callback.scheduled"),
    "answered": ("work_order.answered",),
    "transfer_requested": ("work_order.transferred",),
    "ended": ("work_order.ended",),
    "wrapped_up": ("work_order.wrapped_up",),
    "reminded": ("work_order.reminded",),
    "flagged_red": ("work_order.red",),
    "escalated": ("work_order.escalated",),
    "resolved": ("work_order.resolved",),
    "rated": ("work_order.rated",),
    "callback_missed": ("callback.missed",),
    "inspection_passed": ("inspection.passed",),
    "inspection_failed": ("inspection.failed",),
    "inspection_rectify": ("inspection.rectify",),
}
OUTCOME_EVENTS = {"resolved": "work_order.resolved", "unresolved": "work_order.unresolved",
                  "follow_up": "work_order.unresolved"}
ALL_TYPES = sorted({t for ts in EVENT_TYPES.values() for t in ts} | set(OUTCOME_EVENTS.values()))
# Only these data fields leave the building: no notes, no phone numbers, no staff lists.
PUBLIC_DATA = {"reached", "channel", "priority", "outcome", "rating", "reason", "level", "wait_s", "talk_s",
               "fallback_level", "to_work_order", "to_unit_id", "preferred_time", "due", "inspection_id"}

ACTIVE_SUBSCRIPTIONS = select(WebhookSubscription).where(WebhookSubscription.active.is_(True))  # built once


def types_for(kind: str, data: dict[str, Any]) -> tuple[str, ...]:
    types = EVENT_TYPES.get(kind, ())
    if kind == "wrapped_up" and (extra := OUTCOME_EVENTS.get(str(data.get("outcome")))):
        types = (*types, extra)
    if kind == "called_back":  # a call-back that reached the applicant is its answer
        types = ("work_order.answered",) if data.get("reached") else ("callback.missed",)
    return types


async def work_order_view(session: AsyncSession, wo: WorkOrder) -> dict[str, Any]:
    """What a partner sees of a work order (codes rather than our internal ids)."""
    item = await session.get(ServiceItem, wo.item_id)
    unit = await session.get(OrgUnit, wo.unit_id)
    handled = await session.get(OrgUnit, wo.handled_unit_id) if wo.handled_unit_id else None
    package = (wo.handoff or {}).get("package") if isinstance(wo.handoff, dict) else None
    if isinstance(package, dict):
        package = {"code": package.get("code"), "items": package.get("items")}
    return {
        "id": wo.id, "number": wo.number, "status": str(wo.status), "channel": str(wo.channel),
        "item": item.code if item else None, "unit": unit.code if unit else None,
        "handled_unit": handled.code if handled else None, "outcome": str(wo.outcome) if wo.outcome else None,
        "package": package, "rating": wo.rating, "flag": wo.flag,
        "queued_at": _iso(wo.queued_at), "answered_at": _iso(wo.answered_at), "ended_at": _iso(wo.ended_at),
        "created_at": _iso(wo.created_at), "updated_at": _iso(wo.updated_at),
    }


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


async def capture(session: AsyncSession, wo: WorkOrder, *, kind: str, data: dict[str, Any], now: datetime) -> None:
    """Writes the lifecycle events of one timeline entry into the outbox (flush only: the step commits)."""
    types = types_for(kind, data)
    if not types:
        return
    unit = await session.get(OrgUnit, wo.unit_id)  # first, and held: the view reads it (the identity map is weak)
    view = await work_order_view(session, wo)
    public = {k: v for k, v in data.items() if k in PUBLIC_DATA}
    subs = (await session.scalars(ACTIVE_SUBSCRIPTIONS)).all()
    sub_paths = await _unit_paths(session, {s.unit_id for s in subs if s.unit_id})
    deliveries = []
    for event_type in types:
        event_id = new_id()  # the idempotency key inside the payload: chosen here, one INSERT with it
        event = IntegrationEvent(id=event_id, type=event_type, work_order_id=wo.id,
                                 unit_path=unit.path if unit else "", created_at=now,
                                 payload={"id": event_id, "type": event_type, "occurred_at": now.isoformat(),
                                          "work_order": view, "data": public})
        session.add(event)
        deliveries += [EventDelivery(event_id=event_id, subscription_id=sub.id, status="pending",
                                     next_attempt_at=now, created_at=now)
                       for sub in subs if wants(sub, event_type, event.unit_path, sub_paths)]
    if deliveries:
        await session.flush()  # the events' rows first: the deliveries point at them
        session.add_all(deliveries)
    await session.flush()


def wants(sub: WebhookSubscription, event_type: str, unit_path: str, sub_paths: dict[int, str]) -> bool:
    if "*" not in sub.events and event_type not in sub.events:
        return False
    return sub.unit_id is None or unit_path.startswith(sub_paths.get(sub.unit_id, "\0"))


async def _unit_paths(session: AsyncSession, unit_ids: set[int]) -> dict[int, str]:
    if not unit_ids:
        return {}
    rows = await session.execute(select(OrgUnit.id, OrgUnit.path).where(OrgUnit.id.in_(unit_ids)))
    return {r.id: r.path for r in rows}
