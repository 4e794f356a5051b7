"""Who may see what, in one place, as SQL filters (never a Python loop after the query).

- admin: everything;
- supervisor: work orders whose unit_id or handled_unit_id lies in their org subtree, and the
  staff and units of that subtree;
- agent: work orders they handled (agent_id) or own (owner_id), and only themselves.

The subtree is `OrgUnit.path LIKE '<unit path>%'` as a subquery, so the database does the work.
"""

from __future__ import annotations

import logging

from sqlalchemy import ColumnElement, Select, false, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk.accounts.models import Role, Staff
from helpdesk.org.models import OrgUnit
from helpdesk.workorders.models import WorkOrder

log = logging.getLogger(__name__)


def unit_subtree_ids_select(path: str) -> Select[int]:
    """SELECT the ids of the unit with this path and of every unit below it."""
    return select(OrgUnit.id).where(OrgUnit.path.startswith(path, autoescape=True))


def _subtree_or_nothing(staff: Staff, unit_path: str) -> Select[int] | None:
    # An empty path would match every unit: deny rather than widen.
    if not unit_path or not unit_path.startswith("/"):
        log.warning("staff %s has a unit without a path: access denied", staff.id)
        return None
    return unit_subtree_ids_select(unit_path)


def work_order_scope(staff: Staff, unit_path: str) -> ColumnElement[bool]:
    """The WHERE clause selecting the work orders this staff member may see."""
    if staff.role == Role.admin:
        return true()
    if staff.role == Role.supervisor:
        subtree = _subtree_or_nothing(staff, unit_path)
        if subtree is None:
            return false()
        return or_(WorkOrder.unit_id.in_(subtree), WorkOrder.handled_unit_id.in_(subtree))
    return or_(WorkOrder.agent_id == staff.id, WorkOrder.owner_id == staff.id)


def staff_scope(staff: Staff, unit_path: str) -> ColumnElement[bool]:
    """The WHERE clause selecting the staff this member may see and manage."""
    if staff.role == Role.admin:
        return true()
    if staff.role == Role.supervisor:
        subtree = _subtree_or_nothing(staff, unit_path)
        return false() if subtree is None else Staff.unit_id.in_(subtree)
    return Staff.id == staff.id


def unit_scope(staff: Staff, unit_path: str) -> ColumnElement[bool]:
    """The WHERE clause selecting the org units whose figures this member may see."""
    if staff.role == Role.admin:
        return true()
    if not unit_path:
        return false()
    if staff.role == Role.supervisor:
        return OrgUnit.path.startswith(unit_path, autoescape=True)
    return OrgUnit.path == unit_path


async def staff_unit_path(session: AsyncSession, staff: Staff) -> str:
    path = await session.scalar(select(OrgUnit.path).where(OrgUnit.id == staff.unit_id))
    return path or ""


async def visible_work_orders(session: AsyncSession, staff: Staff) -> Select[WorkOrder]:
    """A SELECT of the work orders the staff member may see, to refine further."""
    return select(WorkOrder).where(work_order_scope(staff, await staff_unit_path(session, staff)))


async def can_view_work_order(session: AsyncSession, staff: Staff, wo_id: str) -> bool:
    """Same filter as the lists, so a row visible in a list is exactly a row one may open."""
    scope = work_order_scope(staff, await staff_unit_path(session, staff))
    found = await session.scalar(select(WorkOrder.id).where(WorkOrder.id == wo_id, scope).limit(1))
    return found is not None


async def visible_unit_ids(session: AsyncSession, staff: Staff) -> list[int] | None:
    """The units whose figures the staff member may read (unit_scope); None: every unit (admin)."""
    if staff.role == Role.admin:
        return None
    scope = unit_scope(staff, await staff_unit_path(session, staff))
    return list(await session.scalars(select(OrgUnit.id).where(scope)))
