"""Departments and service items as administrators change them, with search and paging.

Departments belong to the whole tree (admins only). An item may be changed by a unit admin only when
every unit that handles it lies in their subtree (a county cannot edit the city's catalogue)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk.admin import audit
from helpdesk.admin.scope import AdminScope
from helpdesk.admin.units import check_code
from helpdesk.errors import BadRequest, Conflict, NotFound
from helpdesk.org.models import Department, OrgUnit, ServiceItem, ServiceItemUnit

MAX_PAGE = 200


def dept_view(d: Department) -> dict[str, Any]:
    return {"id": d.id, "code": d.code, "name": d.name, "name_en": d.name_en}


async def list_departments(session: AsyncSession) -> list[dict[str, Any]]:
    return [dept_view(d) for d in await session.scalars(select(Department).order_by(Department.code))]


async def save_department(session: AsyncSession, scope: AdminScope, *, code: str, name: str,
                          name_en: str | None, now: datetime) -> Department:
    """Creates the department, or updates it when the code exists (idempotent by code)."""
    scope.require_admin("departments")
    code = check_code(code, "department code")
    if not name.strip():
        raise BadRequest("a department needs a name", code="missing_name")
    dept = await session.scalar(select(Department).where(Department.code == code))
    before = dept_view(dept) if dept else None
    if dept is None:
        dept = Department(code=code, name=name.strip(), name_en=name_en)
        session.add(dept)
    else:
        dept.name, dept.name_en = name.strip(), name_en
    await session.flush()
    if before != dept_view(dept):
        await audit.record(session, kind="department.save", actor=audit.actor_of(scope.staff), at=now,
                           target=f"department:{code}", before=before, after=dept_view(dept))
    return dept


def item_view(item: ServiceItem, dept_code: str, unit_codes: Sequence[str]) -> dict[str, Any]:
    return {"id": item.id, "code": item.code, "name": item.name, "name_en": item.name_en,
            "department": dept_code, "units": sorted(unit_codes), "video_help": item.video_help,
            "remote_inspection": item.remote_inspection, "outdated": item.outdated,
            "time_limit_days": item.time_limit_days, "description": item.description,
            "checklist_ref": item.checklist_ref, "guide_ref": item.guide_ref}


async def unit_codes_of(session: AsyncSession, item_ids: Sequence[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {i: [] for i in item_ids}
    if item_ids:
        rows = await session.execute(select(ServiceItemUnit.item_id, OrgUnit.code)
                                     .join(OrgUnit, OrgUnit.id == ServiceItemUnit.unit_id)
                                     .where(ServiceItemUnit.item_id.in_(item_ids)))
        for item_id, code in rows:
            out[item_id].append(code)
    return out


async def search_items(session: AsyncSession, scope: AdminScope, *, q: str = "", department: str | None = None,
                       unit: str | None = None, video_help: bool | None = None, outdated: bool | None = None,
                       offset: int = 0, limit: int = 50) -> dict[str, Any]:
    """One page of items in scope, filtered in SQL, and the total."""
    where = [scope.items()]
    if q.strip():
        like = f"%{q.strip()}%"
        where.append(or_(ServiceItem.code.ilike(like), ServiceItem.name.ilike(like), ServiceItem.name_en.ilike(like)))
    if department:
        where.append(Department.code == department)
    if unit:
        where.append(ServiceItem.id.in_(select(ServiceItemUnit.item_id).join(
            OrgUnit, OrgUnit.id == ServiceItemUnit.unit_id).where(OrgUnit.code == unit)))
    if video_help is not None:
        where.append(ServiceItem.video_help.is_(video_help))
    if outdated is not None:
        where.append(ServiceItem.outdated.is_(outdated))
    base = (select(ServiceItem, Department.code).join(Department, Department.id == ServiceItem.department_id)
            .where(*where))
    total = await session.scalar(select(func.count()).select_from(base.subquery()))
    limit = max(1, min(limit, MAX_PAGE))
    rows = (await session.execute(base.order_by(ServiceItem.code).offset(max(0, offset)).limit(limit))).all()
    units = await unit_codes_of(session, [item.id for item, _ in rows])
    return {"total": int(total or 0), "offset": offset, "limit": limit,
            "items": [item_view(item, dept, units[item.id]) for item, dept in rows]}


ITEM_FIELDS = ("name", "name_en", "description", "video_help", "remote_inspection", "outdated",
               "time_limit_days", "checklist_ref", "guide_ref")


async def _units_for_codes(session: AsyncSession, scope: AdminScope, codes: Sequence[str]) -> list[OrgUnit]:
    rows = {u.code: u for u in await session.scalars(select(OrgUnit).where(OrgUnit.code.in_(list(codes))))}
    missing = [c for c in codes if c not in rows or not scope.covers(rows[c].path)]
    if missing:
        raise NotFound(f"unknown unit code {missing[0]!r}", code="unknown_unit")
    return [rows[c] for c in codes]


async def save_item(session: AsyncSession, scope: AdminScope, values: Mapping[str, Any], now: datetime,
                    *, create_only: bool = False) -> ServiceItem:
    """Creates or updates an item by code: fields present in `values`, `department` (a code) and
    `units` (unit codes, replacing the handling units)."""
    code = check_code(str(values.get("code") or ""), "item code")
    item = await session.scalar(select(ServiceItem).where(ServiceItem.code == code))
    if item is not None and create_only:
        raise Conflict(f"service item {code!r} already exists", code="duplicate_code")
    old_units = (await unit_codes_of(session, [item.id]))[item.id] if item else []
    if item is not None:
        await _units_for_codes(session, scope, old_units)  # every current unit must be in scope
        dept_code = await session.scalar(select(Department.code).where(Department.id == item.department_id))
        before: dict[str, Any] | None = item_view(item, dept_code or "", old_units)
    else:
        before = None
        if not str(values.get("name") or "").strip():
            raise BadRequest(f"item {code}: a name is needed", code="missing_name")
        if "department" not in values:
            raise BadRequest(f"item {code}: a department code is needed", code="missing_department")
        item = ServiceItem(code=code, name="", description="", video_help=True, remote_inspection=False,
                           outdated=False)
    if "department" in values:
        dept = await session.scalar(select(Department).where(Department.code == values["department"]))
        if dept is None:
            raise NotFound(f"unknown department code {values['department']!r}", code="unknown_department")
        item.department_id = dept.id
    for key in ITEM_FIELDS:
        if key in values:
            value = values[key]
            if key == "name" and not str(value or "").strip():
                raise BadRequest(f"item {code}: a name is needed", code="missing_name")
            setattr(item, key, value if value is not None or key not in ("description",) else "")
    unit_codes = list(dict.fromkeys(values["units"])) if "units" in values else old_units
    units = await _units_for_codes(session, scope, unit_codes)
    if not scope.is_admin and not units:
        raise BadRequest(f"item {code}: name at least one unit of yours that handles it", code="no_units")
    if item.id is None:
        session.add(item)
    await session.flush()
    if sorted(unit_codes) != sorted(old_units):
        await session.execute(delete(ServiceItemUnit).where(ServiceItemUnit.item_id == item.id))
        session.add_all(ServiceItemUnit(item_id=item.id, unit_id=u.id) for u in units)
        await session.flush()
    dept_code = await session.scalar(select(Department.code).where(Department.id == item.department_id))
    after = item_view(item, dept_code or "", unit_codes)
    if before is None:
        await audit.record(session, kind="item.create", actor=audit.actor_of(scope.staff), at=now,
                           target=f"item:{code}", after=after)
    else:
        b, a = audit.diff(before, after)
        if a:
            await audit.record(session, kind="item.update", actor=audit.actor_of(scope.staff), at=now,
                               target=f"item:{code}", before=b, after=a)
    return item
