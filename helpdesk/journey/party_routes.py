"""HTTP side of calls of three or four (#19): consult a colleague or an on-duty expert, leave a call to
them, and a supervisor's monitoring (watch receive-only, stop, join as a participant)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter
from helpdesk_queue import QueueError
from helpdesk_signaling import protocol as p
from helpdesk_signaling.errors import SignalingError
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk.access import can_view_work_order
from helpdesk.accounts.models import Staff
from helpdesk.deps import CurrentStaff, CurrentSupervisor, SessionDep, SettingsDep
from helpdesk.errors import BadRequest, Conflict, Forbidden, NotFound
from helpdesk.journey import party
from helpdesk.journey.routes import JourneyDep
from helpdesk.journey.service import Journey, applicant_member, staff_member
from helpdesk.workorders import service as wos
from helpdesk.workorders.models import WorkOrder

router = APIRouter(tags=["journey"])
log = logging.getLogger(__name__)


class ConsultIn(BaseModel):
    staff_id: int | None = Field(None, description="A named colleague; or `expert: true` for an on-duty one.")
    expert: bool = False
    note: str = Field("", max_length=500)


async def call_of(journey: Journey, session: AsyncSession, work_order_id: str) -> tuple[WorkOrder, Any]:
    room = await journey.hub.get_room(work_order_id)
    wo = await session.get(WorkOrder, work_order_id)
    if room is None or wo is None or "monitor_of" in room.metadata:
        raise NotFound("this call is not in progress")
    return wo, room


async def on_duty_expert(journey: Journey, wo: WorkOrder, exclude: set[str]) -> int:
    """A ready agent who serves the item (or its department), online and not in this call."""
    from helpdesk.org.models import ServiceItem

    async with journey.state.sessions() as s:
        item = await s.get(ServiceItem, wo.item_id)
    for a in sorted(await journey.queue.store.list_agents(), key=lambda a: a.idle_since):
        serves = wo.item_id in a.item_ids or (item is not None and item.department_id in a.department_ids)
        if a.state == "ready" and serves and staff_member(a.agent_id) not in exclude:
            return a.agent_id
    raise Conflict("no expert for this item is on duty now", code="no_expert")


@router.post("/api/calls/{work_order_id}/participants", status_code=201)
async def consult(work_order_id: str, body: ConsultIn, staff: CurrentStaff, session: SessionDep,
                  journey: JourneyDep) -> dict[str, Any]:
    """An agent in the call brings in a named colleague or an on-duty expert (they join at once)."""
    wo, room = await call_of(journey, session, work_order_id)
    me = staff_member(staff.id)
    if me not in room.members:
        raise Forbidden("only someone in this call can invite", code="not_in_room")
    if body.staff_id is None and not body.expert:
        raise BadRequest("name a colleague (staff_id) or ask for an expert", code="no_target")
    target_id = body.staff_id if body.staff_id is not None else await on_duty_expert(journey, wo, set(room.members))
    target = await session.get(Staff, target_id)
    if target is None or not target.is_active:
        raise NotFound("colleague not found")
    member = staff_member(target.id)
    if not await journey.hub.is_online(member):
        raise Conflict("this colleague is not online", code="not_online")
    if await journey.hub.rooms_of(member):
        raise Conflict("this colleague is in another call", code="busy")
    try:
        await party.join(journey, session, wo, member, "consult", me, note=body.note, expert=body.expert)
    except SignalingError as exc:
        raise Conflict(exc.message, code="call_full" if exc.code == "conflict" else exc.code) from exc
    await session.commit()
    try:  # no queue offers while consulting (the console's ready toggle brings them back)
        presence = await journey.queue.store.get_agent(target.id)
        if presence is not None and presence.state == "ready":
            await journey.queue.agent_state(target.id, "away")
    except QueueError as exc:
        log.warning("consulted agent %s stays in the queue's state: %s", target.id, exc.message)
    return {"member": member, "name": target.display_name}


@router.post("/api/calls/{work_order_id}/leave")
async def leave_call(work_order_id: str, staff: CurrentStaff, session: SessionDep,
                     journey: JourneyDep) -> dict[str, Any]:
    """Leave the applicant with the colleague(s) still in the call."""
    _, room = await call_of(journey, session, work_order_id)
    me = staff_member(staff.id)
    if me not in room.members:
        raise Forbidden("you are not in this call", code="not_in_room")
    if len(room.members) <= 2:
        raise Conflict("nobody else would stay with the applicant: hang up instead", code="last_agent")
    await party.leave_call(journey, room, me)
    return {"left": True}


# ---- supervisor monitoring -----------------------------------------------------------------------
async def monitored_call(journey: Journey, session: AsyncSession, staff: Staff,
                         work_order_id: str) -> tuple[WorkOrder, Any]:
    if not await can_view_work_order(session, staff, work_order_id):  # the supervisor's subtree only
        raise Forbidden("this call is outside your org units", code="out_of_scope")
    return await call_of(journey, session, work_order_id)


@router.post("/api/calls/{work_order_id}/monitor", status_code=201)
async def start_monitor(work_order_id: str, staff: CurrentSupervisor, session: SessionDep, journey: JourneyDep,
                        settings: SettingsDep) -> dict[str, Any]:
    """Watch and listen receive-only: a room of the agent and the supervisor; the agent's page sends
    its own camera and microphone and the applicant's tracks there, the supervisor's page nothing."""
    wo, room = await monitored_call(journey, session, staff, work_order_id)
    agent = staff_member(int(room.metadata["agent_id"]))
    me = staff_member(staff.id)
    if me in room.members:
        raise Conflict("you are in this call already", code="in_call")
    if not await journey.hub.is_online(me):
        raise Conflict("open the wall first: monitoring needs your live connection", code="not_online")
    rid = party.monitor_room_id(wo.id, staff.id)
    if await journey.hub.get_room(rid) is None:
        meta = {"monitor_of": wo.id, "work_order": wo.id, "supervisor_id": staff.id,
                "agent_id": room.metadata["agent_id"]}
        await journey.hub.open_room(rid, (agent, me), meta)
        tell = settings.monitor_tell_applicant
        await wos.record_event(session, wo, "monitor_started", me, journey.now(), supervisor_id=staff.id,
                               applicant_told=tell)
        await session.commit()
        who = {"id": staff.id, "name": staff.display_name}
        await journey.send(agent, p.MonitorState(room=wo.id, event="started", supervisor=who, monitor_room=rid,
                                                 polite=False, ice_servers=journey.ice_for(agent)))
        if tell:
            told = p.MonitorState(room=wo.id, event="started", supervisor={"name": staff.display_name})
            await journey.send(applicant_member(wo.applicant_id), told)
    agent_side = await party.describe(session, wo, agent)
    return {"room": rid, "work_order": wo.id, "number": wo.number, "polite": True, "peer": agent_side,
            "ice_servers": journey.ice_for(me)}


async def _stop(journey: Journey, session: AsyncSession, staff: Staff, wo: WorkOrder, event: str) -> bool:
    rid = party.monitor_room_id(wo.id, staff.id)
    closed = await journey.hub.close_room(rid)
    if closed is None:
        return False
    me = staff_member(staff.id)
    await wos.record_event(session, wo, "monitor_stopped" if event == "stopped" else "monitor_joined", me,
                           journey.now(), supervisor_id=staff.id)
    await session.commit()
    who = {"id": staff.id, "name": staff.display_name}
    for m in closed.members:
        if m != me:
            await journey.send(m, p.MonitorState(room=wo.id, event=event, supervisor=who))
    if journey.state.settings.monitor_tell_applicant or event == "joined":
        await journey.send(applicant_member(wo.applicant_id),
                           p.MonitorState(room=wo.id, event=event, supervisor={"name": staff.display_name}))
    await journey.send(me, p.CallEnded(room=rid, work_order=wo.id, reason=event, by=me))
    return True


@router.delete("/api/calls/{work_order_id}/monitor")
async def stop_monitor(work_order_id: str, staff: CurrentSupervisor, session: SessionDep,
                       journey: JourneyDep) -> dict[str, Any]:
    wo, _ = await monitored_call(journey, session, staff, work_order_id)
    return {"stopped": await _stop(journey, session, staff, wo, "stopped")}


@router.post("/api/calls/{work_order_id}/monitor/join")
async def join_from_monitor(work_order_id: str, staff: CurrentSupervisor, session: SessionDep,
                            journey: JourneyDep) -> dict[str, Any]:
    """The supervisor joins the call as a participant (everyone is told; the applicant sees them)."""
    wo, room = await monitored_call(journey, session, staff, work_order_id)
    if len(room.members) >= 4:
        raise Conflict("this call has four participants already", code="call_full")
    await _stop(journey, session, staff, wo, "joined")
    me = staff_member(staff.id)
    try:
        await party.join(journey, session, wo, me, "supervisor", me)
    except SignalingError as exc:
        raise Conflict(exc.message, code="call_full" if exc.code == "conflict" else exc.code) from exc
    await session.commit()
    return {"room": wo.id, "member": me}
