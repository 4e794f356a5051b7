"""The sweeper loop: only the leader sweeps; a failed round is logged and the loop goes on."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from helpdesk.accountability import sweep as sweep_module
from helpdesk.accountability.notify import Notifier
from helpdesk.accountability.sweep import run_sweeper
from helpdesk.clock import FakeClock
from helpdesk.config import Settings
from helpdesk.leader import MemoryLeaderLock, RedisLeaderLock


class Follower:
    async def acquire(self) -> bool:
        return False

    async def release(self) -> None:
        return None


def rounds(n: int) -> Any:
    """A sleep that lets the loop run n rounds, then stops it."""
    left = [n]

    async def sleep(_: float) -> None:
        if left[0] == 0:
            raise asyncio.CancelledError
        left[0] -= 1

    return sleep


async def loop(state: Any, leader: Any, n: int) -> None:
    with pytest.raises(asyncio.CancelledError):
        await run_sweeper(state, Notifier(state.sessions, state.clock, state.settings), leader, sleep=rounds(n))


async def test_only_the_leader_sweeps(db_sessions: async_sessionmaker[AsyncSession],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    async def fake_sweep(*args: Any) -> None:
        calls.append("sweep")
        if len(calls) == 1:
            raise RuntimeError("database went away")  # the next round still runs

    monkeypatch.setattr(sweep_module, "sweep", fake_sweep)
    state = type("S", (), {"sessions": db_sessions, "clock": FakeClock(), "settings": Settings(_env_file=None)})()
    await loop(state, Follower(), 3)
    assert calls == []
    await loop(state, MemoryLeaderLock(), 3)
    assert calls == ["sweep"] * 3


async def test_one_leader_per_deployment_with_redis(redis_url: str, redis_prefix: str) -> None:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        key = f"{redis_prefix}leader:followup-sweep"
        one, two = RedisLeaderLock(client, key, 30), RedisLeaderLock(client, key, 30)
        assert await one.acquire() and not await two.acquire() and await one.acquire()
        await one.release()
        assert await two.acquire()
        await two.release()
    finally:
        await client.aclose()
