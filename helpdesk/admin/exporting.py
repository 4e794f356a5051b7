"""Export of items, units and staff in exactly the import's columns (helpdesk.admin.sheets), so an
exported file re-imports without a change."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk.accounts.models import Staff
from helpdesk.admin import sheets
from helpdesk.admin.catalogue import unit_codes_of
from helpdesk.admin.scope import AdminScope
from helpdesk.admin.staff import skill_codes
from helpdesk.org.models import Department, OrgUnit, ServiceItem


def _flag(value: bool) -> str:
    return "是" if value else "否"


async def rows(session: AsyncSession, scope: AdminScope, kind: str) -> list[dict[str, Any]]:
    if kind == "units":
        units = (await session.scalars(select(OrgUnit).where(scope.units()).order_by(OrgUnit.path))).all()
        code_of = {u.id: u.code for u in await session.scalars(select(OrgUnit))}
        return [{"code": u.code, "name": u.name, "name_en": u.name_en, "level": str(u.level),
                 "parent": code_of.get(u.parent_id) if u.parent_id else "",
                 "hours": sheets.format_hours(u.business_hours), "fallback_after_s": u.fallback_after_s,
                 "disabled": _flag(u.disabled)} for u in units]
    if kind == "items":
        found = (await session.execute(select(ServiceItem, Department).join(
            Department, Department.id == ServiceItem.department_id).where(scope.items())
            .order_by(ServiceItem.code))).all()
        handled = await unit_codes_of(session, [i.id for i, _ in found])
        return [{"code": i.code, "name": i.name, "name_en": i.name_en, "department": d.code,
                 "department_name": d.name, "department_name_en": d.name_en,
                 "units": " ".join(sorted(handled[i.id])),
                 "video_help": _flag(i.video_help), "remote_inspection": _flag(i.remote_inspection),
                 "outdated": _flag(i.outdated), "time_limit_days": i.time_limit_days, "checklist": i.checklist_ref,
                 "guide": i.guide_ref, "description": i.description} for i, d in found]
    if kind == "staff":
        people = (await session.execute(select(Staff, OrgUnit.code).join(OrgUnit, OrgUnit.id == Staff.unit_id)
                                        .where(scope.units()).order_by(Staff.username))).all()
        skills = await skill_codes(session, [s.id for s, _ in people])
        return [{"username": s.username, "display_name": s.display_name, "role": str(s.role), "unit": code,
                 "skills": " ".join(skills[s.id]), "capacity": s.capacity, "kb_editor": _flag(s.kb_editor),
                 "unit_admin": _flag(s.unit_admin), "active": _flag(s.is_active)} for s, code in people]
    raise sheets.ImportFileError(f"unknown kind {kind!r}")
