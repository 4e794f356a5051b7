"""Checklists per service item: ordered review points (审查要点), one row per version."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import column, select, table, update
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_inspection.errors import InspectionError, NotFound
from helpdesk_inspection.models import Checklist
from helpdesk_inspection.schemas import PointIn

# The shell's service_items table, read through a lightweight construct (no import of its models).
service_items = table("service_items", column("id"), column("code"), column("name"), column("remote_inspection"))


def normalise_points(points: list[PointIn], previous: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Gives every point a stable key (kept from the previous version when the title matches)."""
    by_title = {p["title"]: p["key"] for p in previous or []}
    used: set[str] = set()
    out: list[dict[str, Any]] = []
    for point in points:
        key = point.key
        if key is not None and key in used:
            raise InspectionError(f"duplicate point key {key!r}", code="invalid_checklist")
        if key is None:
            key = by_title.get(point.title)
            if key is None or key in used:
                n = len(out) + 1
                while f"P{n}" in used or f"P{n}" in by_title.values():
                    n += 1
                key = f"P{n}"
        used.add(key)
        out.append({"key": key, "title": point.title, "guidance": point.guidance, "compliance": point.compliance})
    return out


async def item_row(session: AsyncSession, item_id: int) -> Any:
    row = (await session.execute(select(service_items).where(service_items.c.id == item_id))).first()
    if row is None:
        raise NotFound(f"service item {item_id} not found")
    return row


async def current(session: AsyncSession, item_id: int) -> Checklist | None:
    stmt = select(Checklist).where(Checklist.item_id == item_id, Checklist.is_current.is_(True))
    return (await session.execute(stmt)).scalar_one_or_none()


async def require_current(session: AsyncSession, item_id: int) -> Checklist:
    checklist = await current(session, item_id)
    if checklist is None:
        raise InspectionError(
            "this service item has no inspection checklist; a supervisor must add one first",
            status_code=409,
            code="no_checklist",
        )
    return checklist


async def get(session: AsyncSession, checklist_id: int) -> Checklist:
    checklist = await session.get(Checklist, checklist_id)
    if checklist is None:
        raise NotFound(f"checklist {checklist_id} not found")
    return checklist


async def versions(session: AsyncSession, item_id: int) -> list[Checklist]:
    stmt = select(Checklist).where(Checklist.item_id == item_id).order_by(Checklist.version.desc())
    return list((await session.execute(stmt)).scalars())


async def save(
    session: AsyncSession,
    *,
    item_id: int,
    title: str,
    points: list[PointIn],
    now: datetime,
    staff_id: int | None = None,
    change_note: str = "",
) -> Checklist:
    """Adds a new current version; older versions stay for the inspections that used them."""
    await item_row(session, item_id)
    previous = await current(session, item_id)
    if previous is not None:
        await session.execute(update(Checklist).where(Checklist.item_id == item_id).values(is_current=False))
    checklist = Checklist(
        item_id=item_id,
        version=(previous.version + 1) if previous else 1,
        is_current=True,
        title=title,
        points=normalise_points(points, previous.points if previous else None),
        change_note=change_note,
        created_by=staff_id,
        created_at=now,
    )
    session.add(checklist)
    await session.flush()
    return checklist


def point_by_key(checklist: Checklist, key: str) -> dict[str, Any] | None:
    return next((p for p in checklist.points if p["key"] == key), None)


def to_dict(checklist: Checklist) -> dict[str, Any]:
    return {
        "id": checklist.id,
        "item_id": checklist.item_id,
        "version": checklist.version,
        "is_current": checklist.is_current,
        "title": checklist.title,
        "points": checklist.points,
        "change_note": checklist.change_note,
        "created_at": checklist.created_at.isoformat(),
    }
