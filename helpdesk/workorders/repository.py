"""Every work-order query, always through the access scope of helpdesk.access."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk.access import can_view_work_order, visible_work_orders
from helpdesk.accounts.models import Staff
from helpdesk.applicants.models import Applicant
from helpdesk.errors import NotFound
from helpdesk.org.models import ServiceItem
from helpdesk.workorders.models import (
    ChatMessage,
    FileAttachment,
    Outcome,
    WorkOrder,
    WorkOrderEvent,
    WorkOrderStatus,
)

can_staff_view = can_view_work_order


async def list_visible(session: AsyncSession, staff: Staff, *, mine: bool, status: WorkOrderStatus | None,
                       since: datetime | None, limit: int, offset: int, search: str | None = None,
                       outcome: Outcome | None = None, until: datetime | None = None) -> Sequence[WorkOrder]:
    query = await visible_work_orders(session, staff)
    if mine:
        query = query.where((WorkOrder.agent_id == staff.id) | (WorkOrder.owner_id == staff.id))
    if status is not None:
        query = query.where(WorkOrder.status == status)
    if outcome is not None:
        query = query.where(WorkOrder.outcome == outcome)
    if since is not None:
        query = query.where(WorkOrder.created_at >= since)
    if until is not None:
        query = query.where(WorkOrder.created_at < until)
    if search:
        query = query.where(matching(search))
    query = query.order_by(WorkOrder.created_at.desc()).limit(limit).offset(offset)
    return (await session.scalars(query)).all()


def matching(search: str) -> ColumnElement[bool]:
    """A number, an item name (either language) or an applicant's phone (given or for a call-back).
    autoescape: what the agent typed is text, never a LIKE pattern."""
    def has(column: Any) -> ColumnElement[bool]:
        result: ColumnElement[bool] = column.icontains(search, autoescape=True)
        return result

    items = select(ServiceItem.id).where(has(ServiceItem.name) | has(ServiceItem.name_en))
    phones = select(Applicant.id).where(has(Applicant.phone))
    return or_(has(WorkOrder.number), WorkOrder.item_id.in_(items), WorkOrder.applicant_id.in_(phones),
               has(WorkOrder.callback_phone))


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
