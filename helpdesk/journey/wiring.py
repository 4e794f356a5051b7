"""Builds the journey's parts for one process: queue, signaling hub and endpoint, the ticker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from contextlib import AsyncExitStack

from helpdesk_queue import MemoryQueueStore, QueueService, QueueSettings
from helpdesk_signaling.endpoint import SignalingEndpoint
from helpdesk_signaling.hub import MemoryHub

from helpdesk.journey.service import Journey
from helpdesk.leader import LeaderLock, MemoryLeaderLock
from helpdesk.state import AppState

log = logging.getLogger(__name__)
TICK_S = 1.0


def queue_settings(state: AppState) -> QueueSettings:
    s = state.settings
    return QueueSettings(offer_timeout_s=s.offer_timeout_s, missed_offers_before_away=s.missed_offers_before_away,
                         fallback_after_s=s.fallback_after_s, default_handle_time_s=s.default_handle_time_s,
                         wrapup_s=s.wrapup_s, presence_ttl_s=3 * s.heartbeat_interval_s)


async def wire_journey(state: AppState, stack: AsyncExitStack) -> None:
    s = state.settings
    hub = MemoryHub()
    await hub.start()
    stack.push_async_callback(hub.close)
    journey = Journey(state, hub)
    journey.queue = QueueService(MemoryQueueStore(), now=lambda: state.clock.now().timestamp(),
                                 emit=journey.on_queue_event, settings=queue_settings(state))
    journey.endpoint = SignalingEndpoint(hub, state.clock, s.ws_max_message_bytes, s.heartbeat_interval_s,
                                         s.reconnect_grace_s, journey.handle_message)
    state.components["journey"] = journey
    if state.components.get("ticker", True):
        task = asyncio.create_task(run_ticker(journey, MemoryLeaderLock()), name="journey-ticker")
        stack.push_async_callback(cancel, task)


async def run_ticker(journey: Journey, leader: LeaderLock) -> None:
    while True:
        await asyncio.sleep(TICK_S)
        try:
            await journey.heartbeat()
            if await leader.acquire():
                await journey.tick()
        except Exception:  # the ticker must outlive one bad round; the cause is logged
            log.exception("journey tick failed")


async def cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
