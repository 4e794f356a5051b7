"""PostgreSQL is the record, Redis the fast shared state: when Redis comes back empty or from an
older snapshot, the waiting lines, agents' presence and the rooms of live calls are rebuilt from
the database (docs/redis.md, "When Redis loses its data").

The check is a generation stamp, not "is Redis empty": Redis holds `P j:epoch` = "<epoch>:<run id>",
written by the last rebuild; the database keeps one row per rebuild (records.SharedStateEpoch). A
missing stamp, a stamp from another Redis server run (a restart, with or without a snapshot) or an
epoch older than the database's says Redis is not the state the database last saw: rebuild."""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from helpdesk_queue import AgentPresence, WaitingEntry
from sqlalchemy import func, select

from helpdesk.accounts.models import Staff
from helpdesk.journey import agent_status, units
from helpdesk.journey.records import SharedStateEpoch
from helpdesk.journey.service import Journey, applicant_member, staff_member
from helpdesk.org.models import OrgUnit, ServiceItem
from helpdesk.workorders.models import WorkOrder, WorkOrderEvent, WorkOrderStatus

log = logging.getLogger(__name__)
STAMP_KEY = "j:epoch"
LOCK_KEY = "j:rebuild-lock"
STAMP_TTL_S = 24 * 3600  # refreshed by the leader; a lapsed stamp costs one harmless rebuild
WAITING_MAX_AGE = timedelta(hours=6)  # the queue entries' own TTL: older requests are not brought back
CALL_MAX_AGE = timedelta(hours=12)  # the rooms' own TTL
WAITING = (WorkOrderStatus.queued, WorkOrderStatus.offered)


@dataclass
class Rebuilt:
    """What one rebuild put back (and took away), for the log and the epoch row."""

    waiting: int = 0
    stale_waiting: int = 0
    rooms: int = 0
    stale_rooms: int = 0
    agents: int = 0
    reopened: list[str] = field(default_factory=list)  # work orders whose room was re-created

    def summary(self) -> str:
        return (f"waiting={self.waiting} stale_waiting={self.stale_waiting} rooms={self.rooms} "
                f"stale_rooms={self.stale_rooms} agents={self.agents}")


class _Absent:
    """Stands for a socket nobody holds: marks a member dropped in the rebuilt rooms (the hub's
    disconnect), so a peer that never comes back ends the call after the grace as usual."""

    def __init__(self) -> None:
        self.id = "rebuild-" + secrets.token_hex(6)

    def deliver(self, text: str) -> bool:
        return False

    async def close(self, code: int, reason: str) -> None:
        return None


class Recovery:
    """One per process; any process may rebuild (under a Redis lock), the leader checks every tick."""

    def __init__(self, journey: Journey) -> None:
        self.journey = journey
        self.state = journey.state
        self.redis: Any = journey.state.redis
        self.prefix = journey.state.settings.redis_prefix
        self.rebuilds = 0

    async def _generation(self) -> tuple[str | None, str]:
        """(the stamp in Redis, the run id of the Redis server answering now) in one round trip."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(self.prefix + STAMP_KEY)
            pipe.info("server")
            stamp, info = await pipe.execute()
        return stamp, str(info.get("run_id", ""))

    async def _db_epoch(self) -> int:
        async with self.state.sessions() as session:
            return int(await session.scalar(select(func.max(SharedStateEpoch.epoch))) or 0)

    @staticmethod
    def stale_reason(stamp: str | None, run_id: str, db_epoch: int | None) -> str | None:
        """Why Redis is not the state the database last saw, or None when it is."""
        if stamp is None:
            return "empty"
        epoch, _, stamped_run = stamp.partition(":")
        if run_id and stamped_run != run_id:
            return "restarted"
        if db_epoch is not None and int(epoch or 0) < db_epoch:
            return "older"
        return None

    async def ensure_current(self, *, thorough: bool = False) -> Rebuilt | None:
        """Rebuild Redis from the database if its generation is not current; cheap when it is.
        `thorough` also compares the epoch with the database (the leader, every few seconds)."""
        if self.redis is None:
            return None
        stamp, run_id = await self._generation()
        reason = self.stale_reason(stamp, run_id, await self._db_epoch() if thorough else None)
        if reason is None:
            return None
        async with self.redis.lock(self.prefix + LOCK_KEY, timeout=60, blocking_timeout=30):
            stamp, run_id = await self._generation()  # another process may have rebuilt meanwhile
            db_epoch = await self._db_epoch()
            reason = self.stale_reason(stamp, run_id, db_epoch)
            if reason is None:
                return None
            done = await self.rebuild()
            await self._stamp(db_epoch + 1, run_id, reason, done)
        self.rebuilds += 1
        level = logging.INFO if reason == "empty" and not (done.waiting or done.rooms) else logging.WARNING
        log.log(level, "Redis %s (epoch %s → %d): rebuilt from the database: %s", reason,
                (stamp or "none").partition(":")[0], db_epoch + 1, done.summary())
        await self._announce(done)
        return done

    async def refresh_stamp(self) -> None:
        """The leader keeps the stamp from lapsing."""
        if self.redis is not None:
            await self.redis.expire(self.prefix + STAMP_KEY, STAMP_TTL_S)

    async def _stamp(self, epoch: int, run_id: str, reason: str, done: Rebuilt) -> None:
        async with self.state.sessions() as session:
            session.add(SharedStateEpoch(epoch=epoch, redis_run_id=run_id, reason=reason,
                                         repaired=done.summary()[:255], at=self.journey.now()))
            await session.commit()
        await self.redis.set(self.prefix + STAMP_KEY, f"{epoch}:{run_id}", ex=STAMP_TTL_S)

    # ---- the rebuild -----------------------------------------------------------------------------
    async def rebuild(self) -> Rebuilt:
        """Rooms first (they set agents' calls), then agents, then the waiting lines."""
        done = Rebuilt()
        calls = await self._rebuild_rooms(done)
        await self._rebuild_agents(calls, done)
        await self._rebuild_waiting(done)
        return done

    async def _rebuild_rooms(self, done: Rebuilt) -> dict[int, int]:
        """Every call the database says is live gets its room, with the members its timeline says
        are in it (a colleague, an expert or a supervisor who joined a call of three or four, less
        those who left); they resume with an ICE restart. A room of a call that ended (an older
        snapshot) is dropped. Returns calls per agent (the agent who took the call, while in it)."""
        hub, now = self.journey.hub, self.journey.now()
        async with self.state.sessions() as session:
            live = (await session.scalars(select(WorkOrder).where(
                WorkOrder.status == WorkOrderStatus.in_call, WorkOrder.answered_at >= now - CALL_MAX_AGE))).all()
            staff_ids = (await session.scalars(select(Staff.id))).all()
            joins = (await session.execute(
                select(WorkOrderEvent.work_order_id, WorkOrderEvent.kind, WorkOrderEvent.data)
                .where(WorkOrderEvent.work_order_id.in_([wo.id for wo in live]),
                       WorkOrderEvent.kind.in_(("participant_joined", "participant_left")))
                .order_by(WorkOrderEvent.work_order_id, WorkOrderEvent.seq, WorkOrderEvent.id))).all()
        live_ids = {wo.id for wo in live}
        for sid in staff_ids:  # every room has an agent member: this finds every room Redis holds
            for room in await hub.rooms_of(staff_member(sid)):
                if room.id not in live_ids and await hub.close_room(room.id) is not None:
                    done.stale_rooms += 1  # a finished call: never brought back to life
        party: dict[str, list[str]] = {}
        for wo in live:
            if wo.agent_id is not None:
                party[wo.id] = [applicant_member(wo.applicant_id), staff_member(wo.agent_id)]
        for wo_id, kind, data in joins:
            found, member = party.get(wo_id), (data or {}).get("member")
            if found is None or not isinstance(member, str):
                continue
            if kind == "participant_joined" and member not in found:
                found.append(member)
            elif kind == "participant_left" and member in found:
                found.remove(member)
        calls: dict[int, int] = {}
        for wo in live:
            if wo.agent_id is None:
                continue
            members = tuple(party[wo.id][:4])
            if staff_member(wo.agent_id) in members:  # not when they left a colleague with the applicant
                calls[wo.agent_id] = calls.get(wo.agent_id, 0) + 1
            if await hub.get_room(wo.id) is not None or len(members) < 2:
                continue
            answered = (wo.answered_at or now).timestamp()
            await hub.open_room(wo.id, members, {
                "work_order": wo.id, "line": f"{wo.unit_id}:{wo.item_id}", "agent_id": wo.agent_id,
                "applicant_id": wo.applicant_id, "answered_at": answered, "rebuilt": True})
            done.rooms += 1
            done.reopened.append(wo.id)
            online = await hub.online(list(members))
            for member in members:
                if member not in online:  # gone for good → the grace ends the call as after any drop
                    await hub.disconnect(member, _Absent(), now=now.timestamp(),
                                         grace_s=self.state.settings.reconnect_grace_s)
        return calls

    async def _rebuild_agents(self, calls: dict[int, int], done: Rebuilt) -> None:
        """Connected agents get the state they chose; every agent's calls count is the database's."""
        store, now = self.journey.queue.store, self.journey.now()
        async with self.state.sessions() as session:
            chosen = await agent_status.connected_agents(session, now, self.state.settings.reconnect_grace_s)
            staff = {s.id: s for s in (await session.scalars(
                select(Staff).where(Staff.id.in_(set(chosen) | set(calls))))).all()}
        for sid, member in staff.items():
            presence: AgentPresence = await self.journey.agent_presence(member)
            old = await store.get_agent(sid)
            n = calls.get(sid, 0)
            ready = chosen.get(sid) == "ready"
            presence.active_calls, presence.pending_offers = n, 0
            presence.state = ("busy" if n else "ready") if ready else "away"
            presence.idle_since = old.idle_since if old is not None else now.timestamp()
            presence.last_heartbeat = now.timestamp()  # their socket re-registers, or the TTL ends them
            await store.upsert_agent(presence)
            done.agents += 1

    async def _rebuild_waiting(self, done: Rebuilt) -> None:
        """Waiting requests at their original places (enqueued at the work order's creation); entries
        the database no longer calls waiting (an older snapshot) leave without a trace."""
        store, now = self.journey.queue.store, self.journey.now()
        async with self.state.sessions() as session:
            rows = (await session.scalars(select(WorkOrder).where(
                WorkOrder.status.in_(WAITING), WorkOrder.created_at >= now - WAITING_MAX_AGE)
                .order_by(WorkOrder.created_at))).all()
            wanted = {wo.applicant_id: wo for wo in rows}
            for entry in await store.list_waiting():
                wo = wanted.get(entry.ticket)
                if wo is None or wo.id != entry.work_order_id:
                    await store.remove_entry(entry.ticket)
                    done.stale_waiting += 1
                elif entry.state == "offered" and entry.offered_to is not None:
                    await store.release(entry.ticket, entry.offered_to, exclude_agent=False)  # rings again
            for wo in rows:
                existing = await store.get_entry(wo.applicant_id)
                if existing is not None and existing.work_order_id == wo.id:
                    continue
                rebuilt = await waiting_entry(session, wo)
                if rebuilt is not None:  # through join: the entry's fallback timer and presence check too
                    await self.journey.queue.join(rebuilt)
                    done.waiting += 1

    async def _announce(self, done: Rebuilt) -> None:
        """Route at once, then tell every waiter its position and every rebuilt room's peers that
        their call resumes (the client answers `room.joined resumed` with an ICE restart)."""
        j = self.journey
        await j.queue.dispatch()
        waiting = [e.ticket for e in await j.queue.store.list_waiting()]
        statuses = await j.queue.statuses(waiting)
        await j.hub.send_many([(applicant_member(t), j.status_message(s)) for t, s in statuses.items()])
        from helpdesk.journey.party import plain_pair, room_joined

        async with self.state.sessions() as session:
            for wo_id in done.reopened:
                wo, room = await session.get(WorkOrder, wo_id), await j.hub.get_room(wo_id)
                if wo is None or wo.agent_id is None or room is None:
                    continue
                for member in room.members:
                    joined = (await j.room_joined(wo, member, resumed=True) if plain_pair(room, wo)
                              else await room_joined(j, session, wo, room, member, resumed=True))
                    await j.send(member, joined)
                    await asyncio.sleep(0)


async def waiting_entry(session: Any, wo: WorkOrder) -> WaitingEntry | None:
    """The queue entry of a waiting work order, at its original place."""
    item, unit = await session.get(ServiceItem, wo.item_id), await session.get(OrgUnit, wo.unit_id)
    if item is None or unit is None:
        return None
    chain = await units.chain_for(session, item, unit.code)
    return WaitingEntry(ticket=wo.applicant_id, work_order_id=wo.id, unit_chain=[u.id for u in chain],
                        item_id=item.id, department_id=item.department_id, priority=wo.priority,
                        enqueued_at=wo.created_at.timestamp())

