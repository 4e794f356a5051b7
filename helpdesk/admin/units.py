"""The org tree as administrators change it: create, edit (names, hours, fallback), move, disable.

Every change is checked against the caller's scope and recorded in the admin audit chain in the same
transaction. Services flush; the route (or the importer, or the CLI) commits."""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import String, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk.accounts.models import Staff
from helpdesk.admin import audit
from helpdesk.admin.scope import AdminScope, unit_in_scope
from helpdesk.errors import BadRequest, Conflict, NotFound
from helpdesk.org import service as org
from helpdesk.org.calendar import DAY_KEYS
from helpdesk.org.models import DEFAULT_BUSINESS_HOURS, OrgUnit, UnitLevel
from helpdesk.workorders.models import WorkOrder, WorkOrderStatus

LEVELS = list(UnitLevel)  # province → city → county → township → village
CODE_RE = re.compile(r"^[0-9A-Za-z_.-]{1,64}$")
HHMM_RE = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$")
MAX_FALLBACK_S = 24 * 3600


def check_code(code: str, what: str = "code") -> str:
    code = (code or "").strip()
    if not CODE_RE.match(code):
        raise BadRequest(f"{what} {code!r}: 1-64 letters, digits, '-', '_' or '.'", code="bad_code")
    return code


def check_hours(hours: Mapping[str, Any]) -> dict[str, list[list[str]]]:
    """Weekday → sorted, non-overlapping [start, end] periods ("HH:MM", end after start)."""
    if not isinstance(hours, Mapping):
        raise BadRequest("business hours: an object of weekday → periods", code="bad_hours")
    unknown = sorted(set(hours) - set(DAY_KEYS))
    if unknown:
        raise BadRequest(f"business hours: unknown weekday {unknown[0]!r} (use {', '.join(DAY_KEYS)})",
                         code="bad_hours")
    out: dict[str, list[list[str]]] = {}
    for day in DAY_KEYS:
        periods = hours.get(day) or []
        clean: list[list[str]] = []
        for p in periods:
            if not (isinstance(p, Sequence) and len(p) == 2 and all(isinstance(t, str) and HHMM_RE.match(t)
                                                                    for t in p)):
                raise BadRequest(f"business hours {day}: {p!r} is not [\"HH:MM\", \"HH:MM\"]", code="bad_hours")
            if p[0] >= p[1]:
                raise BadRequest(f"business hours {day}: {p[0]}-{p[1]} ends before it starts", code="bad_hours")
            clean.append([p[0], p[1]])
        clean.sort()
        for a, b in itertools.pairwise(clean):
            if b[0] < a[1]:
                raise BadRequest(f"business hours {day}: {a[0]}-{a[1]} overlaps {b[0]}-{b[1]}", code="bad_hours")
        out[day] = clean
    return out


def view(unit: OrgUnit) -> dict[str, Any]:
    return {"id": unit.id, "code": unit.code, "name": unit.name, "name_en": unit.name_en,
            "level": str(unit.level), "parent_id": unit.parent_id, "path": unit.path,
            "business_hours": unit.business_hours, "fallback_after_s": unit.fallback_after_s,
            "disabled": unit.disabled, "timezone": unit.timezone}


async def list_units(session: AsyncSession, scope: AdminScope) -> list[dict[str, Any]]:
    rows = await session.scalars(select(OrgUnit).where(scope.units()).order_by(OrgUnit.path))
    return [view(u) for u in rows]


def _check_level(level: UnitLevel, parent: OrgUnit | None) -> None:
    if parent is not None and LEVELS.index(level) <= LEVELS.index(UnitLevel(parent.level)):
        raise BadRequest(f"a {level} cannot sit under a {parent.level}", code="bad_level")


async def create_unit(session: AsyncSession, scope: AdminScope, *, code: str, name: str, level: str,
                      parent_id: int | None, now: datetime, name_en: str | None = None,
                      business_hours: Mapping[str, Any] | None = None,
                      fallback_after_s: int | None = None) -> OrgUnit:
    code = check_code(code, "unit code")
    if not name.strip():
        raise BadRequest("a unit needs a name", code="missing_name")
    try:
        lvl = UnitLevel(level)
    except ValueError:
        raise BadRequest(f"level {level!r}: one of {', '.join(LEVELS)}", code="bad_level") from None
    parent = await unit_in_scope(session, scope, parent_id) if parent_id is not None else None
    if parent is None:
        scope.require_admin("a top-level unit")
    _check_level(lvl, parent)
    _check_fallback(fallback_after_s)
    unit = await org.create_unit(session, code=code, name=name.strip(), level=lvl, name_en=name_en,
                                 parent_id=parent.id if parent else None, now=now,
                                 business_hours=check_hours(business_hours or DEFAULT_BUSINESS_HOURS))
    unit.fallback_after_s = fallback_after_s
    await session.flush()
    await audit.record(session, kind="unit.create", actor=audit.actor_of(scope.staff), at=now,
                       target=f"unit:{code}", after=view(unit))
    return unit


def _check_fallback(seconds: int | None) -> None:
    if seconds is not None and not 0 <= seconds <= MAX_FALLBACK_S:
        raise BadRequest(f"fallback seconds must be 0 to {MAX_FALLBACK_S}", code="bad_fallback")


EDITABLE = ("name", "name_en", "business_hours", "fallback_after_s", "timezone")


async def update_unit(session: AsyncSession, scope: AdminScope, unit_id: int, changes: Mapping[str, Any],
                      now: datetime) -> OrgUnit:
    """Renames, sets hours or the fallback: only the keys present in `changes`."""
    unit = await unit_in_scope(session, scope, unit_id)
    before = view(unit)
    for key, value in changes.items():
        if key not in EDITABLE:
            raise BadRequest(f"unit field {key!r} cannot be changed here", code="bad_field")
        if key == "business_hours":
            value = check_hours(value)
        elif key == "fallback_after_s":
            _check_fallback(value)
        elif key == "name" and not str(value or "").strip():
            raise BadRequest("a unit needs a name", code="missing_name")
        setattr(unit, key, value)
    await session.flush()
    b, a = audit.diff(before, view(unit))
    if a:
        await audit.record(session, kind="unit.update", actor=audit.actor_of(scope.staff), at=now,
                           target=f"unit:{unit.code}", before=b, after=a)
    return unit


async def move_unit(session: AsyncSession, scope: AdminScope, unit_id: int, parent_id: int,
                    now: datetime) -> OrgUnit:
    """Puts the unit (and its subtree) under another parent; refuses a cycle."""
    unit = await unit_in_scope(session, scope, unit_id)
    parent = await unit_in_scope(session, scope, parent_id)
    if parent.path.startswith(unit.path):
        raise Conflict(f"{parent.name} lies inside {unit.name}: moving would make a cycle", code="cycle")
    if unit.path == scope.path:
        raise BadRequest("you cannot move the unit you administer from", code="own_root")
    _check_level(UnitLevel(unit.level), parent)
    old_path, old_parent = unit.path, unit.parent_id
    new_path = f"{parent.path}{unit.id}/"
    # Every path in the subtree starts with the old prefix: swap the prefix in one statement.
    await session.execute(update(OrgUnit).where(OrgUnit.path.startswith(old_path, autoescape=True))
                          .values(path=literal(new_path, String) + func.substr(OrgUnit.path, len(old_path) + 1))
                          .execution_options(synchronize_session=False))
    await session.execute(update(OrgUnit).where(OrgUnit.id == unit.id).values(parent_id=parent.id)
                          .execution_options(synchronize_session=False))
    await session.flush()
    await session.refresh(unit)
    await audit.record(session, kind="unit.move", actor=audit.actor_of(scope.staff), at=now,
                       target=f"unit:{unit.code}", before={"parent_id": old_parent, "path": old_path},
                       after={"parent_id": parent.id, "path": unit.path})
    return unit


async def set_disabled(session: AsyncSession, scope: AdminScope, unit_id: int, disabled: bool,
                       now: datetime) -> OrgUnit:
    """Disabling refuses a unit that still has active staff, enabled child units or waiting applicants."""
    unit = await unit_in_scope(session, scope, unit_id)
    if disabled and not unit.disabled:
        staff = await session.scalar(select(func.count(Staff.id)).where(Staff.unit_id == unit.id,
                                                                        Staff.is_active.is_(True)))
        if staff:
            raise Conflict(f"{unit.name} still has {staff} active staff: move or disable them first",
                           code="unit_has_staff")
        children = await session.scalar(select(func.count(OrgUnit.id)).where(OrgUnit.parent_id == unit.id,
                                                                             OrgUnit.disabled.is_(False)))
        if children:
            raise Conflict(f"{unit.name} still has {children} enabled units below it", code="unit_has_children")
        waiting = await session.scalar(select(func.count(WorkOrder.id)).where(
            WorkOrder.unit_id == unit.id,
            WorkOrder.status.in_([WorkOrderStatus.queued, WorkOrderStatus.offered])))
        if waiting:
            raise Conflict(f"{unit.name} has {waiting} waiting applicants: wait until they are served",
                           code="unit_has_waiting")
    if unit.disabled != disabled:
        unit.disabled = disabled
        await session.flush()
        await audit.record(session, kind="unit.disable" if disabled else "unit.enable",
                           actor=audit.actor_of(scope.staff), at=now, target=f"unit:{unit.code}",
                           before={"disabled": not disabled}, after={"disabled": disabled})
    return unit


async def unit_by_code(session: AsyncSession, scope: AdminScope, code: str) -> OrgUnit:
    unit = await session.scalar(select(OrgUnit).where(OrgUnit.code == code))
    if unit is None or not scope.covers(unit.path):
        raise NotFound(f"unit {code!r} not found", code="unknown_unit")
    return unit
