"""Leader lock: exactly one process runs the timers and sweeps (queue ticks, drop graces,
deadline sweeps). Memory backend: the only process is the leader. Redis backend: a key with a
token and a TTL, renewed by its holder; a dead holder's lock expires and another takes over."""

from __future__ import annotations

import contextlib
import secrets
from typing import Any, Protocol

_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


class LeaderLock(Protocol):
    async def acquire(self) -> bool:
        """True while this process leads: takes a free lock or renews its own."""
        ...

    async def release(self) -> None: ...


class MemoryLeaderLock:
    async def acquire(self) -> bool:
        return True

    async def release(self) -> None:
        return None


class RedisLeaderLock:
    def __init__(self, redis: Any, key: str, ttl_s: float) -> None:
        self.redis = redis
        self.key = key
        self.ttl_ms = int(ttl_s * 1000)
        self.token = secrets.token_hex(12)

    async def acquire(self) -> bool:
        if await self.redis.set(self.key, self.token, nx=True, px=self.ttl_ms):
            return True
        return bool(await self.redis.eval(_RENEW, 1, self.key, self.token, self.ttl_ms))

    async def release(self) -> None:
        await self.redis.eval(_RELEASE, 1, self.key, self.token)


async def release_quietly(lock: LeaderLock) -> None:
    """On shutdown: hand the timers over at once; a Redis that is already gone just lets the lock expire."""
    with contextlib.suppress(Exception):
        await lock.release()
