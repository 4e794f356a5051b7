"""Staff as administrators manage them: create, edit, disable (never delete: work orders keep their
author), reset to a one-time password, role, unit, skills, capacity, KB editor; the directory.

A unit admin manages staff of their subtree and cannot make anyone an admin or a unit admin."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk.accounts import service as accounts
from helpdesk.accounts.models import Role, Staff, StaffSkill
from helpdesk.admin import audit
from helpdesk.admin.scope import AdminScope
from helpdesk.errors import BadRequest, Conflict, Forbidden, NotFound
from helpdesk.org.models import Department, OrgUnit, ServiceItem
from helpdesk.security import hash_one_time_password

MAX_PAGE = 200


async def skill_codes(session: AsyncSession, staff_ids: Sequence[int]) -> dict[int, list[str]]:
    """Each staff member's skills as codes: department codes and item codes."""
    out: dict[int, list[str]] = {i: [] for i in staff_ids}
    if staff_ids:
        rows = await session.execute(
            select(StaffSkill.staff_id, Department.code, ServiceItem.code)
            .outerjoin(Department, Department.id == StaffSkill.department_id)
            .outerjoin(ServiceItem, ServiceItem.id == StaffSkill.item_id)
            .where(StaffSkill.staff_id.in_(staff_ids)).order_by(StaffSkill.id))
        for staff_id, dept, item in rows:
            out[staff_id].append(dept or item)
    return out


def view(s: Staff, unit_code: str, skills: Sequence[str]) -> dict[str, Any]:
    return {"id": s.id, "username": s.username, "display_name": s.display_name, "role": str(s.role),
            "unit": unit_code, "unit_id": s.unit_id, "capacity": s.capacity, "kb_editor": s.kb_editor,
            "unit_admin": s.unit_admin, "is_active": s.is_active, "skills": list(skills),
            "must_change_password": s.must_change_password,
            "last_login_at": s.last_login_at.isoformat() if s.last_login_at else None}


async def resolve_skills(session: AsyncSession, codes: Sequence[str]) -> list[accounts.Skill]:
    codes = [c.strip() for c in codes if c and c.strip()]
    depts = {c: i for c, i in await session.execute(select(Department.code, Department.id)
                                                    .where(Department.code.in_(codes)))}
    items = {c: i for c, i in await session.execute(select(ServiceItem.code, ServiceItem.id)
                                                    .where(ServiceItem.code.in_(codes)))}
    missing = [c for c in codes if c not in depts and c not in items]
    if missing:
        raise NotFound(f"unknown skill code {missing[0]!r} (a department or item code)", code="unknown_skill")
    return [accounts.Skill(department_id=depts[c]) if c in depts else accounts.Skill(item_id=items[c])
            for c in dict.fromkeys(codes)]


async def search_staff(session: AsyncSession, scope: AdminScope, *, q: str = "", unit: str | None = None,
                       role: str | None = None, active: bool | None = None, offset: int = 0,
                       limit: int = 50) -> dict[str, Any]:
    where: list[ColumnElement[bool]] = [Staff.unit_id.in_(scope.unit_ids())]
    if q.strip():
        like = f"%{q.strip()}%"
        where.append(or_(Staff.username.ilike(like), Staff.display_name.ilike(like)))
    if unit:
        where.append(OrgUnit.code == unit)
    if role:
        where.append(Staff.role == role)
    if active is not None:
        where.append(Staff.is_active.is_(active))
    base = select(Staff, OrgUnit.code).join(OrgUnit, OrgUnit.id == Staff.unit_id).where(*where)
    total = await session.scalar(select(func.count()).select_from(base.subquery()))
    limit = max(1, min(limit, MAX_PAGE))
    rows = (await session.execute(base.order_by(Staff.username).offset(max(0, offset)).limit(limit))).all()
    skills = await skill_codes(session, [s.id for s, _ in rows])
    return {"total": int(total or 0), "offset": offset, "limit": limit,
            "staff": [view(s, code, skills[s.id]) for s, code in rows]}


async def get_in_scope(session: AsyncSession, scope: AdminScope, staff_id: int) -> tuple[Staff, OrgUnit]:
    row = (await session.execute(select(Staff, OrgUnit).join(OrgUnit, OrgUnit.id == Staff.unit_id)
                                 .where(Staff.id == staff_id))).first()
    if row is None or not scope.covers(row[1].path):
        raise NotFound(f"staff member {staff_id} not found", code="unknown_staff")
    return row[0], row[1]


async def _unit(session: AsyncSession, scope: AdminScope, code: str) -> OrgUnit:
    unit = await session.scalar(select(OrgUnit).where(OrgUnit.code == code))
    if unit is None or not scope.covers(unit.path):
        raise NotFound(f"unknown unit code {code!r}", code="unknown_unit")
    if unit.disabled:
        raise Conflict(f"unit {code} is disabled", code="unit_disabled")
    return unit


def _check_grant(scope: AdminScope, role: str | None, unit_admin: bool | None) -> None:
    if role is not None and role not in Role.__members__:
        raise BadRequest(f"role {role!r}: agent, supervisor or admin", code="bad_role")
    if not scope.is_admin and (role == Role.admin or unit_admin):
        raise Forbidden("only administrators of the whole tree grant admin rights", code="admin_only")


def one_time_password() -> str:
    return secrets.token_urlsafe(12)  # 16 characters (96 random bits), shown once to the admin


async def create_staff(session: AsyncSession, scope: AdminScope, values: Mapping[str, Any],
                       now: datetime) -> tuple[Staff, str]:
    """A new account with a one-time password (returned once) that must be changed at first login."""
    role, unit_admin = str(values.get("role") or "agent"), bool(values.get("unit_admin"))
    _check_grant(scope, role, unit_admin)
    unit = await _unit(session, scope, str(values.get("unit") or ""))
    password = one_time_password()
    staff = await accounts.create_staff(
        session, username=str(values.get("username") or ""), password=password, one_time=True,
        display_name=str(values.get("display_name") or values.get("username") or ""), role=role,
        unit_id=unit.id, capacity=int(values.get("capacity") or 1), kb_editor=bool(values.get("kb_editor")),
        skills=await resolve_skills(session, values.get("skills") or []), now=now)
    staff.unit_admin = unit_admin and role == Role.supervisor
    staff.must_change_password = True
    await session.flush()
    after = view(staff, unit.code, list(values.get("skills") or []))
    await audit.record(session, kind="staff.create", actor=audit.actor_of(scope.staff), at=now,
                       target=f"staff:{staff.username}", after=after)
    return staff, password


FIELDS = ("display_name", "role", "capacity", "kb_editor", "unit_admin", "is_active")


async def _last_admin_guard(session: AsyncSession, staff: Staff, role: Any, active: Any) -> None:
    if staff.role == Role.admin and staff.is_active and (role != Role.admin or not active):
        admins = await session.scalar(select(func.count(Staff.id)).where(Staff.role == Role.admin,
                                                                         Staff.is_active.is_(True)))
        if (admins or 0) <= 1:
            raise Conflict("this is the last active admin: make another admin first", code="last_admin")


async def update_staff(session: AsyncSession, scope: AdminScope, staff_id: int, changes: Mapping[str, Any],
                       now: datetime) -> Staff:
    """Edits fields present in `changes`; `unit` (a code) moves, `skills` (codes) replaces the skills."""
    staff, unit = await get_in_scope(session, scope, staff_id)
    if staff.role == Role.admin and not scope.is_admin:
        raise NotFound(f"staff member {staff_id} not found", code="unknown_staff")
    before = view(staff, unit.code, (await skill_codes(session, [staff.id]))[staff.id])
    _check_grant(scope, changes.get("role"), changes.get("unit_admin"))
    await _last_admin_guard(session, staff, changes.get("role", staff.role), changes.get("is_active", staff.is_active))
    if "capacity" in changes and not 1 <= int(changes["capacity"]) <= 20:
        raise BadRequest("capacity must be 1 to 20", code="bad_capacity")
    for key in FIELDS:
        if key in changes:
            setattr(staff, key, Role(changes[key]) if key == "role" else changes[key])
    if staff.role != Role.supervisor:
        staff.unit_admin = False
    if "unit" in changes:
        unit = await _unit(session, scope, str(changes["unit"]))
        staff.unit_id = unit.id
    if "skills" in changes:
        skills = await resolve_skills(session, changes["skills"])
        await session.execute(delete(StaffSkill).where(StaffSkill.staff_id == staff.id))
        session.add_all(StaffSkill(staff_id=staff.id, item_id=k.item_id, department_id=k.department_id)
                        for k in skills)
    await session.flush()
    after = view(staff, unit.code, (await skill_codes(session, [staff.id]))[staff.id])
    b, a = audit.diff(before, after)
    if a:
        kind = "staff.role" if "role" in a or "unit_admin" in a else (
            "staff.disable" if a.get("is_active") is False else "staff.update")
        await audit.record(session, kind=kind, actor=audit.actor_of(scope.staff), at=now,
                           target=f"staff:{staff.username}", before=b, after=a)
    return staff


async def reset_password(session: AsyncSession, scope: AdminScope, staff_id: int, now: datetime) -> str:
    """A new one-time password (returned once); old sessions end, the next login must change it."""
    staff, _ = await get_in_scope(session, scope, staff_id)
    if staff.role == Role.admin and not scope.is_admin:
        raise NotFound(f"staff member {staff_id} not found", code="unknown_staff")
    password = one_time_password()
    staff.password_hash = hash_one_time_password(password)
    staff.must_change_password = True
    await session.flush()
    await audit.record(session, kind="staff.password_reset", actor=audit.actor_of(scope.staff), at=now,
                       target=f"staff:{staff.username}")
    return password


async def directory(session: AsyncSession, *, q: str = "", unit_id: int | None = None,
                    limit: int = 50) -> list[dict[str, Any]]:
    """Active colleagues for a warm transfer: name, unit and skills, no personal data."""
    where = [Staff.is_active.is_(True), Staff.role != Role.admin]
    if unit_id is not None:
        where.append(Staff.unit_id == unit_id)
    if q.strip():
        like = f"%{q.strip()}%"
        where.append(or_(Staff.username.ilike(like), Staff.display_name.ilike(like), OrgUnit.name.ilike(like)))
    rows = (await session.execute(select(Staff, OrgUnit).join(OrgUnit, OrgUnit.id == Staff.unit_id)
                                  .where(*where).order_by(OrgUnit.path, Staff.display_name)
                                  .limit(max(1, min(limit, MAX_PAGE))))).all()
    skills = await skill_codes(session, [s.id for s, _ in rows])
    return [{"id": s.id, "display_name": s.display_name, "role": str(s.role), "unit_id": u.id,
             "unit_name": u.name, "unit_name_en": u.name_en, "skills": skills[s.id]} for s, u in rows]
