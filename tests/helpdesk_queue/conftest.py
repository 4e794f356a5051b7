"""Queue fixtures: a controllable clock, factories, and a store parametrised over both backends."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from helpdesk_queue.memory import MemoryQueueStore
from helpdesk_queue.models import QueueSettings
from helpdesk_queue.store import QueueStore
from helpdesk_queue.testing import FakeNow, Harness


@pytest.fixture
def fake_now() -> FakeNow:
    return FakeNow()


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[QueueStore]:
    """The same contract runs on both backends; Redis skips (or fails under CI) when missing."""
    if request.param == "memory":
        yield MemoryQueueStore()
        return
    url: str = request.getfixturevalue("redis_url")
    prefix: str = request.getfixturevalue("redis_prefix")
    from helpdesk_queue.redis_store import RedisQueueStore
    from redis.asyncio import Redis

    client = Redis.from_url(url, decode_responses=True)
    try:
        yield RedisQueueStore(client, prefix=prefix)
    finally:
        keys = [k async for k in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@pytest.fixture
def queue_settings() -> QueueSettings:
    return QueueSettings(offer_timeout_s=20, missed_offers_before_away=2, fallback_after_s=120)


@pytest.fixture
def harness(store: QueueStore, fake_now: FakeNow, queue_settings: QueueSettings) -> Harness:
    return Harness.build(store, fake_now, queue_settings)
