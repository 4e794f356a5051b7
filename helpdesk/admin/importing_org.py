"""Bulk import of units (parents before children, cycles refused) and staff (one-time passwords for
new accounts; never deletes: `active` 否 disables). See importing.py for the plan/apply contract."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk.accounts.models import Role, Staff, StaffSkill
from helpdesk.admin import sheets
from helpdesk.admin.importing import Plan, Progress, _int, jsonable, tick
from helpdesk.admin.scope import AdminScope
from helpdesk.admin.staff import one_time_password
from helpdesk.admin.units import CODE_RE, LEVELS, check_hours, move_unit
from helpdesk.errors import HelpdeskError
from helpdesk.org.models import DEFAULT_BUSINESS_HOURS, Department, OrgUnit, ServiceItem, UnitLevel
from helpdesk.security import hash_one_time_password
from helpdesk.workorders.models import WorkOrder, WorkOrderStatus

LEVEL_ALIASES = {"省": "province", "市": "city", "县": "county", "区": "county", "县区": "county",
                 "乡镇": "township", "街道": "township", "村": "village", "社区": "village"}
ROLE_ALIASES = {"坐席": "agent", "帮办人员": "agent", "班长": "supervisor", "主管": "supervisor",
                "管理员": "admin"}


# ---- units -------------------------------------------------------------------------------------
async def plan_units(session: AsyncSession, scope: AdminScope, sheet: sheets.Sheet, progress: Progress) -> Plan:
    plan = Plan("units", rows=len(sheet.rows))
    cols = set(sheet.columns)
    units = {u.code: u for u in await session.scalars(select(OrgUnit))}
    by_id = {u.id: u for u in units.values()}
    rows: dict[str, tuple[int, dict[str, Any]]] = {}
    for i, (row, v) in enumerate(sheet.rows, start=1):
        tick(progress, "check", i, plan.rows)
        code = v.get("code", "").strip()
        if not CODE_RE.match(code):
            plan.problem(row, code, "code", "the code is empty or has characters other than letters, digits, -_.")
            continue
        if code in rows:
            plan.problem(row, code, "code", f"duplicate code (also on row {rows[code][0]})")
            continue
        bad = plan.problem_count
        rec: dict[str, Any] = {"name": v.get("name", "").strip()}
        if not rec["name"]:
            plan.problem(row, code, "name", "the name is empty")
        level = v.get("level", "").strip().lower()
        level = LEVEL_ALIASES.get(level, level)
        if level not in LEVELS:
            plan.problem(row, code, "level", f"level {v.get('level')!r}: one of {', '.join(LEVELS)}")
        rec["level"] = level
        if "name_en" in cols:
            rec["name_en"] = v.get("name_en", "").strip() or None
        if "parent" in cols:
            rec["parent"] = v.get("parent", "").strip() or None
        if "hours" in cols:
            try:
                hours = sheets.parse_hours(v.get("hours", ""))
                rec["business_hours"] = check_hours(hours) if hours is not None else dict(DEFAULT_BUSINESS_HOURS)
            except (ValueError, HelpdeskError) as exc:
                plan.problem(row, code, "hours", str(exc))
        if "fallback_after_s" in cols:
            try:
                rec["fallback_after_s"] = _int(v.get("fallback_after_s", ""), "fallback_after_s", 0, 86400)
            except ValueError as exc:
                plan.problem(row, code, "fallback_after_s", str(exc))
        if "disabled" in cols:
            try:
                rec["disabled"] = sheets.parse_flag(v.get("disabled", ""))
            except ValueError as exc:
                plan.problem(row, code, "disabled", str(exc))
        if plan.problem_count == bad:
            rows[code] = (row, rec)
    order = _parents_first(plan, rows, units, by_id, scope)
    staffed = await _busy_units(session, [units[c].id for c in order if c in units and rows[c][1].get("disabled")])
    for code in order:
        row, rec = rows[code]
        existing = units.get(code)
        if rec.get("disabled") and existing is not None and existing.id in staffed:
            plan.problem(row, code, "disabled", f"{existing.name} still has active staff or waiting applicants")
            continue
        if existing is None:
            plan.created.append(code)
            plan.changes.append({"key": code, "before": None, "after": rec})
            continue
        before = {"name": existing.name, "name_en": existing.name_en, "level": str(existing.level),
                  "parent": by_id[existing.parent_id].code if existing.parent_id in by_id else None,
                  "business_hours": existing.business_hours, "fallback_after_s": existing.fallback_after_s,
                  "disabled": existing.disabled}
        after = before | rec
        if after == before:
            plan.unchanged += 1
            continue
        plan.updated.append(code)
        plan.changes.append({"key": code, "before": {k: before[k] for k in rec if before[k] != after[k]},
                             "after": {k: after[k] for k in rec if before[k] != after[k]}})
    plan.work = {"rows": rows, "order": [c for c in order if c in plan.created or c in plan.updated],
                 "units": units}
    return plan


def _parents_first(plan: Plan, rows: dict[str, tuple[int, dict[str, Any]]], units: dict[str, OrgUnit],
                   by_id: dict[int, OrgUnit], scope: AdminScope) -> list[str]:
    """The file's codes with every parent before its children; reports unknown parents, cycles,
    levels that do not descend and units outside the caller's subtree."""
    def parent_of(code: str) -> str | None:
        if code in rows and "parent" in rows[code][1]:
            return str(rows[code][1]["parent"]) if rows[code][1]["parent"] else None
        u = units.get(code)
        return by_id[u.parent_id].code if u is not None and u.parent_id in by_id else None

    def level_of(code: str) -> str:
        return str(rows[code][1]["level"]) if code in rows else str(units[code].level)

    order: list[str] = []
    state: dict[str, str] = {}
    for code in rows:
        trail: list[str] = []
        cur: str | None = code
        while cur is not None and cur in rows and state.get(cur) is None:
            if cur in trail:
                plan.problem(rows[code][0], code, "parent", "the parents form a cycle: " + " → ".join([*trail, cur]))
                for c in trail:
                    state[c] = "bad"
                break
            trail.append(cur)
            cur = parent_of(cur)
        else:
            for c in reversed(trail):
                row, rec = rows[c]
                parent = parent_of(c)
                problem = None
                if parent is not None and parent not in rows and parent not in units:
                    problem = ("parent", f"unknown parent code {parent!r}")
                elif parent is not None and state.get(parent) == "bad":
                    problem = ("parent", f"its parent {parent} has a problem")
                elif parent is not None and LEVELS.index(UnitLevel(rec["level"])) <= LEVELS.index(
                        UnitLevel(level_of(parent))):
                    problem = ("level", f"a {rec['level']} cannot sit under a {level_of(parent)}")
                elif parent is None and not scope.is_admin:
                    problem = ("parent", "only administrators add top-level units")
                elif c in units and not scope.covers(units[c].path):
                    problem = ("code", "this unit is outside your units")
                elif parent in units and not scope.covers(units[parent].path):
                    problem = ("parent", f"unit {parent} is outside your units")
                if problem:
                    plan.problem(row, c, *problem)
                    state[c] = "bad"
                else:
                    state[c] = "ok"
                    order.append(c)
    return order


async def _busy_units(session: AsyncSession, unit_ids: list[int]) -> set[int]:
    if not unit_ids:
        return set()
    staffed = await session.scalars(select(Staff.unit_id).where(Staff.unit_id.in_(unit_ids), Staff.is_active.is_(True)))
    waiting = await session.scalars(select(WorkOrder.unit_id).where(
        WorkOrder.unit_id.in_(unit_ids), WorkOrder.status.in_([WorkOrderStatus.queued, WorkOrderStatus.offered])))
    return set(staffed) | set(waiting)


async def apply_units(session: AsyncSession, plan: Plan, progress: Progress) -> None:
    from helpdesk.admin.scope import AdminScope as Scope

    rows, units = plan.work["rows"], plan.work["units"]
    now = datetime.now(UTC)
    for i, code in enumerate(plan.work["order"], start=1):
        rec = rows[code][1]
        parent = units.get(rec["parent"]) if rec.get("parent") else None
        unit = units.get(code)
        if unit is None:
            unit = OrgUnit(code=code, name=rec["name"], level=UnitLevel(rec["level"]), path="", created_at=now,
                           parent_id=parent.id if parent else None,
                           business_hours=rec.get("business_hours") or dict(DEFAULT_BUSINESS_HOURS))
            session.add(unit)
            await session.flush()
            unit.path = f"{parent.path if parent else '/'}{unit.id}/"
            units[code] = unit
        elif "parent" in rec and parent is not None and unit.parent_id != parent.id:
            await move_unit(session, Scope(None, None), unit.id, parent.id, now)
        for key in ("name", "name_en", "business_hours", "fallback_after_s", "disabled"):
            if key in rec and getattr(unit, key) != rec[key]:
                setattr(unit, key, rec[key])
        unit.level = UnitLevel(rec["level"])
        tick(progress, "write", i, len(plan.work["order"]))
    await session.flush()


# ---- staff -------------------------------------------------------------------------------------
async def plan_staff(session: AsyncSession, scope: AdminScope, sheet: sheets.Sheet, progress: Progress) -> Plan:
    plan = Plan("staff", rows=len(sheet.rows))
    cols = set(sheet.columns)
    units = {u.code: u for u in await session.scalars(select(OrgUnit))}
    unit_code = {u.id: u.code for u in units.values()}
    people = {s.username.lower(): s for s in await session.scalars(select(Staff))}
    skill_ids = {c: ("department", i) for c, i in await session.execute(select(Department.code, Department.id))}
    skill_ids |= {c: ("item", i) for c, i in await session.execute(select(ServiceItem.code, ServiceItem.id))}
    skill_code = {v: k for k, v in skill_ids.items()}
    current: dict[int, list[str]] = {}
    for sid, dept, item in await session.execute(select(StaffSkill.staff_id, StaffSkill.department_id,
                                                        StaffSkill.item_id).order_by(StaffSkill.id)):
        current.setdefault(sid, []).append(skill_code[("department", dept) if dept else ("item", item or 0)])
    admins = {u for u, s in people.items() if s.role == Role.admin and s.is_active}
    had_admins = bool(admins)
    seen: dict[str, int] = {}
    records = []
    for i, (row, v) in enumerate(sheet.rows, start=1):
        tick(progress, "check", i, plan.rows)
        name = v.get("username", "").strip()
        key = name.lower()
        if not name or len(name) > 64:
            plan.problem(row, name, "username", "the username needs 1 to 64 characters")
            continue
        if key in seen:
            plan.problem(row, name, "username", f"duplicate username (also on row {seen[key]})")
            continue
        seen[key] = row
        bad = plan.problem_count
        existing = people.get(key)
        rec: dict[str, Any] = {}
        if "display_name" in cols:
            rec["display_name"] = v.get("display_name", "").strip() or name
        if "role" in cols or existing is None:
            role = v.get("role", "").strip().lower() or "agent"
            role = ROLE_ALIASES.get(role, role)
            if role not in Role.__members__:
                plan.problem(row, name, "role", f"role {v.get('role')!r}: agent, supervisor or admin")
            elif role == "admin" and not scope.is_admin:
                plan.problem(row, name, "role", "only administrators of the whole tree grant admin rights")
            rec["role"] = role
        ucode = v.get("unit", "").strip()
        unit = units.get(ucode)
        if unit is None:
            plan.problem(row, name, "unit", f"unknown unit code {ucode!r}")
        elif not scope.covers(unit.path):
            plan.problem(row, name, "unit", f"unit {ucode} is outside your units")
        elif unit.disabled:
            plan.problem(row, name, "unit", f"unit {ucode} is disabled")
        else:
            rec["unit"] = ucode
        if existing is not None and (unit_code[existing.unit_id] not in units or
                                     not scope.covers(units[unit_code[existing.unit_id]].path) or
                                     (existing.role == Role.admin and not scope.is_admin)):
            plan.problem(row, name, "username", "this account is outside your units")
        if "skills" in cols:
            codes = list(dict.fromkeys(sheets.split_list(v.get("skills", ""))))
            unknown = [c for c in codes if c not in skill_ids]
            if unknown:
                plan.problem(row, name, "skills", f"unknown skill code {unknown[0]!r} (a department or item code)")
            rec["skills"] = codes
        for flag, attr in (("kb_editor", "kb_editor"), ("unit_admin", "unit_admin"), ("active", "is_active")):
            if flag in cols:
                try:
                    text = v.get(flag, "")
                    rec[attr] = sheets.parse_flag(text) if text.strip() or flag != "active" else True
                except ValueError as exc:
                    plan.problem(row, name, flag, str(exc))
        if rec.get("unit_admin") and not scope.is_admin:
            plan.problem(row, name, "unit_admin", "only administrators of the whole tree grant admin rights")
        if "capacity" in cols:
            try:
                rec["capacity"] = _int(v.get("capacity", ""), "capacity", 1, 20) or 1
            except ValueError as exc:
                plan.problem(row, name, "capacity", str(exc))
        if existing is not None and existing.role == Role.admin and key in admins and (
                rec.get("role", "admin") != "admin" or rec.get("is_active") is False):
            admins.discard(key)
        if rec.get("role") == "admin" and rec.get("is_active", True):
            admins.add(key)
        if plan.problem_count == bad:
            records.append((row, name, rec, existing))
    if had_admins and not admins:
        plan.problem(0, "", "role", "the file would leave no active admin")
    for _row, name, rec, existing in records:
        if existing is None:
            after = {"display_name": name, "role": "agent", "capacity": 1, "kb_editor": False, "unit_admin": False,
                     "is_active": True, "skills": []} | rec
            plan.created.append(name)
            plan.changes.append({"key": name, "before": None, "after": after})
        else:
            before = {"display_name": existing.display_name, "role": str(existing.role),
                      "unit": unit_code[existing.unit_id], "capacity": existing.capacity,
                      "kb_editor": existing.kb_editor, "unit_admin": existing.unit_admin,
                      "is_active": existing.is_active, "skills": current.get(existing.id, [])}
            after = before | rec
            if after.get("role") != "supervisor":
                after["unit_admin"] = False
            if after == before:
                plan.unchanged += 1
                continue
            plan.updated.append(name)
            keys = [k for k in after if before[k] != after[k]]
            plan.changes.append({"key": name, "before": jsonable({k: before[k] for k in keys}),
                                 "after": jsonable({k: after[k] for k in keys})})
        rec["_after"] = after
    plan.work = {"records": records, "units": units, "skills": skill_ids}
    return plan


async def apply_staff(session: AsyncSession, plan: Plan, progress: Progress) -> None:
    units, skills = plan.work["units"], plan.work["skills"]
    todo = [(name, rec, e) for _, name, rec, e in plan.work["records"] if "_after" in rec]
    now = datetime.now(UTC)
    for i, (name, rec, existing) in enumerate(todo, start=1):
        after = rec["_after"]
        person = existing
        if person is None:
            password = one_time_password()
            person = Staff(username=name, password_hash=hash_one_time_password(password), created_at=now,
                           must_change_password=True, unit_id=units[after["unit"]].id, role=Role(after["role"]))
            session.add(person)
            plan.passwords.append({"username": name, "one_time_password": password})
        for attr in ("display_name", "capacity", "kb_editor", "unit_admin", "is_active"):
            if getattr(person, attr) != after[attr]:
                setattr(person, attr, after[attr])
        person.role = Role(after["role"])
        person.unit_id = units[after["unit"]].id
        await session.flush()
        if "skills" in rec:
            await session.execute(delete(StaffSkill).where(StaffSkill.staff_id == person.id))
            for code in after["skills"]:
                kind, ref = skills[code]
                session.add(StaffSkill(staff_id=person.id, **{f"{kind}_id": ref}))
        tick(progress, "write", i, len(todo))
    await session.flush()

