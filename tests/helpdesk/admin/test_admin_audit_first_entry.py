"""The administration audit chain's first entry, written by two transactions at once (two logins on a
fresh database, two processes): the second waits for the first and becomes entry 2; neither fails."""

from __future__ import annotations

import asyncio

from helpdesk.admin import audit
from tests.conftest import fresh_database
from tests.helpdesk.factories import T0


async def test_two_first_writers_make_entries_one_and_two(pg_url: str) -> None:
    async with fresh_database(pg_url) as (_engine, sessions):
        async with sessions() as first, sessions() as second:
            await audit.record(first, kind="login", actor="staff:1:a", at=T0)  # creates the head, uncommitted
            late = asyncio.create_task(audit.record(second, kind="login", actor="staff:2:b", at=T0))
            await asyncio.sleep(0.3)  # the second writer now waits on the first one's head row
            assert not late.done()
            await first.commit()
            event = await asyncio.wait_for(late, 10)
            await second.commit()
        assert event.seq == 2
        async with sessions() as s:
            result = await audit.verify(s)
        assert (result.entries, result.broken) == (2, [])


async def test_the_first_entry_on_sqlite(sqlite_url: str) -> None:
    async with fresh_database(sqlite_url) as (_engine, sessions):
        for actor in ("staff:1:a", "staff:2:b"):
            async with sessions() as s:
                await audit.record(s, kind="login", actor=actor, at=T0)
                await s.commit()
        async with sessions() as s:
            result = await audit.verify(s)
        assert (result.entries, result.broken) == (2, [])
