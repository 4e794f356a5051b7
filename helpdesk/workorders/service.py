"""Work order rules: every state change is stamped and written to the timeline. Services flush;
the caller (request, socket message, job) commits."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk import integration
from helpdesk.accountability import audit
from helpdesk.errors import Conflict
from helpdesk.workorders.models import (
    Channel,
    ChatMessage,
    FileAttachment,
    Outcome,
    WorkOrder,
    WorkOrderEvent,
    WorkOrderStatus,
)

OPEN_STATES = {WorkOrderStatus.queued, WorkOrderStatus.offered, WorkOrderStatus.in_call}
OUTCOME_STATUS = {
    Outcome.resolved: WorkOrderStatus.resolved,
    Outcome.unresolved: WorkOrderStatus.unresolved,
    Outcome.follow_up: WorkOrderStatus.unresolved,
    Outcome.transferred: WorkOrderStatus.transferred,
    Outcome.callback: WorkOrderStatus.callback_pending,
}


def new_number(now: datetime) -> str:
    """Human-readable and unique without a shared counter: VH + Beijing date + random suffix."""
    from zoneinfo import ZoneInfo

    day = now.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y%m%d")
    return f"VH{day}-{secrets.token_hex(3).upper()}"


async def record_event(session: AsyncSession, wo: WorkOrder, kind: str, actor: str, now: datetime,
                       **data: Any) -> WorkOrderEvent:
    """Appends to the work order's hash-chained audit log (with the caller's ip and process)."""
    wo.updated_at = now
    event = await audit.append(session, wo, kind=kind, actor=actor, at=now, data=data)
    await integration.capture(session, wo, kind=kind, data=data, now=now)  # the outbox, same transaction
    return event


async def create_request(session: AsyncSession, *, applicant_id: str, item_id: int, unit_id: int,
                         channel: Channel, priority: int, handoff: dict[str, Any] | None,
                         now: datetime, package_id: int | None = None) -> WorkOrder:
    wo = WorkOrder(
        number=new_number(now), applicant_id=applicant_id, item_id=item_id, unit_id=unit_id,
        status=WorkOrderStatus.queued, channel=channel, priority=priority, handoff=handoff, package_id=package_id,
        queued_at=now, created_at=now, updated_at=now,
    )
    session.add(wo)
    await session.flush()
    await record_event(session, wo, "queued", f"a:{applicant_id}", now, channel=channel.value,
                       priority=priority)
    return wo


async def create_callback(session: AsyncSession, *, applicant_id: str, item_id: int, unit_id: int,
                          phone: str, preferred_time: str | None, note: str | None, reason: str,
                          now: datetime) -> WorkOrder:
    wo = WorkOrder(
        number=new_number(now), applicant_id=applicant_id, item_id=item_id, unit_id=unit_id,
        status=WorkOrderStatus.callback_pending, channel=Channel.callback, priority=0,
        callback_phone=phone, callback_at=preferred_time, notes=note or "",
        created_at=now, updated_at=now,
    )
    session.add(wo)
    await session.flush()
    await record_event(session, wo, "callback_requested", f"a:{applicant_id}", now, reason=reason,
                       preferred_time=preferred_time)
    return wo


async def mark_offered(session: AsyncSession, wo: WorkOrder, agent_id: int, now: datetime,
                       fallback_level: int) -> None:
    wo.status = WorkOrderStatus.offered
    wo.offered_at = wo.offered_at or now
    await record_event(session, wo, "offered", "system", now, agent_id=agent_id,
                       fallback_level=fallback_level)


async def mark_offer_revoked(session: AsyncSession, wo: WorkOrder, agent_id: int, reason: str,
                             now: datetime) -> None:
    if wo.status == WorkOrderStatus.offered:
        wo.status = WorkOrderStatus.queued
    wo.offers_declined += 1
    await record_event(session, wo, "offer_revoked", f"s:{agent_id}", now, reason=reason)


async def mark_answered(session: AsyncSession, wo: WorkOrder, *, agent_id: int, agent_unit_id: int,
                        fallback_level: int, now: datetime) -> None:
    if wo.status not in (WorkOrderStatus.queued, WorkOrderStatus.offered):
        raise Conflict(f"work order {wo.number} is {wo.status}, not waiting")
    wo.status = WorkOrderStatus.in_call
    wo.agent_id = agent_id
    wo.owner_id = agent_id
    wo.handled_unit_id = agent_unit_id
    wo.fallback_level = fallback_level
    wo.answered_at = now
    wo.offered_at = wo.offered_at or now
    if wo.queued_at:
        wo.wait_s = (now - wo.queued_at).total_seconds()
    await record_event(session, wo, "answered", f"s:{agent_id}", now, fallback_level=fallback_level,
                       wait_s=wo.wait_s)
    if fallback_level:
        await record_event(session, wo, "fallback", "system", now, level=fallback_level,
                           from_unit_id=wo.unit_id, to_unit_id=agent_unit_id)


async def mark_ended(session: AsyncSession, wo: WorkOrder, *, reason: str, by: str, now: datetime) -> bool:
    """Ends the call once; returns False when it had already ended (hang-up from both sides)."""
    if wo.status != WorkOrderStatus.in_call:
        return False
    wo.status = WorkOrderStatus.wrap_up
    wo.ended_at = now
    wo.ended_reason = reason
    if wo.answered_at:
        wo.talk_s = (now - wo.answered_at).total_seconds()
    await record_event(session, wo, "ended", by, now, reason=reason, talk_s=wo.talk_s)
    return True


async def record_drop(session: AsyncSession, wo: WorkOrder, *, member: str, kind: str, now: datetime) -> None:
    """A peer's socket dropped (kind=dropped), came back (resumed) or never did (expired).

    Kept as timeline events only: appends never lose each other, unlike a list column."""
    await record_event(session, wo, f"peer_{kind}", member, now)


async def mark_abandoned(session: AsyncSession, wo: WorkOrder, *, waited_s: float, now: datetime) -> None:
    if wo.status not in (WorkOrderStatus.queued, WorkOrderStatus.offered):
        return
    wo.status = WorkOrderStatus.abandoned
    wo.abandoned_at = now
    wo.wait_s = waited_s
    await record_event(session, wo, "abandoned", f"a:{wo.applicant_id}", now, waited_s=waited_s)


async def wrap_up(session: AsyncSession, wo: WorkOrder, *, outcome: Outcome, notes: str, staff_id: int,
                  now: datetime) -> None:
    if wo.status != WorkOrderStatus.wrap_up:
        raise Conflict(f"work order {wo.number} is {wo.status}; hang up before wrapping up")
    wo.outcome = outcome
    wo.notes = notes
    wo.status = OUTCOME_STATUS[outcome]
    await record_event(session, wo, "wrapped_up", f"s:{staff_id}", now, outcome=outcome.value)


async def rate(session: AsyncSession, wo: WorkOrder, *, rating: int, comment: str | None, now: datetime) -> None:
    if wo.answered_at is None or wo.ended_at is None:
        raise Conflict("only a finished call can be rated")
    if wo.rating is not None:
        raise Conflict("this call has been rated already")
    wo.rating = rating
    wo.rating_comment = comment
    await record_event(session, wo, "rated", f"a:{wo.applicant_id}", now, rating=rating)


async def add_chat(session: AsyncSession, wo: WorkOrder, *, sender_kind: str, sender_id: str, text: str,
                   now: datetime) -> ChatMessage:
    msg = ChatMessage(work_order_id=wo.id, at=now, sender_kind=sender_kind, sender_id=sender_id, text=text)
    session.add(msg)
    await session.flush()
    return msg


async def add_file(session: AsyncSession, wo: WorkOrder | None, **fields: Any) -> FileAttachment:
    row = FileAttachment(work_order_id=wo.id if wo else None, **fields)
    session.add(row)
    await session.flush()
    if wo is not None:
        await record_event(session, wo, "file_shared", f"{row.uploader_kind[0]}:{row.uploader_id}",
                           row.created_at, file_id=row.id, filename=row.filename, source=row.source,
                           sha256=row.sha256)  # the file's hash joins the chain
    return row
