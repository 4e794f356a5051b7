"""Warm transfer: during a call the agent hands the applicant to another unit or level (township →
county → city), or to a named colleague, with a required note. The applicant stays in the call and,
at the same time, at the front of the target's queue; when a target agent accepts (having seen the
whole context), the first call ends as "transferred" and the new one opens. Each leg is a work order;
the chain links them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from helpdesk_queue import WaitingEntry
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk.accounts.models import Staff
from helpdesk.deps import ClockDep, CurrentStaff, SessionDep
from helpdesk.errors import BadRequest, Conflict, Forbidden, NotFound
from helpdesk.journey import units
from helpdesk.journey.routes import JourneyDep
from helpdesk.journey.service import staff_member
from helpdesk.org.models import OrgUnit, ServiceItem
from helpdesk.workorders import service as wos
from helpdesk.workorders.models import WorkOrder, WorkOrderStatus

router = APIRouter(tags=["journey"])
TRANSFER_PRIORITY = 900  # ahead of everyone who is merely waiting: nobody queues twice


class TransferIn(BaseModel):
    target_unit_id: int | None = None
    target_agent_id: int | None = None
    note: str = Field(min_length=1, max_length=2000)
    # Conference transfer (#19): the agent handing over (e.g. the township helper who opened the call)
    # stays on in the new call instead of leaving when the target accepts.
    conference: bool = False


async def target_unit(session: AsyncSession, body: TransferIn) -> OrgUnit:
    if body.target_agent_id is not None:
        agent = await session.get(Staff, body.target_agent_id)
        if agent is None or not agent.is_active:
            raise NotFound("target agent not found")
        unit = await session.get(OrgUnit, agent.unit_id)
    elif body.target_unit_id is not None:
        unit = await session.get(OrgUnit, body.target_unit_id)
    else:
        raise BadRequest("name a target unit or agent", code="no_target")
    if unit is None:
        raise NotFound("target unit not found")
    return unit


@router.post("/api/calls/{work_order_id}/transfer")
async def request_transfer(work_order_id: str, body: TransferIn, staff: CurrentStaff, session: SessionDep,
                           journey: JourneyDep, clock: ClockDep) -> dict[str, Any]:
    now = clock.now()
    room = await journey.hub.get_room(work_order_id)
    if room is None or staff_member(staff.id) not in room.members:
        raise Forbidden("only the agent in this call can transfer it", code="not_in_room")
    wo = await session.get(WorkOrder, work_order_id)
    if wo is None or wo.status != WorkOrderStatus.in_call:
        raise Conflict("this call is not in progress")
    if await journey.queue.status(wo.applicant_id) is not None:
        raise Conflict("a transfer for this call is already waiting", code="transfer_pending")
    unit = await target_unit(session, body)
    item = await session.get(ServiceItem, wo.item_id)
    assert item is not None  # foreign key
    chain = await units.chain_for(session, item, unit.code)
    child = await wos.create_request(session, applicant_id=wo.applicant_id, item_id=wo.item_id, unit_id=unit.id,
                                     channel=wo.channel, priority=TRANSFER_PRIORITY, handoff=wo.handoff, now=now)
    child.transferred_from_id = wo.id
    await wos.record_event(session, wo, "transfer_requested", staff_member(staff.id), now, to_work_order=child.id,
                           target_unit_id=unit.id, target_agent_id=body.target_agent_id, note=body.note)
    await wos.record_event(session, child, "transfer_note", staff_member(staff.id), now, note=body.note,
                           from_work_order=wo.id, conference=body.conference, from_agent_id=staff.id)
    await session.commit()
    await journey.queue.join(WaitingEntry(
        ticket=wo.applicant_id, work_order_id=child.id, unit_chain=[u.id for u in chain], item_id=wo.item_id,
        department_id=item.department_id, priority=TRANSFER_PRIORITY, enqueued_at=now.timestamp(),
        pinned_agent=body.target_agent_id))
    return {"work_order": child.id, "number": child.number, "target_unit": {"id": unit.id, "name": unit.name}}


@router.post("/api/calls/{work_order_id}/transfer/cancel")
async def cancel_transfer(work_order_id: str, staff: CurrentStaff, session: SessionDep,
                          journey: JourneyDep) -> dict[str, Any]:
    wo = await session.get(WorkOrder, work_order_id)
    if wo is None or wo.agent_id != staff.id:
        raise NotFound("work order not found")
    left = await journey.queue.leave(wo.applicant_id)
    return {"cancelled": left is not None}
