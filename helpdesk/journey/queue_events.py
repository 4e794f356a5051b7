"""Queue events → socket messages and work-order records (Journey.on_queue_event): an offer rings at
the agent, a revoked one stops, a connection opens the room, lines move, an applicant gives up.
Messages go out through the journey's outbox, one pipelined send per queue operation."""

from __future__ import annotations

import logging
import time

from helpdesk_queue import Abandoned, AgentStateChanged, Connected, Offered, OfferRevoked, PositionsChanged, QueueEvent
from helpdesk_signaling import protocol as p

from helpdesk import metrics
from helpdesk.journey import absence
from helpdesk.journey.context import offer_context, peer_names, step_rows
from helpdesk.journey.party import keep_transferring_agent
from helpdesk.journey.service import Journey, applicant_member, is_unavailable, staff_member
from helpdesk.logs import log_context
from helpdesk.workorders import service as wos
from helpdesk.workorders.models import WorkOrder

log = logging.getLogger("helpdesk.journey.service")  # the logger these lines were always under


async def on_queue_event(journey: Journey, event: QueueEvent) -> None:
    try:
        with log_context(work_order=getattr(event, "work_order_id", None)):
            await _handle(journey, event)
    except Exception as exc:  # one failed notification must not break the dispatcher for everyone
        if is_unavailable(exc):
            log.warning("queue event %s not delivered: Redis unavailable", type(event).__name__)
            return
        log.exception("queue event %s could not be handled", type(event).__name__)


async def _handle(journey: Journey, event: QueueEvent) -> None:
    now = journey.now()
    if isinstance(event, Offered):
        async with journey.state.sessions() as session:
            rows = await step_rows(session, event.work_order_id)  # held: the context reads them
            if rows is None:
                return
            wo = rows[0]
            await wos.mark_offered(session, wo, event.agent_id, now, event.fallback_level)
            ctx = await offer_context(session, wo, event.waited_s, event.fallback_level)
            await session.commit()
        timeout = max(0.0, event.expires_at - now.timestamp())
        journey.send_soon(staff_member(event.agent_id), p.Offer(
            ticket=event.ticket, work_order=event.work_order_id, expires_at=event.expires_at,
            timeout_s=round(timeout, 1), context=ctx))
        journey.send_soon(applicant_member(event.ticket), p.QueueStatus(  # needs no read
            ticket=event.ticket, work_order=event.work_order_id, state="offered", position=1,
            expected_wait_s=0.0, fallback_level=event.fallback_level))
    elif isinstance(event, OfferRevoked):
        journey.send_soon(staff_member(event.agent_id), p.OfferRevoked(ticket=event.ticket, reason=event.reason))
        if event.reason != "left":
            async with journey.state.sessions() as session:
                wo = await journey.open_request(session, event.ticket)
                if wo is not None:
                    await wos.mark_offer_revoked(session, wo, event.agent_id, event.reason, now)
                    await session.commit()
            await journey.push_status(event.ticket)
    elif isinstance(event, Connected):
        await connect_call(journey, event)
    elif isinstance(event, PositionsChanged):  # by line: see positions.py
        journey.positions.changed(event.lines, event.joined)
        if event.joined:
            await absence.arm(journey, [ticket for ticket, _ in event.joined], absence.CHECK)
    elif isinstance(event, AgentStateChanged):
        journey.send_soon(staff_member(event.agent_id), p.AgentState(
            state=event.state, active_calls=event.active_calls, capacity=event.capacity,
            missed_offers=event.missed_offers))
    elif isinstance(event, Abandoned):
        async with journey.state.sessions() as session:
            wo = await session.get(WorkOrder, event.work_order_id)
            if wo is not None:
                await wos.mark_abandoned(session, wo, waited_s=event.waited_s, now=now)
                await session.commit()
        journey.send_soon(applicant_member(event.ticket), p.QueueStatus(
            ticket=event.ticket, work_order=event.work_order_id, state="abandoned"))


async def connect_call(journey: Journey, event: Connected) -> None:
    now = journey.now()
    async with journey.state.sessions() as session:
        # held: the record, the outbox and peer_names read them again (the identity map is weak)
        rows = await step_rows(session, event.work_order_id, event.agent_id)
        wo, agent = (rows[0], rows[4]) if rows is not None else (None, None)
        if wo is None or agent is None:
            log.error("connected ticket %s has no work order or agent", event.ticket)
            return
        await wos.mark_answered(session, wo, agent_id=agent.id, agent_unit_id=agent.unit_id,
                                fallback_level=event.fallback_level, now=now)
        names = await peer_names(session, wo)
        await session.commit()
    if wo.transferred_from_id is not None:  # a warm transfer: the first leg ends as the second opens
        previous = await journey.hub.get_room(wo.transferred_from_id)
        if previous is not None:
            await journey.end_call(previous, reason="transferred",
                                   by=staff_member(int(previous.metadata["agent_id"])))
    a_member, s_member = applicant_member(wo.applicant_id), staff_member(agent.id)
    await journey.hub.open_room(wo.id, (a_member, s_member),
                                {"work_order": wo.id, "line": event.line, "agent_id": agent.id,
                                 "applicant_id": wo.applicant_id, "answered_at": now.timestamp()})
    journey.send_soon(a_member, p.QueueStatus(ticket=event.ticket, work_order=wo.id, state="connected"))
    for m in (a_member, s_member):
        journey.send_soon(m, journey.room_joined_message(wo, m, False, names))
    if wo.transferred_from_id is not None:  # #19: a conference transfer keeps the first agent on
        await journey.flush_queued()  # both have their room.joined before anyone hears of a third member
        await keep_transferring_agent(journey, wo)
    accepted_at = journey.accepted_at.pop(event.ticket, None)
    if accepted_at is not None:  # offer accepted → room open and both told
        metrics.observe_pairing(time.perf_counter() - accepted_at)
