"""Hub fixtures: the same contract runs on the memory and the Redis backend."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from helpdesk_signaling.hub import Hub, MemoryHub

HubFactory = Callable[[], Awaitable[Hub]]


class FakeConn:
    """A connection that records what the hub delivers to it."""

    def __init__(self) -> None:
        self.id = uuid.uuid4().hex
        self.texts: list[str] = []
        self.closed: tuple[int, str] | None = None

    def deliver(self, text: str) -> bool:
        if self.closed:
            return False
        self.texts.append(text)
        return True

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)

    @property
    def messages(self) -> list[dict[str, Any]]:
        return [json.loads(t) for t in self.texts]

    def types(self) -> list[str]:
        return [m["type"] for m in self.messages]


async def eventually(check: Callable[[], bool], timeout: float = 3.0) -> None:
    """Wait for a condition that another process's delivery makes true (Redis pub/sub)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not check():
        if loop.time() > end:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.005)


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def hub_factory(request: pytest.FixtureRequest) -> AsyncIterator[HubFactory]:
    """Makes hubs sharing one backend: two Redis hubs behave like two server processes."""
    hubs: list[Any] = []
    clients: list[Any] = []
    if request.param == "memory":
        shared = MemoryHub()

        async def make() -> Hub:
            return shared
    else:
        import redis.asyncio as aioredis
        from helpdesk_signaling.redis_hub import RedisHub

        url, prefix = request.getfixturevalue("redis_url"), request.getfixturevalue("redis_prefix")

        async def make() -> Hub:
            client = aioredis.Redis.from_url(url, decode_responses=True)
            clients.append(client)
            hub = RedisHub(client, prefix)
            await hub.start()
            hubs.append(hub)
            return hub

    yield make
    for hub in hubs:
        await hub.close()
    if clients:
        keys = [k async for k in clients[0].scan_iter(match=request.getfixturevalue("redis_prefix") + "*")]
        if keys:
            await clients[0].delete(*keys)
        for c in clients:
            await c.aclose()
