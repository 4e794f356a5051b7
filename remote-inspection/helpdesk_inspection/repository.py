"""Every query of inspections (the service holds the rules)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_inspection.errors import Conflict, NotFound
from helpdesk_inspection.models import Inspection, PointMark


async def get(session: AsyncSession, inspection_id: str) -> Inspection:
    insp = await session.get(Inspection, inspection_id)
    if insp is None:
        raise NotFound(f"inspection {inspection_id} not found")
    return insp


async def marks(session: AsyncSession, inspection_id: str) -> dict[str, PointMark]:
    rows = await session.execute(select(PointMark).where(PointMark.inspection_id == inspection_id))
    return {m.point_key: m for m in rows.scalars()}


async def live_for_work_order(session: AsyncSession, work_order_id: str) -> Inspection | None:
    stmt = select(Inspection).where(Inspection.live_key == work_order_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def insert_live(session: AsyncSession, insp: Inspection) -> None:
    """One live inspection per call: a query for the usual case, the unique live_key for races
    between processes. SQLite's driver commits a SAVEPOINT opened outside a transaction, so
    there a lost race rolls the caller's transaction back instead."""
    running = Conflict("an inspection is already running in this call", code="inspection_running")
    if await live_for_work_order(session, insp.work_order_id) is not None:
        raise running
    try:
        if session.get_bind().dialect.name == "sqlite":
            session.add(insp)
            await session.flush()
        else:
            async with session.begin_nested():
                session.add(insp)
    except IntegrityError as exc:
        if session.get_bind().dialect.name == "sqlite":
            await session.rollback()
        raise running from exc
