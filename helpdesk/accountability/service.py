"""Follow-up rules for unresolved and callback work orders: open the clock, claim, note, call back,
resolve, reassign. Services flush; the caller commits, then sends the returned notifications."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, update
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk.accountability import policy
from helpdesk.accountability import repository as repo
from helpdesk.accountability.models import FollowupFlag
from helpdesk.accountability.notify import NotifyEvent
from helpdesk.accounts.models import Role, Staff
from helpdesk.config import Settings
from helpdesk.errors import BadRequest, Conflict, Forbidden
from helpdesk.org.calendar import load_calendar
from helpdesk.privacy.mask import mask_phone
from helpdesk.workorders.models import WorkOrder, WorkOrderStatus
from helpdesk.workorders.service import record_event


def actor(staff: Staff) -> str:
    return f"s:{staff.id}"


def followup_start(wo: WorkOrder) -> datetime:
    """When the clock of an order found in a follow-up state starts: the end of its call, or the
    request for a call back."""
    return wo.ended_at or wo.created_at


def require_open(wo: WorkOrder) -> None:
    if wo.status not in repo.FOLLOWUP_STATES:
        raise Conflict(f"work order {wo.number} is {wo.status}, not awaiting follow-up", code="not_open")


async def open_followup(
    session: AsyncSession, settings: Settings, wo: WorkOrder, now: datetime, by: str = "system"
) -> bool:
    """Starts the clock once (guarded in SQL, so racing sweepers open it once); False if already open."""
    owner_unit = wo.owner_unit_id or (wo.handled_unit_id if wo.owner_id else None) or wo.unit_id
    start = followup_start(wo)
    d = await policy.deadlines_for(session, settings, item_id=wo.item_id, unit_id=owner_unit)
    s = policy.steps(await load_calendar(session, owner_unit), start, d)
    result = await session.execute(
        update(WorkOrder)
        .where(
            WorkOrder.id == wo.id,
            WorkOrder.followup_started_at.is_(None),
            WorkOrder.status.in_(repo.FOLLOWUP_STATES),
        )
        .values(
            owner_unit_id=owner_unit,
            followup_started_at=start,
            remind_at=s.remind_at,
            red_at=s.red_at,
            escalate_at=s.escalate_at,
            due_at=s.due_at,
            flag=FollowupFlag.none,
            escalation_level=0,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    await session.refresh(wo)
    await record_event(
        session,
        wo,
        "followup_opened",
        by,
        now,
        owner_id=wo.owner_id,
        owner_unit_id=owner_unit,
        started_at=start,
        remind_at=s.remind_at,
        red_at=s.red_at,
        escalate_at=s.escalate_at,
        due_at=s.due_at,
    )
    return True


async def _ensure_open(session: AsyncSession, settings: Settings, wo: WorkOrder, now: datetime) -> None:
    require_open(wo)
    if wo.followup_started_at is None:  # acted on before the sweep adopted it
        await open_followup(session, settings, wo, now)


async def claim(
    session: AsyncSession,
    settings: Settings,
    wo: WorkOrder,
    staff: Staff,
    now: datetime,
    *,
    implicit: bool = False,
) -> bool:
    """The first action on an order stops T1/T2/T3; escalation then waits for the resolution deadline.
    Guarded in SQL: two agents claiming at once, one wins. False when it was claimed already."""
    await _ensure_open(session, settings, wo, now)
    if wo.claimed_at is not None:
        if not implicit and wo.owner_id not in (None, staff.id):
            raise Conflict("another agent has claimed this work order", code="claimed")
        return False
    if staff.role == Role.agent and wo.owner_id not in (None, staff.id):
        if implicit:
            return False
        raise Conflict("this work order belongs to another agent", code="claimed")
    owner_unit = wo.owner_unit_id or staff.unit_id
    d = await policy.deadlines_for(session, settings, item_id=wo.item_id, unit_id=owner_unit)
    calendar = await load_calendar(session, owner_unit)
    escalate_at = policy.escalation_after_due(calendar, wo.due_at, d) if wo.due_at else None
    # A supervisor acting on an agent's order marks it acted on without taking it over.
    new_owner = staff.id if staff.role == Role.agent or wo.owner_id is None else wo.owner_id
    result = await session.execute(
        update(WorkOrder)
        .where(
            WorkOrder.id == wo.id,
            WorkOrder.claimed_at.is_(None),
            or_(WorkOrder.owner_id.is_(None), WorkOrder.owner_id == new_owner),
        )
        .values(claimed_at=now, owner_id=new_owner, escalate_at=escalate_at)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        if implicit:
            return False
        raise Conflict("another agent has claimed this work order", code="claimed")
    await session.refresh(wo)
    await record_event(session, wo, "claimed", actor(staff), now, owner_id=new_owner, implicit=implicit)
    return True


async def add_note(
    session: AsyncSession, settings: Settings, wo: WorkOrder, staff: Staff, text: str, now: datetime
) -> None:
    await _ensure_open(session, settings, wo, now)
    await claim(session, settings, wo, staff, now, implicit=True)
    await record_event(session, wo, "note", actor(staff), now, text=text)


async def record_callback(
    session: AsyncSession,
    settings: Settings,
    wo: WorkOrder,
    staff: Staff,
    *,
    reached: bool,
    note: str,
    now: datetime,
) -> None:
    """A call back to the applicant (reached or not); the order stays open until resolved."""
    await _ensure_open(session, settings, wo, now)
    await claim(session, settings, wo, staff, now, implicit=True)
    await record_event(
        session, wo, "called_back", actor(staff), now, reached=reached, note=note, phone=mask_phone(wo.callback_phone)
    )


async def attached(session: AsyncSession, settings: Settings, wo: WorkOrder, staff: Staff, now: datetime) -> None:
    """An attachment is an action too (the file_shared event is written by add_file)."""
    await _ensure_open(session, settings, wo, now)
    await claim(session, settings, wo, staff, now, implicit=True)


async def resolve(session: AsyncSession, wo: WorkOrder, staff: Staff, *, note: str, now: datetime) -> None:
    require_open(wo)
    if staff.role == Role.agent and wo.owner_id not in (None, staff.id):
        raise Forbidden("only the owner or a supervisor resolves this work order")
    if wo.claimed_at is None:
        wo.claimed_at = now
    wo.owner_id = wo.owner_id or staff.id
    wo.status = WorkOrderStatus.resolved
    wo.escalate_at = None
    await record_event(session, wo, "resolved", actor(staff), now, note=note, late=bool(wo.due_at and now > wo.due_at))


async def reassign(
    session: AsyncSession,
    settings: Settings,
    wo: WorkOrder,
    by: Staff,
    *,
    to_staff: Staff | None,
    to_unit_id: int | None,
    reason: str,
    now: datetime,
) -> NotifyEvent:
    """A supervisor hands the order to an agent or a unit: a new claim clock (cycle) for the new
    owner; the resolution deadline stays (the applicant has waited all along)."""
    require_open(wo)
    if not reason.strip():
        raise BadRequest("a reason is required", code="reason_required")
    if to_staff is None and to_unit_id is None:
        raise BadRequest("name an agent or a unit")
    unit_id = to_staff.unit_id if to_staff is not None else to_unit_id
    assert unit_id is not None
    before: dict[str, Any] = {
        "owner_id": wo.owner_id,
        "owner_unit_id": wo.owner_unit_id,
        "flag": wo.flag,
        "escalation_level": wo.escalation_level,
    }
    d = await policy.deadlines_for(session, settings, item_id=wo.item_id, unit_id=unit_id)
    s = policy.steps(await load_calendar(session, unit_id), now, d, due_at=wo.due_at)
    wo.owner_id = to_staff.id if to_staff is not None else None
    wo.owner_unit_id = unit_id
    wo.followup_started_at = now
    wo.claimed_at = None
    wo.remind_at, wo.red_at, wo.escalate_at, wo.due_at = s.remind_at, s.red_at, s.escalate_at, s.due_at
    wo.flag = FollowupFlag.none
    wo.escalation_level = 0
    wo.followup_cycle += 1
    await record_event(
        session,
        wo,
        "reassigned",
        actor(by),
        now,
        reason=reason,
        before=before,
        owner_id=wo.owner_id,
        owner_unit_id=unit_id,
        cycle=wo.followup_cycle,
        remind_at=s.remind_at,
        red_at=s.red_at,
        escalate_at=s.escalate_at,
    )
    recipients = [to_staff.id] if to_staff is not None else await repo.owner_recipients(session, wo)
    return NotifyEvent(
        kind="reassigned",
        title=f"工单 {wo.number} 已转交给您 · reassigned to you",
        staff_ids=recipients,
        work_order_id=wo.id,
        data={"number": wo.number, "reason": reason, "by": by.id, "due_at": iso(wo.due_at)},
    )


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
