"""Canned replies (快捷回复) per unit: an agent sees its unit's, its ancestors' and the global ones."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_kb import repository as repo
from helpdesk_kb.errors import KbForbidden, KbNotFound
from helpdesk_kb.models import KbCannedReply
from helpdesk_kb.perms import StaffLike, is_manager
from helpdesk_kb.schemas import CannedReplyIn, CannedReplyOut


def reply_out(row: KbCannedReply) -> CannedReplyOut:
    return CannedReplyOut(
        id=row.id, title=row.title, text=row.text, unit_id=row.unit_id, item_id=row.item_id, sort=row.sort
    )


async def list_replies(session: AsyncSession, *, staff: StaffLike, item_id: int | None = None) -> list[KbCannedReply]:
    scopes = await repo.unit_scopes(session, staff.unit_id) or []
    stmt = select(KbCannedReply).where(or_(KbCannedReply.unit_id.is_(None), KbCannedReply.unit_id.in_(scopes)))
    if item_id is not None:
        stmt = stmt.where(or_(KbCannedReply.item_id.is_(None), KbCannedReply.item_id == item_id))
    rows = await session.scalars(stmt.order_by(KbCannedReply.sort, KbCannedReply.id))
    return list(rows)


def _check_manage(staff: StaffLike, unit_id: int | None) -> None:
    """Supervisors manage their own unit's replies; admins any, including the global ones."""
    if str(staff.role) == "admin":
        return
    if not is_manager(staff) or unit_id != staff.unit_id:
        raise KbForbidden("a supervisor manages the canned replies of their own unit")


async def create_reply(session: AsyncSession, *, staff: StaffLike, data: CannedReplyIn, now: datetime) -> KbCannedReply:
    unit_id = data.unit_id if data.unit_id is not None or str(staff.role) == "admin" else staff.unit_id
    _check_manage(staff, unit_id)
    row = KbCannedReply(
        unit_id=unit_id,
        item_id=data.item_id,
        title=data.title,
        text=data.text,
        sort=data.sort,
        created_by=staff.id,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return row


async def update_reply(session: AsyncSession, *, staff: StaffLike, reply_id: int, data: CannedReplyIn) -> KbCannedReply:
    row = await session.get(KbCannedReply, reply_id)
    if row is None:
        raise KbNotFound("no such reply")
    _check_manage(staff, row.unit_id)
    row.title, row.text, row.item_id, row.sort = data.title, data.text, data.item_id, data.sort
    await session.flush()
    return row


async def delete_reply(session: AsyncSession, *, staff: StaffLike, reply_id: int) -> None:
    row = await session.get(KbCannedReply, reply_id)
    if row is None:
        raise KbNotFound("no such reply")
    _check_manage(staff, row.unit_id)
    await session.delete(row)
    await session.flush()
