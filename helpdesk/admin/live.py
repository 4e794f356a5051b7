"""Admin changes take effect at once on every process, without a restart.

After an admin change commits, `announce` publishes the topics that changed ("units", "items",
"staff", "holidays") on one Redis channel (HELPDESK_REDIS_PREFIX + "admin:changed"), the same
publish/subscribe style the signaling hub uses; without Redis the listeners of this one process run
directly. Each process then:
- bumps its version of the topic, which drops anything cached under an older version
  (`cached(state, topic, key, load)`: the public item catalogue); a cached value also expires after
  CACHE_TTL_S, for writers that cannot announce (a CLI import on a server without Redis);
- for "staff", refreshes the queue presence of the agents whose socket it holds (unit, skills,
  capacity; a disabled account goes offline), so routing uses the new profile at the next pairing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

from helpdesk.state import AppState
from helpdesk.tasks import start_background

log = logging.getLogger(__name__)
CHANNEL = "admin:changed"
TOPICS = ("units", "items", "staff", "holidays")
Listener = Callable[[AppState, str], Awaitable[None]]


CACHE_TTL_S = 30.0  # backstop for writers that cannot announce (a CLI import without Redis)


class LiveCache:
    """Per-process values, each tagged with the version of its topic when it was loaded."""

    def __init__(self) -> None:
        self.versions: dict[str, int] = dict.fromkeys(TOPICS, 0)
        self.values: dict[tuple[str, str], tuple[int, float, Any]] = {}
        self.listeners: list[Listener] = []

    def bump(self, topic: str) -> None:
        self.versions[topic] = self.versions.get(topic, 0) + 1
        for key in [k for k in self.values if k[0] == topic]:
            del self.values[key]


def live(state: AppState) -> LiveCache:
    cache = state.components.get("admin_live")
    if cache is None:
        cache = state.components["admin_live"] = LiveCache()
    assert isinstance(cache, LiveCache)
    return cache


async def cached(state: AppState, topic: str, key: str, load: Callable[[], Awaitable[Any]]) -> Any:
    """The cached value, or `load()` stored under the topic's current version."""
    cache = live(state)
    version, now = cache.versions.get(topic, 0), time.monotonic()
    hit = cache.values.get((topic, key))
    if hit is not None and hit[0] == version and now - hit[1] < CACHE_TTL_S:
        return hit[2]
    value = await load()
    if cache.versions.get(topic, 0) == version:  # not invalidated while loading
        cache.values[(topic, key)] = (version, now, value)
    return value


async def apply(state: AppState, topic: str) -> None:
    """What one process does when a topic changed (here or on another process)."""
    cache = live(state)
    cache.bump(topic)
    for listener in list(cache.listeners):
        try:
            await listener(state, topic)
        except Exception:  # one failing listener must not stop the others; the cause is logged
            log.exception("admin change listener failed for %s", topic)


async def announce(state: AppState, *topics: str) -> None:
    """Tells every process (this one included) that these topics changed."""
    if state.redis is None:
        for topic in topics:
            await apply(state, topic)
        return
    await state.redis.publish(state.settings.redis_prefix + CHANNEL, json.dumps(list(topics)))


async def announce_from_cli(topics: tuple[str, ...]) -> None:
    """A command-line change (import, holidays) tells the running servers when they share Redis;
    without Redis their caches catch up within CACHE_TTL_S."""
    from helpdesk.config import Settings

    settings = Settings()
    if not settings.redis_url:
        return
    import redis.asyncio as aioredis
    from redis.exceptions import RedisError

    client = aioredis.Redis.from_url(settings.redis_url, socket_connect_timeout=2)
    try:
        await client.publish(settings.redis_prefix + CHANNEL, json.dumps(list(topics)))
    except (OSError, RedisError) as exc:
        log.warning("could not tell the servers about the change (%s): caches catch up within %.0f s",
                    exc, CACHE_TTL_S)
    finally:
        await client.aclose()


async def _listen(state: AppState, ready: asyncio.Event) -> None:
    """One subscriber per process; resubscribes after a lost Redis and then drops every cache, since
    announcements made meanwhile were missed."""
    channel = state.settings.redis_prefix + CHANNEL
    redis = state.redis
    assert redis is not None
    while True:
        pubsub = redis.pubsub()
        try:
            await pubsub.subscribe(channel)
            if ready.is_set():
                for topic in TOPICS:
                    await apply(state, topic)
            ready.set()
            async for message in pubsub.listen():
                if message.get("type") == "message":
                    for topic in json.loads(message["data"]):
                        await apply(state, str(topic))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # Redis lost: retry, the journey reports the outage itself
            log.warning("admin change subscriber lost Redis (%s); retrying", type(exc).__name__)
            await asyncio.sleep(1.0)
        finally:
            await pubsub.aclose()


async def refresh_agents(state: AppState, topic: str) -> None:
    """Presence of this process's agents follows their account (unit, skills, capacity, disabled)."""
    if topic != "staff":
        return
    journey = state.components.get("journey")
    if journey is None or not journey.local_agents:
        return
    from sqlalchemy import select

    from helpdesk.accounts.models import Staff

    async with state.sessions() as session:
        people = (await session.scalars(select(Staff).where(Staff.id.in_(list(journey.local_agents))))).all()
    for person in people:
        current = await journey.queue.store.get_agent(person.id)
        if current is None:
            continue
        if not person.is_active:
            await journey.queue.agent_state(person.id, "offline")
            continue
        await journey.queue.agent_online(await journey.agent_presence(person), current.state)


async def wire_admin_live(state: AppState, stack: AsyncExitStack) -> None:
    cache = live(state)
    cache.listeners.append(refresh_agents)
    if state.redis is not None:
        ready = asyncio.Event()
        start_background(stack, _listen(state, ready), "admin-live")
        try:  # subscribed before the first request, unless Redis is down (then the listener retries)
            await asyncio.wait_for(ready.wait(), timeout=5)
        except TimeoutError:
            log.warning("admin change subscriber not ready yet: Redis unreachable")
