"""Who may administer what: admins everywhere; a supervisor marked as unit admin within their own
subtree; everyone else is refused (403). Filters are SQL (a path prefix), never a loop after a query."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from sqlalchemy import ColumnElement, Select, exists, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk.access import staff_unit_path
from helpdesk.accounts.models import Role, Staff
from helpdesk.deps import CurrentStaff, SessionDep
from helpdesk.errors import Forbidden, NotFound
from helpdesk.org.models import OrgUnit, ServiceItem, ServiceItemUnit


@dataclass(frozen=True)
class AdminScope:
    staff: Staff | None  # None: the command line (`helpdesk import ...`, the demo loader)
    path: str | None  # None: the whole tree (an admin)

    @property
    def is_admin(self) -> bool:
        return self.path is None

    def covers(self, unit_path: str | None) -> bool:
        return self.path is None or (unit_path is not None and unit_path.startswith(self.path))

    def units(self) -> ColumnElement[bool]:
        return true() if self.path is None else OrgUnit.path.startswith(self.path, autoescape=True)

    def unit_ids(self) -> Select[int]:
        return select(OrgUnit.id).where(self.units())

    def items(self) -> ColumnElement[bool]:
        """Items handled by at least one unit of the subtree."""
        if self.path is None:
            return true()
        return exists().where(ServiceItemUnit.item_id == ServiceItem.id,
                              ServiceItemUnit.unit_id.in_(self.unit_ids()))

    def require_admin(self, what: str) -> None:
        if not self.is_admin:
            raise Forbidden(f"{what} is for administrators of the whole tree", code="admin_only")


CLI_SCOPE = AdminScope(None, None)


async def scope_for(session: AsyncSession, staff: Staff) -> AdminScope:
    if staff.role == Role.admin:
        return AdminScope(staff, None)
    if staff.role == Role.supervisor and staff.unit_admin:
        path = await staff_unit_path(session, staff)
        if path.startswith("/"):
            return AdminScope(staff, path)
    raise Forbidden("administration needs an admin, or a supervisor marked as unit admin", code="not_admin")


async def get_admin_scope(staff: CurrentStaff, session: SessionDep) -> AdminScope:
    return await scope_for(session, staff)


AdminScopeDep = Annotated[AdminScope, Depends(get_admin_scope)]


async def unit_in_scope(session: AsyncSession, scope: AdminScope, unit_id: int) -> OrgUnit:
    """The unit, or 404 when it does not exist or lies outside the caller's subtree (the same
    answer, so a county admin cannot probe another county's ids)."""
    unit = await session.get(OrgUnit, unit_id)
    if unit is None or not scope.covers(unit.path):
        raise NotFound(f"unit {unit_id} not found", code="unknown_unit")
    return unit
