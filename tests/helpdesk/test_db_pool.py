"""The PostgreSQL pool's check on checkout (helpdesk.db._ping_on_checkout): a pooled connection that
answers is kept, one whose server process is gone is replaced before the step uses it, and a
connection given back just now is not pinged again."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from sqlalchemy import text

from helpdesk import db
from helpdesk.db import make_engine, make_session_factory, ping
from tests.conftest import PG_HOST, PG_PORT


async def _terminate(pid: int) -> None:
    """Ends the server process of a pooled connection and waits until it is gone."""
    admin = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user="postgres", database="test")
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
        for _ in range(100):
            if not await admin.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid):
                break
            await asyncio.sleep(0.02)
    finally:
        await admin.close()
    await asyncio.sleep(0.1)  # the closed socket reaches the client's loop


@pytest.mark.parametrize("idle_s", [db.PING_IDLE_S, 0.0], ids=["seen-closed", "pinged"])
async def test_a_live_connection_is_kept_and_a_dead_one_replaced(
    pg_url: str, idle_s: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "PING_IDLE_S", idle_s)
    engine = make_engine(pg_url)
    sessions = make_session_factory(engine)
    try:
        async with sessions() as s:
            pid = await s.scalar(text("SELECT pg_backend_pid()"))
        async with sessions() as s:  # checked or pinged on checkout, answered: the same server process
            assert await s.scalar(text("SELECT pg_backend_pid()")) == pid

        await _terminate(pid)

        async with sessions() as s:  # found closed (or the ping fails): a fresh one, the step goes through
            fresh = await s.scalar(text("SELECT pg_backend_pid()"))
        assert fresh != pid
        async with sessions() as s:
            assert await s.scalar(text("SELECT pg_backend_pid()")) == fresh
    finally:
        await engine.dispose()


async def test_a_connection_given_back_just_now_is_not_pinged(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = make_engine(pg_url)
    seen: list[str] = []
    try:
        async with engine.connect() as conn:
            raw = await conn.get_raw_connection()
            raw.driver_connection.add_query_logger(lambda record: seen.append(record.query))  # type: ignore[union-attr]
        async with engine.connect() as conn:  # back a moment ago: no round trip before the step
            await conn.execute(text("SELECT 1"))
        assert ";" not in seen, seen

        monkeypatch.setattr(db, "PING_IDLE_S", 0.0)  # as after a pause: pinged first
        seen.clear()
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 2"))
        assert ";" in seen, seen

        seen.clear()
        await ping(engine)  # what a step that must know the database answers now calls: always asks
        assert ";" in seen, seen
    finally:
        await engine.dispose()
