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

from helpdesk_queue import MemoryQueueStore, QueueService, QueueSettings, QueueStore
from helpdesk_signaling.endpoint import SignalingEndpoint
from helpdesk_signaling.hub import Hub, MemoryHub

from helpdesk.journey.reconcile import Reconciler
from helpdesk.journey.recovery import Recovery
from helpdesk.journey.service import Journey, is_unavailable
from helpdesk.journey.wait_history import WaitHistory
from helpdesk.leader import LeaderLock, MemoryLeaderLock, RedisLeaderLock, release_quietly
from helpdesk.outage import which_service
from helpdesk.state import AppState
from helpdesk.tasks import start_background

log = logging.getLogger(__name__)
TICK_S = 1.0
LEADER_TTL_S = 5.0  # a dead leader's timers move to another process within this
LEADER_KEY = "leader:journey-tick"
STEP_TIMEOUT_S = 10.0


def queue_settings(state: AppState) -> QueueSettings:
    s = state.settings
    return QueueSettings(offer_timeout_s=s.offer_timeout_s,
                         missed_offers_before_away=s.missed_offers_before_away,
                         fallback_after_s=s.fallback_after_s, default_handle_time_s=s.default_handle_time_s,
                         wrapup_s=s.wrapup_s, presence_ttl_s=presence_ttl_s(state), routing=s.queue_routing)


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
                                 history=journey.wait_history, flush=journey.flush_queued)
    journey.recovery = Recovery(journey)
    journey.endpoint = SignalingEndpoint(hub, state.clock, s.ws_max_message_bytes, s.heartbeat_interval_s,
                                         s.reconnect_grace_s, journey.handle_message)
    state.components["journey"] = journey
    await journey.positions.start(stack)
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
        self.reconciler = Reconciler(journey)
        self.reconcile_every_s = journey.state.settings.reconcile_interval_s
        self.last_reconcile = -math.inf

    async def run(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            await self.step()

    async def step(self) -> None:
        try:
            async with asyncio.timeout(STEP_TIMEOUT_S):  # a Redis that hangs (no RST) is a lost Redis
                await self._step()
        except Exception as exc:  # the ticker must outlive one bad round; the cause is logged
            if is_unavailable(exc):
                self.leading = self.leading and which_service(exc) != "Redis"  # the lock may lapse meanwhile
                if self.redis_down_since is None:  # an expected outage: one warning line, no traceback
                    self.redis_down_since = asyncio.get_running_loop().time()
                    log.warning("%s unreachable (%s: %s): queue, presence and timers paused until it is "
                                "back; /readyz fails, sockets are refused with `unavailable`",
                                which_service(exc), type(exc).__name__, str(exc)[:200])
                return
            log.exception("journey tick failed")
            return
        if self.redis_down_since is not None:
            down_s = asyncio.get_running_loop().time() - self.redis_down_since
            self.redis_down_since = None
            log.warning("Redis and the database reachable again after %.0f s: journey timers resumed", down_s)

    async def _step(self) -> None:
        now = asyncio.get_running_loop().time()
        await self.journey.recovery.ensure_current()  # every process: a restarted Redis is rebuilt at once
        if now - self.last_beat >= self.beat_every_s - 0.05:
            await self.journey.heartbeat()
            self.last_beat = now
        leading = await self.leader.acquire()
        if leading and not self.leading:
            log.info("this process now runs the journey timers")
            self.journey.became_leader()
            self.reconciler.reset()
        elif self.leading and not leading:
            log.info("another process runs the journey timers now")
        self.leading = leading
        if leading:
            await self.journey.tick()
            if now - self.last_reconcile >= self.reconcile_every_s:
                self.last_reconcile = now
                await self.journey.recovery.ensure_current(thorough=True)  # compares epochs with the database
                await self.journey.recovery.refresh_stamp()
                await self.reconciler.run()
