"""Builds the journey's parts for one process: queue, signaling hub and endpoint, the ticker.

Selection by settings alone: with HELPDESK_REDIS_URL the queue, the hub and the timers' leader lock
live in Redis under HELPDESK_REDIS_PREFIX (several processes share them); without it everything is
in this process (docs/deploy.md, docs/redis.md).
"""

from __future__ import annotations

import asyncio
import logging
import math
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import timedelta

from helpdesk_queue import MemoryQueueStore, QueueService, QueueSettings, QueueStore, WaitingEntry
from helpdesk_signaling.endpoint import SignalingEndpoint
from helpdesk_signaling.hub import Hub, MemoryHub
from sqlalchemy import select

from helpdesk.journey import units
from helpdesk.journey.service import Journey, is_unavailable
from helpdesk.journey.wait_history import WaitHistory
from helpdesk.leader import LeaderLock, MemoryLeaderLock, RedisLeaderLock, release_quietly
from helpdesk.org.models import OrgUnit, ServiceItem
from helpdesk.state import AppState
from helpdesk.tasks import start_background
from helpdesk.workorders.models import WorkOrder, WorkOrderStatus

log = logging.getLogger(__name__)
TICK_S = 1.0
LEADER_TTL_S = 5.0  # a dead leader's timers move to another process within this
LEADER_KEY = "leader:journey-tick"
MARKER_KEY = "j:marker"  # present while Redis holds the queue; missing → rebuild it from the database
MARKER_TTL_S = 3600
RESTORE_MAX_AGE_S = 6 * 3600  # the queue entries' own TTL: older requests are not brought back
STEP_TIMEOUT_S = 10.0


def queue_settings(state: AppState) -> QueueSettings:
    s = state.settings
    return QueueSettings(offer_timeout_s=s.offer_timeout_s,
                         missed_offers_before_away=s.missed_offers_before_away,
                         fallback_after_s=s.fallback_after_s, default_handle_time_s=s.default_handle_time_s,
                         wrapup_s=s.wrapup_s, presence_ttl_s=presence_ttl_s(state))


def presence_ttl_s(state: AppState) -> float:
    """How long a process may stay silent before its agents and sockets count as gone."""
    return 3 * state.settings.heartbeat_interval_s


@dataclass
class Backends:
    kind: str  # "memory" or "redis"
    store: QueueStore
    hub: Hub
    leader: LeaderLock


def build_backends(state: AppState) -> Backends:
    """Memory without HELPDESK_REDIS_URL; Redis (the app's decode_responses client) with it."""
    if state.redis is None:
        return Backends("memory", MemoryQueueStore(), MemoryHub(), MemoryLeaderLock())
    from helpdesk_queue.redis_store import RedisQueueStore
    from helpdesk_signaling.redis_hub import RedisHub

    s, redis = state.settings, state.redis
    ttl = math.ceil(presence_ttl_s(state))
    return Backends(
        "redis",
        RedisQueueStore(redis, prefix=s.redis_prefix),
        RedisHub(redis, s.redis_prefix, owner_ttl_s=ttl, grace_s=s.reconnect_grace_s),
        RedisLeaderLock(redis, s.redis_prefix + LEADER_KEY, ttl_s=LEADER_TTL_S),
    )


async def wire_journey(state: AppState, stack: AsyncExitStack) -> None:
    s = state.settings
    backends = build_backends(state)
    hub = backends.hub
    await hub.start()
    stack.push_async_callback(hub.close)
    journey = Journey(state, hub)
    hub.on_peer = journey.record_peer  # whichever process notices a drop or a return records it
    if isinstance(hub, MemoryHub):
        hub.grace_s = s.reconnect_grace_s
    journey.wait_history = WaitHistory(state)  # refreshed hourly by journey.heartbeat
    journey.queue = QueueService(backends.store, now=lambda: state.clock.now().timestamp(),
                                 emit=journey.on_queue_event, settings=queue_settings(state),
                                 history=journey.wait_history)
    journey.endpoint = SignalingEndpoint(hub, state.clock, s.ws_max_message_bytes, s.heartbeat_interval_s,
                                         s.reconnect_grace_s, journey.handle_message)
    state.components["journey"] = journey
    state.components["journey_backends"] = backends.kind
    log.info("journey backends: %s%s", backends.kind,
             f" (prefix {s.redis_prefix!r})" if backends.kind == "redis" else "")
    if state.components.get("ticker", True):
        ticker = Ticker(journey, backends.leader)
        state.components["journey_ticker"] = ticker
        stack.push_async_callback(release_quietly, backends.leader)  # after the ticker stops
        state.components["journey_ticker_task"] = start_background(stack, ticker.run(), "journey-ticker")


class Ticker:
    """On every process, every heartbeat_interval_s / 2: heartbeats of this process's agents (their
    presence lives 3 × heartbeat_interval_s). On the leader only, every second: queue timers,
    absent applicants, expired call graces. Survives Redis outages, logging each outage once when
    it starts and once when it ends."""

    def __init__(self, journey: Journey, leader: LeaderLock) -> None:
        self.journey = journey
        self.leader = leader
        self.leading = False
        self.rounds = 0
        self.redis_down_since: float | None = None
        self.beat_every_s = max(TICK_S, journey.state.settings.heartbeat_interval_s / 2)
        self.last_beat = -math.inf

    async def run(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            await self.step()

    async def step(self) -> None:
        try:
            async with asyncio.timeout(STEP_TIMEOUT_S):  # a Redis that hangs (no RST) is a lost Redis
                await self._step()
        except Exception as exc:  # the ticker must outlive one bad round; the cause is logged
            if is_unavailable(exc) and self.journey.state.redis is not None:
                self.leading = False  # the lock may lapse meanwhile: start afresh when back
                if self.redis_down_since is None:
                    self.redis_down_since = asyncio.get_running_loop().time()
                    log.error("Redis unreachable (%s: %s): queue, presence and timers paused until it is "
                              "back; /readyz fails, sockets are refused with `unavailable`",
                              type(exc).__name__, exc)
                return
            log.exception("journey tick failed")
            return
        if self.redis_down_since is not None:
            down_s = asyncio.get_running_loop().time() - self.redis_down_since
            self.redis_down_since = None
            log.warning("Redis reachable again after %.0f s: journey timers resumed", down_s)

    async def _step(self) -> None:
        now = asyncio.get_running_loop().time()
        if now - self.last_beat >= self.beat_every_s - 0.05:
            await self.journey.heartbeat()
            self.last_beat = now
        leading = await self.leader.acquire()
        if leading and not self.leading:
            log.info("this process now runs the journey timers")
            self.journey.became_leader()
        elif self.leading and not leading:
            log.info("another process runs the journey timers now")
        self.leading = leading
        if leading:
            if await self.queue_was_lost():
                n = await restore_waiting(self.journey)
                if n:
                    log.warning("the queue was empty (Redis restarted without its data, or a first start): "
                                "%d waiting requests brought back from the database at their places", n)
            await self.journey.tick()

    async def queue_was_lost(self) -> bool:
        """True once after the shared queue lost its data: Redis restarted empty (or first start).
        A marker key lives as long as the queue does; the leader recreates it. Memory backend: never
        (one process; its restart is a deployment's restart, documented in docs/deploy.md)."""
        redis = self.journey.state.redis
        if redis is None:
            return False
        key = self.journey.state.settings.redis_prefix + MARKER_KEY
        self.rounds += 1
        created = bool(await redis.set(key, "1", ex=MARKER_TTL_S, nx=True))
        if not created and self.rounds % 60 == 0:
            await redis.expire(key, MARKER_TTL_S)
        return created


async def restore_waiting(journey: Journey) -> int:
    """Queue again every request the database says is waiting (queued or offered, younger than the
    queue's own TTL) that the queue does not hold, at its original place (enqueued_at = the work
    order's creation). Applicants without a socket then leave after the reconnect grace as usual."""
    state = journey.state
    since = state.clock.now() - timedelta(seconds=RESTORE_MAX_AGE_S)
    async with state.sessions() as session:
        rows = (await session.scalars(
            select(WorkOrder).where(WorkOrder.status.in_([WorkOrderStatus.queued, WorkOrderStatus.offered]),
                                    WorkOrder.created_at >= since)
            .order_by(WorkOrder.created_at))).all()
        entries = []
        for wo in rows:
            if await journey.queue.store.get_entry(wo.applicant_id) is not None:
                continue
            item, unit = await session.get(ServiceItem, wo.item_id), await session.get(OrgUnit, wo.unit_id)
            if item is None or unit is None:
                continue
            chain = await units.chain_for(session, item, unit.code)
            entries.append(WaitingEntry(
                ticket=wo.applicant_id, work_order_id=wo.id, unit_chain=[u.id for u in chain], item_id=item.id,
                department_id=item.department_id, priority=wo.priority, enqueued_at=wo.created_at.timestamp()))
    for entry in entries:
        await journey.queue.join(entry)
    return len(entries)
