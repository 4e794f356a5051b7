"""Every work-order query, always through the access scope of helpdesk.access."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk.access import can_view_work_order, visible_work_orders
from helpdesk.accounts.models import Staff
from helpdesk.errors import NotFound
from helpdesk.workorders.models import ChatMessage, FileAttachment, WorkOrder, WorkOrderEvent, WorkOrderStatus

can_staff_view = can_view_work_order


async def list_visible(session: AsyncSession, staff: Staff, *, mine: bool, status: WorkOrderStatus | None,
                       since: datetime | None, limit: int, offset: int) -> Sequence[WorkOrder]:
    query = await visible_work_orders(session, staff)
    if mine:
        query = query.where((WorkOrder.agent_id == staff.id) | (WorkOrder.owner_id == staff.id))
    if status is not None:
        query = query.where(WorkOrder.status == status)
    if since is not None:
        query = query.where(WorkOrder.created_at >= since)
    query = query.order_by(WorkOrder.created_at.desc()).limit(limit).offset(offset)
    return (await session.scalars(query)).all()


async def get_visible(session: AsyncSession, staff: Staff, work_order_id: str) -> WorkOrder:
    """The work order, or 404 whether it is missing or out of the caller's scope (no probing)."""
    query = (await visible_work_orders(session, staff)).where(WorkOrder.id == work_order_id)
    wo = await session.scalar(query)
    if wo is None:
        raise NotFound("work order not found")
    return wo


async def timeline(session: AsyncSession, work_order_id: str) -> tuple[
        Sequence[WorkOrderEvent], Sequence[ChatMessage], Sequence[FileAttachment]]:
    events = (await session.scalars(select(WorkOrderEvent).where(WorkOrderEvent.work_order_id == work_order_id)
                                    .order_by(WorkOrderEvent.id))).all()
    chat = (await session.scalars(select(ChatMessage).where(ChatMessage.work_order_id == work_order_id)
                                  .order_by(ChatMessage.id))).all()
    files = (await session.scalars(select(FileAttachment).where(FileAttachment.work_order_id == work_order_id)
                                   .order_by(FileAttachment.created_at))).all()
    return events, chat, files
