"""Who may do what: the staff object the app passes in, and the KB's own editor-department table."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_kb.errors import KbForbidden
from helpdesk_kb.models import KbEditorDepartment

MANAGER_ROLES = frozenset({"supervisor", "admin"})


class StaffLike(Protocol):
    """What the KB needs from the app's staff object (helpdesk.accounts.models.Staff fits)."""

    @property
    def id(self) -> int: ...
    @property
    def role(self) -> str: ...
    @property
    def unit_id(self) -> int: ...
    @property
    def kb_editor(self) -> bool: ...


def is_manager(staff: StaffLike) -> bool:
    return str(staff.role) in MANAGER_ROLES


async def editor_departments(session: AsyncSession, staff: StaffLike) -> set[int]:
    """The departments whose articles this staff member edits (empty unless kb_editor is set)."""
    if not staff.kb_editor:
        return set()
    rows = await session.scalars(
        select(KbEditorDepartment.department_id).where(KbEditorDepartment.staff_id == staff.id)
    )
    return set(rows)


async def set_editor_departments(session: AsyncSession, staff_id: int, department_ids: Iterable[int]) -> None:
    """Replace a staff member's editor departments (the admin screen or a seed calls this)."""
    current = await session.scalars(select(KbEditorDepartment).where(KbEditorDepartment.staff_id == staff_id))
    for row in current:
        await session.delete(row)
    await session.flush()
    for dep in sorted(set(department_ids)):
        session.add(KbEditorDepartment(staff_id=staff_id, department_id=dep))
    await session.flush()


async def can_review(session: AsyncSession, staff: StaffLike, department_ids: Iterable[int]) -> bool:
    """Supervisors and admins review anything; a KB editor only articles of a department they edit."""
    if is_manager(staff):
        return True
    deps = set(department_ids)
    return bool(deps) and bool(deps & await editor_departments(session, staff))


async def require_review(session: AsyncSession, staff: StaffLike, department_ids: Iterable[int]) -> None:
    if not await can_review(session, staff, department_ids):
        raise KbForbidden("only a supervisor or a KB editor of the article's department may do this")


async def require_editor(session: AsyncSession, staff: StaffLike, department_ids: Iterable[int]) -> None:
    """Editing an article of given departments: reviewers of one of them."""
    await require_review(session, staff, department_ids)


def require_manager(staff: StaffLike) -> None:
    if not is_manager(staff):
        raise KbForbidden("this needs a supervisor or an admin")
