"""The journey coordinator: turns queue events into socket messages and work-order records
(queue_events.py), and socket messages into queue and call actions (client_messages.py); holds the
call's end and the sockets' comings and goings. One per process; the queue and hub hold shared state."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime
from typing import Any

from helpdesk_queue import AgentPresence, Connected, QueueError, QueueEvent, QueueService
from helpdesk_signaling import protocol as p
from helpdesk_signaling.endpoint import SignalingEndpoint
from helpdesk_signaling.errors import SignalingError
from helpdesk_signaling.hub import Hub, Room
from helpdesk_signaling.ice import ice_servers
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from helpdesk.accounts.models import Staff, StaffSkill
from helpdesk.db import ping
from helpdesk.journey import absence, agent_status
from helpdesk.journey.context import peer_names
from helpdesk.journey.positions import LinePositions
from helpdesk.journey.wait_history import WaitHistory
from helpdesk.outage import is_service_unavailable
from helpdesk.state import AppState
from helpdesk.workorders import service as wos
from helpdesk.workorders.models import WorkOrder, WorkOrderStatus

log = logging.getLogger(__name__)


def applicant_member(applicant_id: str) -> str:
    return f"a:{applicant_id}"


def staff_member(staff_id: int) -> str:
    return f"s:{staff_id}"


def is_unavailable(exc: BaseException) -> bool:
    """Redis (the shared queue and hub) or PostgreSQL (the record) cannot be reached: an outage to
    report, not a bug."""
    if isinstance(exc, SignalingError):
        return exc.code == "unavailable"
    return isinstance(exc, RedisConnectionError | RedisTimeoutError) or is_service_unavailable(exc)


UNAVAILABLE = "the service is briefly unavailable; nothing was changed, try again shortly"


class Journey:
    """Ticket = applicant id (one waiting request per applicant); room id = work order id."""

    def __init__(self, state: AppState, hub: Hub) -> None:
        self.state = state
        self.hub = hub
        self.queue: QueueService  # set by the wiring (the queue emits into self.on_queue_event)
        self.endpoint: SignalingEndpoint
        self.wait_history: WaitHistory  # set by the wiring (the queue's history source)
        self.recovery: Any = None  # helpdesk.journey.recovery.Recovery, set by the wiring
        self.local_agents: set[int] = set()  # agents whose socket this process holds (for heartbeats)
        self._local_sockets: Counter[str] = Counter()  # agent member -> this process's sockets of it
        # Leader only: since when each waiting applicant has had no socket on any process. Cleared
        # when this process (again) becomes the leader: a count from an earlier term is stale.
        self.offline_since: dict[str, float] = {}
        self.accepted_at: dict[str, float] = {}  # ticket -> when this process took its accept (metrics)
        self.positions = LinePositions(self)  # started by the wiring
        self._outbox: list[tuple[str, Any]] = []  # messages of the queue operation being emitted

    # ---- helpers -----------------------------------------------------------------------------
    def now(self) -> datetime:
        return self.state.clock.now()

    def ice_for(self, member: str) -> list[dict[str, Any]]:
        s = self.state.settings
        return ice_servers(stun_urls=s.stun_urls, turn_urls=s.turn_urls, turn_secret=s.turn_secret,
                           ttl_s=s.turn_ttl_s, user=member, now=self.now().timestamp())

    async def send(self, member: str, message: Any) -> None:
        await self.hub.send(member, message)

    async def room_joined(self, wo: WorkOrder, member: str, resumed: bool) -> p.RoomJoined:
        async with self.state.sessions() as session:
            names = await peer_names(session, wo)
        return self.room_joined_message(wo, member, resumed, names)

    def room_joined_message(self, wo: WorkOrder, member: str, resumed: bool,
                            names: tuple[dict[str, Any], dict[str, Any]]) -> p.RoomJoined:
        agent_side, applicant_side = names
        is_applicant = member.startswith("a:")
        agent_side["member"] = staff_member(wo.agent_id) if wo.agent_id else None
        applicant_side["member"] = applicant_member(wo.applicant_id)
        return p.RoomJoined(room=wo.id, work_order=wo.id, role="applicant" if is_applicant else "agent",
                            polite=is_applicant, peer=agent_side if is_applicant else applicant_side,
                            ice_servers=self.ice_for(member), resumed=resumed)

    # ---- queue events → messages and records (queue_events.py) ---------------------------------
    async def on_queue_event(self, event: QueueEvent) -> None:
        from helpdesk.journey import queue_events  # it imports this module

        await queue_events.on_queue_event(self, event)

    def send_soon(self, member: str, message: Any) -> None:
        """A message caused by a queue event: sent with the others of its operation (flush_queued)."""
        self._outbox.append((member, message))

    async def flush_queued(self) -> None:
        """After each queue operation's events: their socket messages in one pipelined round trip,
        then the line changes (one publish)."""
        out, self._outbox = self._outbox, []
        try:
            if out:
                await self.hub.send_many(out)
            await self.positions.publish()
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            log.warning("%d queue messages not delivered: Redis unavailable", len(out))

    @staticmethod
    def status_message(status: Any) -> p.QueueStatus:
        return p.QueueStatus(ticket=status.ticket, work_order=status.work_order_id, state=status.state,
                             position=status.position, expected_wait_s=status.expected_wait_s,
                             expected_wait_low_s=status.expected_wait_low_s,
                             expected_wait_high_s=status.expected_wait_high_s,
                             agents_ready=status.agents_ready, fallback_level=status.fallback_level)

    async def push_status(self, ticket: str) -> None:
        status = await self.queue.status(ticket)
        if status is not None:
            self.send_soon(applicant_member(ticket), self.status_message(status))

    async def open_request(self, session: Any, applicant_id: str) -> WorkOrder | None:
        wo: WorkOrder | None = await session.scalar(
            select(WorkOrder).where(WorkOrder.applicant_id == applicant_id,
                                    WorkOrder.status.in_([WorkOrderStatus.queued, WorkOrderStatus.offered]))
            .order_by(WorkOrder.created_at.desc()).limit(1))
        return wo

    async def connect_call(self, event: Connected) -> None:
        from helpdesk.journey import queue_events  # it imports this module

        await queue_events.connect_call(self, event)

    async def end_call(self, room: Room | str, *, reason: str, by: str | None, closed: bool = False) -> None:
        """Ends a call once, whoever asks first: stamps the work order, closes the room, then tells
        both sides (so a wrap-up sent on `call.ended` finds the call ended), then frees the agent.

        The record comes first: when PostgreSQL is down this raises before Redis changes, so the
        caller answers `unavailable` and the call goes on (retry the hang-up); the two never disagree.
        `closed=True`: the room was already closed by the drop-grace sweep, which hands it over (if
        the record fails then, the reconciler ends the work order: in_call without a room)."""
        if isinstance(room, str):
            found = await self.hub.get_room(room)
            if found is None:
                return
            room = found
        meta = room.metadata
        if "monitor_of" in meta:  # a supervisor's monitor room (#19): only the watching ends
            watched = room if closed else await self.hub.close_room(room.id)
            if watched is not None:
                from helpdesk.journey.party import end_monitor_room

                await end_monitor_room(self, watched, reason, by)
            return
        now = self.now()
        async with self.state.sessions() as session:
            wo = await session.get(WorkOrder, meta["work_order"])
            if wo is not None:
                if reason == "dropped" and by:
                    await wos.record_drop(session, wo, member=by, kind="expired", now=now)
                await wos.mark_ended(session, wo, reason=reason, by=by or "system", now=now)
                await session.commit()
        ended = room if closed else await self.hub.close_room(room.id)
        if ended is None:
            return  # the other side (or another process) ended it first
        inspection = self.state.components.get("inspection")
        if inspection is not None:  # a live inspection ends with its call; what was recorded stays
            await inspection.on_call_ended(meta["work_order"], reason)
        message = p.CallEnded(room=ended.id, work_order=meta.get("work_order"), reason=reason, by=by)
        for member in ended.members:
            await self.send(member, message)
        from helpdesk.journey.party import close_monitors  # #19: supervisors watching it

        await close_monitors(self, ended, reason)
        if staff_member(int(meta["agent_id"])) not in ended.members:
            return  # the agent left the call to a colleague earlier and was freed then (#19)
        handle_s = now.timestamp() - float(meta.get("answered_at", now.timestamp()))
        try:
            await self.queue.call_ended(int(meta["agent_id"]), handle_s, str(meta["line"]))
        except QueueError as exc:
            log.warning("call_ended for agent %s: %s", meta["agent_id"], exc.message)

    # ---- socket lifecycle ----------------------------------------------------------------------
    async def agent_presence(self, staff: Staff) -> AgentPresence:
        async with self.state.sessions() as session:
            skills = (await session.scalars(select(StaffSkill).where(StaffSkill.staff_id == staff.id))).all()
        return AgentPresence(agent_id=staff.id, unit_id=staff.unit_id, capacity=staff.capacity,
                             item_ids={s.item_id for s in skills if s.item_id},
                             department_ids={s.department_id for s in skills if s.department_id})

    async def on_connect(self, member: str, role: str, staff: Staff | None) -> dict[str, Any]:
        """Registers presence and tells a returning member where they were (waiting or in a room)."""
        extra: dict[str, Any] = {}
        await self.recovery.ensure_current()  # Redis restarted? rebuilt from the database first
        if staff is not None and role == "agent":
            current = await self.queue.store.get_agent(staff.id)
            presence = await self.agent_presence(staff)
            chosen = await agent_status.connected(self.state.sessions, staff.id, self.now(),
                                                  self.state.settings.reconnect_grace_s)
            state = current.state if current is not None and current.state != "offline" else chosen
            agent = await self.queue.agent_online(presence, state)
            self._local_sockets[member] += 1  # balanced by on_disconnect (ws.py's finally)
            self.local_agents.add(staff.id)
            extra["agent"] = {"state": agent.state, "active_calls": agent.active_calls,
                              "capacity": agent.capacity, "missed_offers": agent.missed_offers}
        elif member.startswith("a:"):
            entry = await self.queue.store.get_entry(member[2:])
            status = await self.queue.status(member[2:]) if entry is not None else None
            if entry is not None and status is not None:
                message = self.status_message(status)
                extra["ticket"] = message.model_dump()
                self.positions.follow(entry.ticket, entry.line, sent=message)
        from helpdesk.journey.party import plain_pair, room_joined  # party imports this module

        for room in await self.hub.rooms_of(member):  # the hub tells the peer and records the return
            async with self.state.sessions() as session:
                wo = await session.get(WorkOrder, room.id)
                if wo is not None and not plain_pair(room, wo):  # #19: three or four, or a colleague left on
                    extra["room"] = (await room_joined(self, session, wo, room, member, resumed=True)).model_dump()
                    continue
            if wo is not None:
                extra["room"] = (await self.room_joined(wo, member, resumed=True)).model_dump()
        return extra

    async def record_peer(self, room: Room, member: str, kind: str) -> None:
        """The hub's listener: a member's socket dropped or came back (whichever process noticed)."""
        async with self.state.sessions() as session:
            wo = await session.get(WorkOrder, room.id)
            if wo is not None:
                await wos.record_drop(session, wo, member=member, kind=kind, now=self.now())
                await session.commit()

    async def on_disconnect(self, member: str, role: str, staff: Staff | None) -> None:
        """After the socket closed (the hub has recorded any drop): a ready agent without a call goes offline."""
        if staff is not None and role == "agent":
            # Heartbeats follow this process's sockets, not the member's: an agent whose socket moved
            # to another process must stop being kept alive from here.
            self._local_sockets[member] -= 1
            if self._local_sockets[member] <= 0:
                del self._local_sockets[member]
                self.local_agents.discard(staff.id)
        try:
            await self._on_disconnect(member, role, staff)
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            log.warning("member %s disconnected while Redis or the database is unavailable; the drop is "
                        "not recorded (%s)", member, type(exc).__name__)

    async def _on_disconnect(self, member: str, role: str, staff: Staff | None) -> None:
        if member.startswith("a:") and self.hub.local_connection(member) is None:
            self.positions.forget(member[2:])
        if await self.hub.is_online(member):
            return  # replaced by a newer socket (the drop itself is recorded by the hub's listener)
        if member.startswith("a:") and await self.queue.store.get_entry(member[2:]) is not None:
            await absence.socket_closed(self, member[2:])  # waiting: leaves unless back within the grace
        # Told to reconnect to another process (shutdown): the agent is not going offline; the
        # presence TTL takes them off if they do not come back.
        if staff is not None and role == "agent" and not self.endpoint.draining:
            agent = await self.queue.store.get_agent(staff.id)
            if agent is not None and agent.active_calls == 0:
                await self.queue.agent_state(staff.id, "offline")
            await agent_status.disconnected(self.state.sessions, staff.id, self.now())

    # ---- socket messages → actions (client_messages.py) ----------------------------------------
    async def refuse_unavailable(self, ws: Any, member: str, exc: BaseException) -> None:
        """The socket could not be registered (Redis down): a typed error and close 1011; the
        client reconnects with backoff until Redis is back."""
        log.warning("socket of %s refused: Redis or the database unavailable (%s)", member, type(exc).__name__)
        await ws.accept()
        await ws.send_text(p.dump(p.error("unavailable", UNAVAILABLE)))
        await ws.close(1011, "unavailable")

    async def handle_message(self, member: str, role: str, msg: p.ClientMessage) -> None:
        from helpdesk.journey import client_messages  # it imports this module

        await client_messages.handle_message(self, member, role, msg)

    async def inspection_signal(self, member: str, msg: p.InspectionSignal) -> None:
        from helpdesk.journey import client_messages  # it imports this module

        await client_messages.inspection_signal(self, member, msg)

    async def database_reachable(self) -> None:
        """Raises (an outage) unless PostgreSQL answers now: checked before a step that changes Redis
        and must then be recorded, so an outage refuses the step instead of half-doing it."""
        await ping(self.state.engine)

    async def member_room(self, member: str, room_id: str) -> Room:
        room = await self.hub.get_room(room_id)
        if room is None or member not in room.members:
            raise SignalingError("not_in_room", f"you are not a member of room {room_id}")
        return room

    async def post_chat(self, member: str, room_id: str, text: str) -> None:
        from helpdesk.journey import client_messages  # it imports this module

        await client_messages.post_chat(self, member, room_id, text)

    async def share_file(self, room_id: str, member: str, file: dict[str, Any]) -> None:
        room = await self.hub.get_room(room_id)
        if room is None:
            return
        out = p.FileShared(room=room.id, file=file, from_=member)
        for m in room.members:
            await self.send(m, out)

    # ---- time ----------------------------------------------------------------------------------
    def became_leader(self) -> None:
        """This process now runs the timers: what an earlier term saw may be stale."""
        self.offline_since.clear()
        self.queue.reset_timers()

    async def heartbeat(self) -> None:
        """Every process, every tick: its agents' sockets are alive, so their presence is; the
        expected wait's history is re-read when the hour changes."""
        await self.queue.heartbeats(sorted(self.local_agents))  # one round trip for all of them
        try:
            await self.wait_history.refresh(self.now())
        except (SQLAlchemyError, OSError) as exc:  # the database is down: keep the last seeds
            log.warning("expected-wait history not refreshed: %s", type(exc).__name__)

    async def tick(self) -> None:
        """Leader only, once a second: offer timeouts and fallbacks, presence expiry, waiting
        applicants gone past the grace, calls whose drop grace ran out."""
        await self.queue.tick()
        await absence.sweep(self)
        for expired in await self.endpoint.sweep():
            by = expired.dropped[0] if expired.dropped else None
            await self.end_call(expired.room, reason="dropped", by=by, closed=True)
