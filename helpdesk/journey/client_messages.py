"""Socket messages → queue and call actions (Journey.handle_message). The endpoint has checked who may
send each type (protocol.ALLOWED_ROLES); what a message must belong to (a room, a ticket) is checked
here. An outage answers a typed `unavailable` error and changes nothing."""

from __future__ import annotations

import logging
import time

from helpdesk_signaling import protocol as p
from helpdesk_signaling.errors import SignalingError

from helpdesk.journey import agent_status
from helpdesk.journey.context import peer_names
from helpdesk.journey.party import leave_call
from helpdesk.journey.service import UNAVAILABLE, Journey, is_unavailable
from helpdesk.logs import log_context
from helpdesk.workorders import service as wos
from helpdesk.workorders.models import WorkOrder

log = logging.getLogger("helpdesk.journey.service")  # the logger these lines were always under
CHAT_NOT_SENT = "message not sent: the service is briefly unavailable; send it again shortly"


async def handle_message(journey: Journey, member: str, role: str, msg: p.ClientMessage) -> None:
    try:
        with log_context(work_order=getattr(msg, "room", None)):
            await _handle(journey, member, role, msg)
    except Exception as exc:
        if is_unavailable(exc) and not isinstance(exc, SignalingError):
            log.warning("%s from %s refused: %s (%s)", msg.type, member, "service unavailable", type(exc).__name__)
            text = CHAT_NOT_SENT if isinstance(msg, p.Chat) else UNAVAILABLE
            raise SignalingError("unavailable", text, msg.type) from exc
        raise


async def _handle(journey: Journey, member: str, role: str, msg: p.ClientMessage) -> None:
    if isinstance(msg, p.AgentStateSet):  # the choice is recorded first: it survives Redis
        await agent_status.remember_state(journey.state.engine, int(member[2:]), msg.state, journey.now())
        await journey.queue.agent_state(int(member[2:]), msg.state)
    elif isinstance(msg, p.OfferAccept):
        await journey.database_reachable()  # the call's record must be writable before the queue moves
        journey.accepted_at[msg.ticket] = time.perf_counter()
        try:
            await journey.queue.accept(msg.ticket, int(member[2:]))
        finally:
            journey.accepted_at.pop(msg.ticket, None)
    elif isinstance(msg, p.OfferDecline):
        await journey.queue.decline(msg.ticket, int(member[2:]))
    elif isinstance(msg, p.QueueLeave):
        if msg.ticket != member[2:]:
            raise SignalingError("forbidden", "you can only leave your own place in the queue")
        await journey.queue.leave(msg.ticket)
    elif isinstance(msg, p.Chat):
        await post_chat(journey, member, msg.room, msg.text)
    elif isinstance(msg, p.Hangup):
        room = await journey.member_room(member, msg.room)
        if len(room.members) > 2 and not member.startswith("a:"):  # #19: staff leave a call of 3-4
            await leave_call(journey, room, member)
        else:
            await journey.end_call(room, reason="hangup", by=member)
    elif isinstance(msg, p.InspectionSignal):
        await journey.member_room(member, msg.room)
        await inspection_signal(journey, member, msg)


async def inspection_signal(journey: Journey, member: str, msg: p.InspectionSignal) -> None:
    """The applicant's camera negotiating with the server-side inspection peer."""
    from helpdesk_inspection.component import ws_error
    from helpdesk_inspection.errors import InspectionError

    component = journey.state.components.get("inspection")
    if component is None:
        raise SignalingError("unavailable", "remote inspection is not running on this server")
    try:
        payload = msg.model_dump(mode="json", exclude_unset=True) | {"type": msg.type}
        await component.handle_client_message(member, payload)
    except InspectionError as exc:
        raise SignalingError(ws_error(exc)["code"], exc.message) from exc


async def post_chat(journey: Journey, member: str, room_id: str, text: str) -> None:
    room = await journey.member_room(member, room_id)
    now = journey.now()
    async with journey.state.sessions() as session:
        wo = await session.get(WorkOrder, room.id)
        if wo is None:
            raise SignalingError("not_found", "work order not found")
        kind = "applicant" if member.startswith("a:") else "staff"
        row = await wos.add_chat(session, wo, sender_kind=kind, sender_id=member[2:], text=text, now=now)
        agent_side, applicant_side = await peer_names(session, wo)
        await session.commit()
    name = applicant_side["name"] if kind == "applicant" else agent_side["name"]
    out = p.ChatPosted(room=room.id, id=str(row.id), from_=member, sender_name=name, text=text,
                       at=now.isoformat())
    for m in room.members:
        await journey.send(m, out)
