"""The reconciler (leader only, every HELPDESK_RECONCILE_INTERVAL_S): finds what Redis and the
database disagree on after a fault that no rebuild covers (a process killed between two steps, a
database outage during a step) and repairs it, recording the repair on the work order's timeline.

Each finding must be seen on two passes running before it is repaired: one sighting may be a step
in flight (an accept between the queue and the room), two a pass apart mean the step died.

Calls and agents are bounded by the staff and are all looked at on every pass. Waiting requests grow
with the queue: a pass compares at most WAITING_SLICE of them (in id order, going on where the last
pass stopped) plus the last pass's suspects, reading two columns, so an idle province with 10,000
waiting costs Redis and the leader a bounded amount per pass; a lost entry is found within
(waiting / WAITING_SLICE + 1) passes."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from helpdesk_queue import QueueError
from helpdesk_signaling import protocol as p
from sqlalchemy import select

from helpdesk.journey.recovery import WAITING, WAITING_MAX_AGE, waiting_entry
from helpdesk.journey.service import Journey, applicant_member, staff_member
from helpdesk.workorders import service as wos
from helpdesk.workorders.models import WorkOrder, WorkOrderStatus

log = logging.getLogger(__name__)
SETTLE = timedelta(seconds=10)  # younger records may be mid-step: not judged yet
WAITING_SLICE = 1000  # waiting requests compared with the queue per pass (besides the last suspects)


@dataclass
class Repairs:
    """What one pass repaired (work order ids, agent ids)."""

    ended: list[str] = field(default_factory=list)  # in_call without a room → ended, wrap-up possible
    closed: list[str] = field(default_factory=list)  # a room whose call has ended → closed, never resumed
    freed: list[int] = field(default_factory=list)  # agents busy without a call → their calls recounted
    requeued: list[str] = field(default_factory=list)  # waiting without a queue entry → queued again

    def __bool__(self) -> bool:
        return bool(self.ended or self.closed or self.freed or self.requeued)


class Reconciler:
    def __init__(self, journey: Journey) -> None:
        self.journey = journey
        self._suspects: set[str] = set()
        self._after = ""  # the waiting slice of the next pass starts after this work order id

    def _confirmed(self, seen: set[str]) -> set[str]:
        confirmed, self._suspects = seen & self._suspects, seen
        return confirmed

    def reset(self) -> None:
        """A new leader term: sightings from an earlier term are not trusted."""
        self._suspects = set()
        self._after = ""

    async def _waiting(self, session: Any, now: datetime) -> list[tuple[str, str]]:
        """(work order id, applicant id) of this pass's slice of the waiting requests, and of the
        waiting requests the last pass suspected (so that a second sighting can confirm them)."""
        base = select(WorkOrder.id, WorkOrder.applicant_id).where(
            WorkOrder.status.in_(WAITING), WorkOrder.created_at >= now - WAITING_MAX_AGE,
            WorkOrder.updated_at < now - SETTLE)
        rows = [tuple(r) for r in await session.execute(
            base.where(WorkOrder.id > self._after).order_by(WorkOrder.id).limit(WAITING_SLICE))]
        self._after = rows[-1][0] if len(rows) == WAITING_SLICE else ""  # a short slice: start over next time
        again = sorted(k[5:] for k in self._suspects if k.startswith("wait:"))
        if again:
            known = {r[0] for r in rows}
            rows += [tuple(r) for r in await session.execute(base.where(WorkOrder.id.in_(again)))
                     if r[0] not in known]
        return rows

    async def run(self) -> Repairs:
        j, now = self.journey, self.journey.now()
        hub, store = j.hub, j.queue.store
        async with j.state.sessions() as session:
            in_call = (await session.scalars(select(WorkOrder).where(
                WorkOrder.status == WorkOrderStatus.in_call, WorkOrder.updated_at < now - SETTLE))).all()
            waiting = await self._waiting(session, now)
        seen: set[str] = set()
        for wo in in_call:
            if await hub.get_room(wo.id) is None:
                seen.add("room:" + wo.id)
        queued = await store.entry_work_orders([applicant_id for _, applicant_id in waiting])
        for wo_id, applicant_id in waiting:
            if queued.get(applicant_id) != wo_id:
                seen.add("wait:" + wo_id)
        calls: Counter[int] = Counter()
        rooms: dict[str, str] = {}  # room id -> agent member, over every known agent's rooms
        for agent in await store.list_agents():
            mine = await hub.rooms_of(staff_member(agent.agent_id))
            rooms.update({r.id: staff_member(agent.agent_id) for r in mine})
            calls[agent.agent_id] = len(mine)
            if agent.active_calls > calls[agent.agent_id]:
                seen.add(f"agent:{agent.agent_id}")
        seen |= {"stale:" + rid for rid in await self._finished(list(rooms))}
        confirmed = self._confirmed(seen)
        done = Repairs()
        for wo in in_call:
            if "room:" + wo.id in confirmed:
                await self._end_lost_call(wo.id, done)
        for key in sorted(k for k in confirmed if k.startswith("stale:")):
            await self._close_finished(key[6:], done)
        for wo_id, _ in waiting:
            if "wait:" + wo_id in confirmed:
                await self._requeue(wo_id, done)
        for key in sorted(k for k in confirmed if k.startswith("agent:")):
            await self._free_agent(int(key[6:]), done)
        if done:
            log.warning("reconciler repaired: %d calls ended (no room), %d rooms of ended calls closed, %d waiting "
                        "requests queued again, %d agents' calls recounted", len(done.ended), len(done.closed),
                        len(done.requeued), len(done.freed))
        return done

    async def _finished(self, room_ids: list[str]) -> list[str]:
        """Rooms whose work order the record says is no longer in a call (settled for a while)."""
        if not room_ids:
            return []
        j = self.journey
        async with j.state.sessions() as session:
            rows = (await session.execute(select(WorkOrder.id, WorkOrder.status, WorkOrder.updated_at)
                                          .where(WorkOrder.id.in_(room_ids)))).all()
        settled = j.now() - SETTLE
        return [wo_id for wo_id, status, at in rows if status != WorkOrderStatus.in_call and at < settled]

    async def _close_finished(self, wo_id: str, done: Repairs) -> None:
        """The call ended in the record but its room stayed (the process died between the two): the
        room is closed, both sides hear `call.ended` once more (harmless if they had) and the agent's
        calls are recounted; nothing is written on a work order that is already past its call."""
        j = self.journey
        room = await j.hub.close_room(wo_id)
        if room is None:
            return
        done.closed.append(wo_id)
        async with j.state.sessions() as session:
            wo = await session.get(WorkOrder, wo_id)
            reason = (wo.ended_reason if wo is not None else None) or "ended"
        message = p.CallEnded(room=wo_id, work_order=wo_id, reason=reason, by=None)
        for member in room.members:
            await j.send(member, message)
        agent_id = room.metadata.get("agent_id")
        if agent_id is not None:
            await self._free_agent(int(agent_id), done, record=False)

    async def _end_lost_call(self, wo_id: str, done: Repairs) -> None:
        """The room is gone (Redis lost it, or the end was half done): end the call in the record so
        it can be wrapped up, tell both sides and free the agent."""
        j, now = self.journey, self.journey.now()
        async with j.state.sessions() as session:
            wo = await session.get(WorkOrder, wo_id)
            if wo is None or wo.status != WorkOrderStatus.in_call or await j.hub.get_room(wo_id) is not None:
                return
            await wos.record_event(session, wo, "reconciled", "system", now, repair="in_call without a room",
                                   action="ended")
            await wos.mark_ended(session, wo, reason="lost", by="system", now=now)
            await session.commit()
        done.ended.append(wo_id)
        message = p.CallEnded(room=wo.id, work_order=wo.id, reason="lost", by=None)
        members = [applicant_member(wo.applicant_id)] + ([staff_member(wo.agent_id)] if wo.agent_id else [])
        for member in members:
            await j.send(member, message)
        if wo.agent_id is not None:
            await self._free_agent(wo.agent_id, done, record=False)

    async def _free_agent(self, agent_id: int, done: Repairs, record: bool = True) -> None:
        """An agent counted busier than the rooms they are in: their calls are recounted."""
        j = self.journey
        rooms = len(await j.hub.rooms_of(staff_member(agent_id)))
        agent = await j.queue.store.get_agent(agent_id)
        if agent is None or agent.active_calls <= rooms:
            return
        before = agent.active_calls
        try:
            for _ in range(before - rooms):  # as if each lost call had ended (wrap-up, then ready)
                await j.queue.call_ended(agent_id, -1.0, f"{agent.unit_id}:0")
        except QueueError as exc:
            log.warning("reconciler could not free agent %s: %s", agent_id, exc.message)
            return
        done.freed.append(agent_id)
        if record:
            await self._record_on_last_call(agent_id, before, rooms)

    async def _record_on_last_call(self, agent_id: int, before: int, after: int) -> None:
        j, now = self.journey, self.journey.now()
        async with j.state.sessions() as session:
            wo = await session.scalar(select(WorkOrder).where(WorkOrder.agent_id == agent_id)
                                      .order_by(WorkOrder.answered_at.desc()).limit(1))
            if wo is not None:
                await wos.record_event(session, wo, "reconciled", "system", now, repair="agent busy without a call",
                                       agent_id=agent_id, calls_before=before, calls_after=after)
                await session.commit()

    async def _requeue(self, wo_id: str, done: Repairs) -> None:
        """A waiting request the queue lost (a step died between the record and Redis): queued again
        at its original place; if the applicant is gone, the absent-applicant sweep ends it."""
        j, now = self.journey, self.journey.now()
        async with j.state.sessions() as session:
            wo = await session.get(WorkOrder, wo_id)
            if wo is None or wo.status not in WAITING:
                return
            entry = await waiting_entry(session, wo)
            if entry is None:
                return
            await wos.record_event(session, wo, "reconciled", "system", now, repair="waiting without a queue entry",
                                   action="queued again")
            if wo.status == WorkOrderStatus.offered:
                wo.status = WorkOrderStatus.queued
            await session.commit()
        await j.queue.join(entry)
        done.requeued.append(wo_id)
