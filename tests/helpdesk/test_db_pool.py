"""The PostgreSQL pool's check on checkout (helpdesk.db._ping_on_checkout): a pooled connection that
answers is kept, one whose server process is gone is replaced before the step uses it."""

from __future__ import annotations

import asyncpg
from sqlalchemy import text

from helpdesk.db import make_engine, make_session_factory
from tests.conftest import PG_HOST, PG_PORT


async def test_a_live_connection_is_kept_and_a_dead_one_replaced(pg_url: str) -> None:
    engine = make_engine(pg_url)
    sessions = make_session_factory(engine)
    try:
        async with sessions() as s:
            pid = await s.scalar(text("SELECT pg_backend_pid()"))
        async with sessions() as s:  # pinged on checkout, answered: the same server process
            assert await s.scalar(text("SELECT pg_backend_pid()")) == pid

        admin = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user="postgres", database="test")
        try:
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
        finally:
            await admin.close()

        async with sessions() as s:  # the ping fails: a fresh connection, and the step goes through
            fresh = await s.scalar(text("SELECT pg_backend_pid()"))
        assert fresh != pid
        async with sessions() as s:
            assert await s.scalar(text("SELECT pg_backend_pid()")) == fresh
    finally:
        await engine.dispose()
