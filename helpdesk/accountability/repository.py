"""Every query of the follow-up: who to tell, what a caller may see and act on, the breach report,
policies and notifications."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk.access import staff_scope, staff_unit_path, unit_scope, work_order_scope
from helpdesk.accountability.models import Breach, FollowupPolicy, StaffNotification
from helpdesk.accounts.models import Role, Staff
from helpdesk.errors import NotFound
from helpdesk.org.models import OrgUnit
from helpdesk.org.repository import path_ids
from helpdesk.workorders.models import WorkOrder, WorkOrderStatus

FOLLOWUP_STATES = (WorkOrderStatus.unresolved, WorkOrderStatus.callback_pending)


def claimable_by(staff: Staff) -> ColumnElement[bool]:
    """An open follow-up owned by the agent's unit and by nobody in particular: theirs to claim."""
    return and_(
        WorkOrder.status.in_(FOLLOWUP_STATES),
        WorkOrder.owner_id.is_(None),
        func.coalesce(WorkOrder.owner_unit_id, WorkOrder.unit_id) == staff.unit_id,
    )


async def followup_scope(session: AsyncSession, staff: Staff) -> ColumnElement[bool]:
    """What the caller may see and act on: the access scope, plus unit-owned follow-ups to claim."""
    scope = work_order_scope(staff, await staff_unit_path(session, staff))
    return or_(scope, claimable_by(staff)) if staff.role == Role.agent else scope


async def get_for_followup(session: AsyncSession, staff: Staff, work_order_id: str) -> WorkOrder:
    """The work order, or 404 whether it is missing or out of scope (no probing)."""
    scope = await followup_scope(session, staff)
    wo = await session.scalar(select(WorkOrder).where(WorkOrder.id == work_order_id, scope))
    if wo is None:
        raise NotFound("work order not found")
    return wo


async def lineage_units(session: AsyncSession, unit_id: int) -> list[OrgUnit]:
    """The unit and its ancestors, nearest first."""
    unit = await session.get(OrgUnit, unit_id)
    if unit is None:
        return []
    ids = list(reversed(path_ids(unit.path))) or [unit.id]
    by_id = {u.id: u for u in (await session.scalars(select(OrgUnit).where(OrgUnit.id.in_(ids)))).all()}
    return [by_id[i] for i in ids if i in by_id]


async def staff_of_unit(session: AsyncSession, unit_id: int, role: Role) -> list[int]:
    stmt = select(Staff.id).where(Staff.unit_id == unit_id, Staff.role == role, Staff.is_active.is_(True))
    return list((await session.scalars(stmt.order_by(Staff.id))).all())


async def supervisors_from(session: AsyncSession, units: Sequence[OrgUnit]) -> tuple[OrgUnit | None, list[int]]:
    """The first unit of `units` (nearest first) that has active supervisors, and their ids."""
    for unit in units:
        ids = await staff_of_unit(session, unit.id, Role.supervisor)
        if ids:
            return unit, ids
    return None, []


async def owner_recipients(session: AsyncSession, wo: WorkOrder) -> list[int]:
    """The owner agent; for a unit-owned order the unit's agents (or, if none, its supervisors)."""
    if wo.owner_id is not None:
        return [wo.owner_id]
    unit_id = wo.owner_unit_id or wo.unit_id
    return await staff_of_unit(session, unit_id, Role.agent) or await staff_of_unit(session, unit_id, Role.supervisor)


async def breach_rows(
    session: AsyncSession, scope: ColumnElement[bool], start: datetime, end: datetime
) -> Sequence[tuple[Breach, WorkOrder]]:
    stmt = (
        select(Breach, WorkOrder)
        .join(WorkOrder, WorkOrder.id == Breach.work_order_id)
        .where(scope, Breach.at >= start, Breach.at < end)
        .order_by(Breach.at, Breach.id)
    )
    return [(b, wo) for b, wo in (await session.execute(stmt)).all()]


async def breach_counts(
    session: AsyncSession, scope: ColumnElement[bool], start: datetime, end: datetime, by: str
) -> Sequence[tuple[int | None, str, int]]:
    """Breaches per agent (by="agent") or unit (by="unit") and reason, in SQL."""
    key = Breach.staff_id if by == "agent" else Breach.unit_id
    stmt = (
        select(key, Breach.reason, func.count(Breach.id))
        .join(WorkOrder, WorkOrder.id == Breach.work_order_id)
        .where(scope, Breach.at >= start, Breach.at < end)
        .group_by(key, Breach.reason)
        .order_by(key, Breach.reason)
    )
    return [(k, r, int(n)) for k, r, n in (await session.execute(stmt)).all()]


async def staff_in_scope(session: AsyncSession, staff: Staff, staff_id: int) -> Staff | None:
    """An active staff member the caller manages (helpdesk.access.staff_scope)."""
    path = await staff_unit_path(session, staff)
    stmt = select(Staff).where(Staff.id == staff_id, Staff.is_active.is_(True), staff_scope(staff, path))
    return await session.scalar(stmt)


async def unit_in_scope(session: AsyncSession, staff: Staff, unit_id: int) -> bool:
    path = await staff_unit_path(session, staff)
    found = await session.scalar(select(OrgUnit.id).where(OrgUnit.id == unit_id, unit_scope(staff, path)))
    return found is not None


async def names(
    session: AsyncSession, staff_ids: Iterable[int | None], unit_ids: Iterable[int | None]
) -> tuple[dict[int, str], dict[int, str]]:
    """Display names of staff and units, for reports."""
    sids, uids = {i for i in staff_ids if i}, {i for i in unit_ids if i}
    staff = {i: n for i, n in (await session.execute(select(Staff.id, Staff.display_name).where(Staff.id.in_(sids))))}
    units = {i: n for i, n in (await session.execute(select(OrgUnit.id, OrgUnit.name).where(OrgUnit.id.in_(uids))))}
    return staff, units


async def open_followups(session: AsyncSession, staff: Staff, limit: int) -> Sequence[WorkOrder]:
    """Open follow-ups the caller may see, oldest clock first (not yet adopted ones by age)."""
    scope = await followup_scope(session, staff)
    stmt = (
        select(WorkOrder)
        .where(scope, WorkOrder.status.in_(FOLLOWUP_STATES))
        .order_by(func.coalesce(WorkOrder.followup_started_at, WorkOrder.created_at), WorkOrder.id)
        .limit(limit)
    )
    return (await session.scalars(stmt)).all()


async def work_orders_created(
    session: AsyncSession, scope: ColumnElement[bool], start: datetime, end: datetime
) -> Sequence[WorkOrder]:
    stmt = (
        select(WorkOrder)
        .where(scope, WorkOrder.created_at >= start, WorkOrder.created_at < end)
        .order_by(WorkOrder.created_at, WorkOrder.number)
    )
    return (await session.scalars(stmt)).all()


# ---- policies ------------------------------------------------------------------------------------
async def list_policies(session: AsyncSession, staff: Staff) -> Sequence[FollowupPolicy]:
    """The policies bearing on the caller's units: the global ones, their units' and their ancestors'
    (which apply to them too); an admin sees all. Another county's deadlines are not theirs to read."""
    stmt = select(FollowupPolicy).order_by(FollowupPolicy.id)
    if staff.role != Role.admin:
        path = await staff_unit_path(session, staff)
        subtree = select(OrgUnit.id).where(unit_scope(staff, path))
        stmt = stmt.where(or_(FollowupPolicy.unit_id.is_(None), FollowupPolicy.unit_id.in_(path_ids(path)),
                              FollowupPolicy.unit_id.in_(subtree)))
    return (await session.scalars(stmt)).all()


async def get_policy(session: AsyncSession, item_id: int | None, unit_id: int | None) -> FollowupPolicy | None:
    return await session.scalar(
        select(FollowupPolicy).where(
            FollowupPolicy.item_id.is_(None) if item_id is None else FollowupPolicy.item_id == item_id,
            FollowupPolicy.unit_id.is_(None) if unit_id is None else FollowupPolicy.unit_id == unit_id,
        )
    )


# ---- notifications -------------------------------------------------------------------------------
async def notifications(
    session: AsyncSession, staff_id: int, *, unread: bool, limit: int
) -> Sequence[StaffNotification]:
    stmt = select(StaffNotification).where(StaffNotification.staff_id == staff_id)
    if unread:
        stmt = stmt.where(StaffNotification.read_at.is_(None))
    return (await session.scalars(stmt.order_by(StaffNotification.id.desc()).limit(limit))).all()


async def has_unread(session: AsyncSession, staff_id: int) -> bool:
    stmt = (
        select(StaffNotification.id)
        .where(StaffNotification.staff_id == staff_id, StaffNotification.read_at.is_(None))
        .limit(1)
    )
    return await session.scalar(stmt) is not None


async def mark_read(session: AsyncSession, staff_id: int, now: datetime, notification_id: int | None) -> int:
    """Marks one (or every) unread notification of this staff member; others' are never touched."""
    stmt = update(StaffNotification).where(StaffNotification.staff_id == staff_id, StaffNotification.read_at.is_(None))
    if notification_id is not None:
        stmt = stmt.where(StaffNotification.id == notification_id)
    result = await session.execute(stmt.values(read_at=now))
    return int(result.rowcount)  # type: ignore[attr-defined]
