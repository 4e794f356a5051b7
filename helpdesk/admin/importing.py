"""Bulk import of the item catalogue, units and staff: a dry run lists every row's problem; apply
writes everything in the caller's one transaction (or nothing: any problem refuses the whole file),
idempotent by code (re-importing the same file changes nothing). Columns absent from the file keep
their stored values. One audit entry per applied import holds every row's before → after.

The plan works on dictionaries loaded once (thousands of rows in a few queries), not row by row."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk.admin import audit, sheets
from helpdesk.admin.scope import AdminScope
from helpdesk.admin.units import CODE_RE
from helpdesk.org.models import Department, OrgUnit, ServiceItem, ServiceItemUnit

Progress = Callable[[str, int, int], None]  # (phase, done, total)
PROGRESS_EVERY = 250
MAX_PROBLEMS = 1000  # listed in full up to this many; the count is always exact


@dataclass
class Problem:
    row: int
    key: str
    column: str | None
    problem: str


@dataclass
class Plan:
    kind: str
    rows: int = 0
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    problems: list[Problem] = field(default_factory=list)
    problem_count: int = 0
    changes: list[dict[str, Any]] = field(default_factory=list)  # {"key", "before", "after"}
    applied: bool = False
    passwords: list[dict[str, str]] = field(default_factory=list)  # new staff's one-time passwords
    work: Any = None  # what apply needs, built by the plan

    def problem(self, row: int, key: str, column: str | None, message: str) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(row, key, column, message))

    def summary(self) -> dict[str, Any]:
        return {"kind": self.kind, "rows": self.rows, "created": len(self.created), "updated": len(self.updated),
                "unchanged": self.unchanged, "problem_count": self.problem_count,
                "problems": [p.__dict__ for p in self.problems], "applied": self.applied,
                "created_keys": self.created[:200], "updated_keys": self.updated[:200],
                "passwords": self.passwords}


def _quiet(_phase: str, _done: int, _total: int) -> None:
    return None


def tick(progress: Progress, phase: str, i: int, total: int) -> None:
    if i % PROGRESS_EVERY == 0 or i == total:
        progress(phase, i, total)


def jsonable(d: dict[str, Any]) -> dict[str, Any]:
    return {k: sorted(v) if isinstance(v, set) else v for k, v in d.items()}


def _int(value: str, column: str, low: int, high: int) -> int | None:
    if not value.strip():
        return None
    try:
        n = int(float(value))
    except ValueError:
        raise ValueError(f"{column} {value!r} is not a number") from None
    if not low <= n <= high:
        raise ValueError(f"{column} {n} is outside {low}-{high}")
    return n


# ---- items -------------------------------------------------------------------------------------
ITEM_FLAGS = ("video_help", "remote_inspection", "outdated")
ITEM_TEXT = {"name": "name", "name_en": "name_en", "checklist": "checklist_ref", "guide": "guide_ref",
             "description": "description"}


async def plan_items(session: AsyncSession, scope: AdminScope, sheet: sheets.Sheet, progress: Progress) -> Plan:
    plan = Plan("items", rows=len(sheet.rows))
    cols = set(sheet.columns)
    depts = {d.code: d for d in await session.scalars(select(Department))}
    units = {u.code: u for u in await session.scalars(select(OrgUnit))}
    unit_code = {u.id: u.code for u in units.values()}
    items = {i.code: i for i in await session.scalars(select(ServiceItem))}
    dept_code = {d.id: d.code for d in depts.values()}
    item_units: dict[int, set[str]] = {}
    for item_id, unit_id in await session.execute(select(ServiceItemUnit.item_id, ServiceItemUnit.unit_id)):
        item_units.setdefault(item_id, set()).add(unit_code[unit_id])
    new_depts: dict[str, dict[str, str | None]] = {}
    seen: dict[str, int] = {}
    records: list[tuple[str, dict[str, Any], ServiceItem | None]] = []
    for i, (row, v) in enumerate(sheet.rows, start=1):
        tick(progress, "check", i, plan.rows)
        code = v.get("code", "").strip()
        if not code:
            plan.problem(row, "", "code", "the code is empty")
            continue
        if code in seen:
            plan.problem(row, code, "code", f"duplicate code (also on row {seen[code]})")
            continue
        seen[code] = row
        bad = len(plan.problems)
        if not CODE_RE.match(code):
            plan.problem(row, code, "code", "a code has letters, digits, '-', '_' or '.' (up to 64)")
        existing = items.get(code)
        rec: dict[str, Any] = {}
        for col, attr in ITEM_TEXT.items():
            if col in cols:
                rec[attr] = v.get(col, "").strip() or (None if attr not in ("name", "description") else "")
        if "name" in rec and not rec["name"] and existing is not None:
            plan.problem(row, code, "name", "the name is empty")
        for flag in ITEM_FLAGS:
            if flag in cols:
                try:
                    rec[flag] = sheets.parse_flag(v.get(flag, "")) if v.get(flag, "").strip() or flag != "video_help" \
                        else True
                except ValueError as exc:
                    plan.problem(row, code, flag, str(exc))
        if "time_limit_days" in cols:
            try:
                rec["time_limit_days"] = _int(v.get("time_limit_days", ""), "time_limit_days", 0, 3650)
            except ValueError as exc:
                plan.problem(row, code, "time_limit_days", str(exc))
        dcode = v.get("department", "").strip()
        if existing is not None and not dcode:
            dcode = dept_code.get(existing.department_id, "")  # no department given: keep it
        if existing is None and not rec.get("name"):
            plan.problem(row, code, "name", "a new item needs a name")
        if dcode not in depts and dcode not in new_depts:
            if v.get("department_name", "").strip():
                if not scope.is_admin:
                    plan.problem(row, code, "department", f"unknown department code {dcode!r} (only admins add "
                                 "departments)")
                else:
                    new_depts[dcode] = {"name": v["department_name"].strip(),
                                        "name_en": v.get("department_name_en", "").strip() or None}
            else:
                plan.problem(row, code, "department", f"unknown department code {dcode!r} (give department_name "
                             "to create it)" if dcode else "the department code is empty")
        rec["department"] = dcode
        if "units" in cols:
            wanted = sheets.split_list(v.get("units", ""))
            for u in wanted:
                if u not in units:
                    plan.problem(row, code, "units", f"unknown unit code {u!r}")
                elif not scope.covers(units[u].path):
                    plan.problem(row, code, "units", f"unit {u} is outside your units")
            if not scope.is_admin and not wanted:
                plan.problem(row, code, "units", "name at least one of your units")
            rec["units"] = set(wanted)
        if existing is not None:
            outside = [u for u in item_units.get(existing.id, set()) if not scope.covers(units[u].path)]
            if outside:
                plan.problem(row, code, "code", f"this item is also handled by {outside[0]}, outside your units")
        elif not scope.is_admin and "units" not in rec:
            plan.problem(row, code, "units", "name at least one of your units")
        if len(plan.problems) == bad:
            records.append((code, rec, existing))
    for code, rec, existing in records:
        before = None
        if existing is not None:
            before = _item_state(existing, dept_code.get(existing.department_id, ""),
                                 item_units.get(existing.id, set()))
            after = before | {k: rec[k] for k in before if k in rec}
            if after == before:
                plan.unchanged += 1
                continue
            plan.updated.append(code)
            b, a = audit.diff(before, after)
            plan.changes.append({"key": code, "before": jsonable(b), "after": jsonable(a)})
        else:
            after = {"name": "", "name_en": None, "department": "", "units": set(), "video_help": True,
                     "remote_inspection": False, "outdated": False, "time_limit_days": None, "checklist_ref": None,
                     "guide_ref": None, "description": ""} | rec
            plan.created.append(code)
            plan.changes.append({"key": code, "before": None, "after": jsonable(after)})
        rec["_after"] = after
    plan.work = {"records": records, "new_depts": new_depts, "depts": depts, "units": units, "items": items}
    return plan


def _item_state(item: ServiceItem, dept: str, units: set[str]) -> dict[str, Any]:
    return {"name": item.name, "name_en": item.name_en, "department": dept, "units": set(units),
            "video_help": item.video_help, "remote_inspection": item.remote_inspection, "outdated": item.outdated,
            "time_limit_days": item.time_limit_days, "checklist_ref": item.checklist_ref,
            "guide_ref": item.guide_ref, "description": item.description}


async def apply_items(session: AsyncSession, plan: Plan, progress: Progress) -> None:
    w = plan.work
    depts: dict[str, Department] = w["depts"]
    for code, d in w["new_depts"].items():
        depts[code] = Department(code=code, name=d["name"], name_en=d["name_en"])
        session.add(depts[code])
    await session.flush()
    todo = [(c, r, e) for c, r, e in w["records"] if "_after" in r]
    unit_sets: list[tuple[ServiceItem, set[str]]] = []
    for i, (code, rec, existing) in enumerate(todo, start=1):
        after = rec["_after"]
        item = existing or ServiceItem(code=code)
        for attr in ("name", "name_en", "video_help", "remote_inspection", "outdated", "time_limit_days",
                     "checklist_ref", "guide_ref", "description"):
            if getattr(item, attr) != after[attr]:
                setattr(item, attr, after[attr])
        item.department_id = depts[after["department"]].id
        if existing is None:
            session.add(item)
        unit_sets.append((item, after["units"]))
        tick(progress, "write", i, len(todo))
    await session.flush()
    changed_ids = [item.id for item, _ in unit_sets]
    if changed_ids:
        for start in range(0, len(changed_ids), 500):
            chunk = changed_ids[start:start + 500]
            await session.execute(delete(ServiceItemUnit).where(ServiceItemUnit.item_id.in_(chunk)))
        units: dict[str, OrgUnit] = w["units"]
        session.add_all(ServiceItemUnit(item_id=item.id, unit_id=units[u].id)
                        for item, codes in unit_sets for u in codes)
        await session.flush()


# ---- the runner --------------------------------------------------------------------------------
async def run(session: AsyncSession, scope: AdminScope, kind: str, data: bytes, filename: str, *,
              dry_run: bool, now: datetime, max_rows: int, progress: Progress | None = None) -> Plan:
    """Reads and checks the file; unless `dry_run` or a problem was found, applies it (flushes; the
    caller commits, so the whole file lands in one transaction)."""
    from helpdesk.admin import importing_org

    say = progress or _quiet
    sheet = sheets.read(data, filename, kind, max_rows)
    planner = {"items": plan_items, "units": importing_org.plan_units, "staff": importing_org.plan_staff}[kind]
    applier = {"items": apply_items, "units": importing_org.apply_units, "staff": importing_org.apply_staff}[kind]
    plan = await planner(session, scope, sheet, say)
    if dry_run or plan.problem_count or not (plan.created or plan.updated):
        return plan
    await applier(session, plan, say)
    plan.applied = True
    await audit.record(session, kind=f"import.{kind}", actor=audit.actor_of(scope.staff), at=now,
                       target=f"file:{filename[:100]}",
                       after={"created": len(plan.created), "updated": len(plan.updated), "unchanged": plan.unchanged},
                       changes=plan.changes)
    return plan
