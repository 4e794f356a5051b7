"""Rules of the org tree (materialized paths) and the service item catalogue. Services flush only."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk.errors import BadRequest, Conflict, NotFound
from helpdesk.org import repository as repo
from helpdesk.org.models import (
    DEFAULT_BUSINESS_HOURS,
    Department,
    OrgUnit,
    ServiceItem,
    ServiceItemUnit,
    UnitLevel,
)


async def create_unit(
    session: AsyncSession,
    *,
    code: str,
    name: str,
    level: UnitLevel | str,
    parent_id: int | None = None,
    name_en: str | None = None,
    business_hours: Mapping[str, Any] | None = None,
    timezone: str = "Asia/Shanghai",
    now: datetime | None = None,
) -> OrgUnit:
    """Adds a unit and sets its path "/<ancestors>/<id>/" (needs the id, hence the flush)."""
    if await repo.get_unit_by_code(session, code) is not None:
        raise Conflict(f"unit code {code!r} already exists")
    parent_path = ""
    if parent_id is not None:
        parent = await repo.get_unit(session, parent_id)
        if parent is None:
            raise NotFound(f"parent unit {parent_id} not found")
        if not parent.path:
            raise BadRequest(f"parent unit {parent_id} has no path")
        parent_path = parent.path
    unit = OrgUnit(
        code=code, name=name, name_en=name_en, level=UnitLevel(level), parent_id=parent_id,
        timezone=timezone, business_hours=dict(business_hours or DEFAULT_BUSINESS_HOURS),
        created_at=now or datetime.now(UTC), path="",
    )
    session.add(unit)
    await session.flush()
    unit.path = f"{parent_path or '/'}{unit.id}/"
    await session.flush()
    return unit


async def ancestors(session: AsyncSession, unit: OrgUnit) -> list[OrgUnit]:
    """The unit's ancestors, nearest first (the parent, then the grandparent, ...)."""
    ids = [uid for uid in repo.path_ids(unit.path) if uid != unit.id]
    by_id = {u.id: u for u in await repo.units_by_ids(session, ids)}
    return [by_id[uid] for uid in reversed(ids) if uid in by_id]


async def subtree(session: AsyncSession, unit: OrgUnit) -> Sequence[OrgUnit]:
    """The unit and everything below it."""
    return await repo.subtree_units(session, unit.path)


def unit_ref(unit: OrgUnit) -> dict[str, Any]:
    return {"id": unit.id, "code": unit.code, "name": unit.name, "name_en": unit.name_en,
            "level": str(unit.level)}


async def unit_tree(session: AsyncSession) -> list[dict[str, Any]]:
    """The whole tree as nested dicts, built from one ordered query."""
    nodes: dict[int, dict[str, Any]] = {}
    roots: list[dict[str, Any]] = []
    for unit in await repo.list_units(session):  # ordered by path: parents before children
        if unit.disabled:  # no desk to transfer to; a disabled unit has no enabled units below it
            continue
        node = unit_ref(unit) | {"children": []}
        nodes[unit.id] = node
        parent = nodes.get(unit.parent_id) if unit.parent_id is not None else None
        (parent["children"] if parent is not None else roots).append(node)
    return roots


async def create_department(session: AsyncSession, *, code: str, name: str,
                            name_en: str | None = None) -> Department:
    dept = Department(code=code, name=name, name_en=name_en)
    session.add(dept)
    await session.flush()
    return dept


async def create_item(
    session: AsyncSession,
    *,
    code: str,
    name: str,
    department_id: int,
    unit_ids: Iterable[int] = (),
    name_en: str | None = None,
    description: str = "",
    video_help: bool = True,
    remote_inspection: bool = False,
    time_limit_days: int | None = None,
) -> ServiceItem:
    """Adds a service item (事项) and the units that handle it."""
    if await repo.get_item_by_code(session, code) is not None:
        raise Conflict(f"service item {code!r} already exists")
    if await repo.get_department(session, department_id) is None:
        raise NotFound(f"department {department_id} not found")
    item = ServiceItem(code=code, name=name, name_en=name_en, department_id=department_id,
                       description=description, video_help=video_help,
                       remote_inspection=remote_inspection, time_limit_days=time_limit_days)
    session.add(item)
    await session.flush()
    for unit_id in dict.fromkeys(unit_ids):
        session.add(ServiceItemUnit(item_id=item.id, unit_id=unit_id))
    await session.flush()
    return item


async def item_summaries(session: AsyncSession) -> list[dict[str, Any]]:
    return [_item_summary(item, dept) for item, dept in await repo.list_items_with_departments(session)]


async def item_detail(session: AsyncSession, code: str) -> dict[str, Any]:
    item = await repo.get_item_by_code(session, code)
    if item is None:
        raise NotFound(f"service item {code!r} not found", code="unknown_item")
    dept = await repo.get_department(session, item.department_id)
    assert dept is not None  # foreign key
    return _item_summary(item, dept) | {
        "description": item.description,
        "time_limit_days": item.time_limit_days,
        "unit_ids": await repo.item_unit_ids(session, item.id),
    }


def _item_summary(item: ServiceItem, dept: Department) -> dict[str, Any]:
    return {
        "id": item.id, "code": item.code, "name": item.name, "name_en": item.name_en,
        "department": {"id": dept.id, "code": dept.code, "name": dept.name, "name_en": dept.name_en},
        "video_help": item.video_help, "remote_inspection": item.remote_inspection,
    }
