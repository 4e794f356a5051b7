"""Calls of three or four (#19): a colleague or on-duty expert joins a call (consult), the agent of a
transferred call stays on in the new one (conference transfer), a supervisor watches a call
receive-only and may join it. Every join and leave is a work-order event (hash-chained audit)."""

from __future__ import annotations

import logging
from typing import Any

from helpdesk_signaling import protocol as p
from helpdesk_signaling.errors import SignalingError
from helpdesk_signaling.hub import Room
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk.accounts.models import Staff
from helpdesk.journey.context import peer_names
from helpdesk.journey.service import Journey, applicant_member, staff_member
from helpdesk.workorders import service as wos
from helpdesk.workorders.models import WorkOrder

log = logging.getLogger(__name__)
MONITOR_SEP = "~m"  # monitor room id: <work order>~m<supervisor id>


def monitor_room_id(work_order_id: str, supervisor_id: int) -> str:
    return f"{work_order_id}{MONITOR_SEP}{supervisor_id}"


def plain_pair(room: Room, wo: WorkOrder) -> bool:
    """Just the applicant and the agent who took the call: room.joined in its first form. Anything
    else (three or four members, or a colleague left alone with the applicant) needs `room_joined`."""
    return wo.agent_id is not None and set(room.members) == {applicant_member(wo.applicant_id),
                                                               staff_member(wo.agent_id)}


def polite(room: Room, me: str, other: str) -> bool:
    """Who rolls back on an offer collision in the pair (me, other): the applicant always, between staff
    the one who joined later."""
    if me.startswith("a:") or other.startswith("a:"):
        return me.startswith("a:")
    return room.members.index(me) > room.members.index(other)


async def describe(session: AsyncSession, wo: WorkOrder, member: str) -> dict[str, Any]:
    """What the others see of a member: {member, name, role}."""
    if member.startswith("a:"):
        _, applicant_side = await peer_names(session, wo)
        return {**applicant_side, "member": member}
    staff = await session.get(Staff, int(member[2:]))
    return {"member": member, "name": staff.display_name if staff else "",
            "role": staff.role.value if staff else "agent"}


async def room_joined(journey: Journey, session: AsyncSession, wo: WorkOrder, room: Room,
                      member: str, resumed: bool = False) -> p.RoomJoined:
    """room.joined for a member of a room of three or four: `peer` the applicant (or, for the applicant,
    the agent of the work order), `peers` everyone else with the polite flag of each pair."""
    others = room.others(member)
    primary = applicant_member(wo.applicant_id) if not member.startswith("a:") else (
        staff_member(wo.agent_id) if wo.agent_id and staff_member(wo.agent_id) in others else others[0])
    peers = [{**await describe(session, wo, m), "polite": polite(room, member, m)} for m in others if m != primary]
    return p.RoomJoined(room=room.id, work_order=wo.id, role="applicant" if member.startswith("a:") else "agent",
                        polite=polite(room, member, primary), peer=await describe(session, wo, primary),
                        peers=peers, ice_servers=journey.ice_for(member), resumed=resumed)


async def join(journey: Journey, session: AsyncSession, wo: WorkOrder, member: str, kind: str,
               actor: str, **data: Any) -> Room:
    """Add `member` to the call's room (up to four), record it, tell everyone. Commits before telling:
    a member who hears of it may read the work order at once."""
    room = await journey.hub.get_room(wo.id)
    if room is None:
        raise SignalingError("not_found", "this call is not in progress")
    if member in room.members:
        raise SignalingError("conflict", "already in this call")
    room = await journey.hub.add_member(wo.id, member)
    await wos.record_event(session, wo, "participant_joined", actor, journey.now(), member=member, how=kind,
                           **data)
    who = await describe(session, wo, member)
    await session.commit()
    await journey.send(member, await room_joined(journey, session, wo, room, member))
    for other in room.others(member):
        await journey.send(other, p.RoomMember(room=room.id, member=member, event="joined", name=who["name"],
                                               role=who["role"], polite=polite(room, other, member)))
    return room


async def leave(journey: Journey, session: AsyncSession, wo: WorkOrder, member: str, actor: str) -> Room:
    """Take `member` out of a call that goes on with the others; with two left the call ends instead
    (a hang-up). Commits before telling, as join does."""
    room = await journey.hub.remove_member(wo.id, member)
    await wos.record_event(session, wo, "participant_left", actor, journey.now(), member=member)
    who = await describe(session, wo, member)
    await session.commit()
    await journey.send(member, p.CallEnded(room=room.id, work_order=wo.id, reason="left", by=member))
    for other in room.members:
        await journey.send(other, p.RoomMember(room=room.id, member=member, event="left", name=who["name"],
                                               role=who["role"]))
    return room


async def keep_transferring_agent(journey: Journey, wo: WorkOrder) -> None:
    """A conference transfer was accepted: the agent who asked for it (the first leg's room has ended)
    joins the new call as a third participant."""
    from sqlalchemy import select

    from helpdesk.workorders.models import WorkOrderEvent

    async with journey.state.sessions() as session:
        note = await session.scalar(select(WorkOrderEvent.data).where(
            WorkOrderEvent.work_order_id == wo.id, WorkOrderEvent.kind == "transfer_note").limit(1))
        if not note or not note.get("conference") or note.get("from_agent_id") is None:
            return
        member = staff_member(int(note["from_agent_id"]))
        fresh = await session.get(WorkOrder, wo.id)
        if fresh is None or not await journey.hub.is_online(member):
            return
        try:
            await join(journey, session, fresh, member, "conference", member,
                       from_work_order=note.get("from_work_order"))
        except SignalingError as exc:
            log.warning("conference transfer: %s could not stay on: %s", member, exc.message)
            return
        await session.commit()


async def leave_call(journey: Journey, room: Room, member: str) -> None:
    """A staff member hangs up in a call of three or four: they leave, the others go on. The agent who
    took the call is freed in the queue now (end_call then skips them)."""
    async with journey.state.sessions() as session:
        wo = await session.get(WorkOrder, room.id)
        if wo is None:
            raise SignalingError("not_found", "work order not found")
        await leave(journey, session, wo, member, member)
        await session.commit()
    if member == staff_member(int(room.metadata["agent_id"])):
        handle_s = journey.now().timestamp() - float(room.metadata.get("answered_at", journey.now().timestamp()))
        await journey.queue.call_ended(int(member[2:]), handle_s, str(room.metadata["line"]))


async def close_monitors(journey: Journey, room: Room, reason: str) -> None:
    """The call ended: every supervisor still watching it gets call.ended for their monitor room."""
    agent_id = room.metadata.get("agent_id")
    if agent_id is None:
        return
    for r in await journey.hub.rooms_of(staff_member(int(agent_id))):
        if r.metadata.get("monitor_of") == room.id and await journey.hub.close_room(r.id) is not None:
            for m in r.members:
                await journey.send(m, p.CallEnded(room=r.id, work_order=room.id, reason=reason))


async def end_monitor_room(journey: Journey, room: Room, reason: str, by: str | None) -> None:
    """A monitor room ended on its own (hang-up or drop): record it; the call itself goes on."""
    wo_id = str(room.metadata["monitor_of"])
    async with journey.state.sessions() as session:
        wo = await session.get(WorkOrder, wo_id)
        if wo is not None:
            await wos.record_event(session, wo, "monitor_stopped", by or "system", journey.now(),
                                   supervisor_id=room.metadata.get("supervisor_id"), reason=reason)
            await session.commit()
    for m in room.members:
        await journey.send(m, p.CallEnded(room=room.id, work_order=wo_id, reason=reason, by=by))
