"""The audit chain: every work order's events hash-chain; verify passes on an honest log and names
the first tampered, deleted or inserted row; concurrent writers keep one chain (SQLite, PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from helpdesk.accountability import audit
from helpdesk.accountability.cli import run_verify
from helpdesk.cli import main
from helpdesk.clock import FakeClock
from helpdesk.config import Settings
from helpdesk.db import make_engine, make_session_factory
from helpdesk.workorders import service as wos
from helpdesk.workorders.models import Channel, WorkOrderEvent
from tests.helpdesk.accountability.world import build_world, callback
from tests.helpdesk.factories import T0, api_client, create_tables, make_applicant, make_item, make_staff, make_unit


async def _events(s: AsyncSession, wo_id: str) -> list[WorkOrderEvent]:
    stmt = select(WorkOrderEvent).where(WorkOrderEvent.work_order_id == wo_id).order_by(WorkOrderEvent.seq)
    return list((await s.scalars(stmt.execution_options(populate_existing=True))).all())


async def _a_call(s: AsyncSession) -> str:
    unit = await make_unit(s)
    item = await make_item(s, units=[unit])
    applicant = await make_applicant(s)
    agent = await make_staff(s, unit=unit)
    wo = await wos.create_request(s, applicant_id=applicant.id, item_id=item.id, unit_id=unit.id,
                                  channel=Channel.video, priority=0, handoff=None, now=T0)
    await wos.mark_offered(s, wo, agent_id=agent.id, now=T0, fallback_level=0)
    await s.commit()
    return wo.id


def wo_agent(events: list[WorkOrderEvent]) -> int:
    return int(events[1].data["agent_id"])


async def test_chain_links_and_verifies(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as s:
        wo_id = await _a_call(s)
        events = await _events(s, wo_id)
        assert [e.seq for e in events] == [1, 2]
        assert events[0].prev_hash == audit.GENESIS and events[1].prev_hash == events[0].hash
        assert all(e.hash == audit.entry_hash(e) for e in events)  # the stored row hashes the same
        assert "pid=" in (events[0].origin or "")
        result = await audit.verify(s)
        assert result.ok and result.entries == 2 and result.chains == 1 and len(result.digest) == 64


async def test_tampered_row_is_detected(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as s:
        wo_id = await _a_call(s)
        other = await _a_call(s)
        _, second = await _events(s, wo_id)
        # Someone with database access rewrites who accepted the offer.
        await s.execute(text("UPDATE work_order_events SET actor = 's:99' WHERE id = :id"), {"id": second.id})
        await s.commit()
        result = await audit.verify(s)
        assert not result.ok
        assert result.first is not None and result.first.event_id == second.id
        assert "changed" in result.first.problem
        assert (await audit.verify(s, other)).ok  # other chains are unaffected


async def test_deleted_or_recomputed_row_is_detected(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as s:
        wo_id = await _a_call(s)
        wo = await s.get(wos.WorkOrder, wo_id)
        assert wo is not None
        agent_id = wo_agent(await _events(s, wo_id))
        await wos.mark_answered(s, wo, agent_id=agent_id, agent_unit_id=wo.unit_id, fallback_level=0, now=T0)
        await s.commit()
        events = await _events(s, wo_id)
        assert [e.seq for e in events] == [1, 2, 3]
        await s.execute(text("DELETE FROM work_order_events WHERE id = :id"), {"id": events[1].id})
        await s.commit()
        result = await audit.verify(s)
        assert result.first is not None and result.first.event_id == events[2].id
        assert "missing" in result.first.problem

    async with sessions() as s:  # a forger who also fixes seq and recomputes its own hash
        wo_id = await _a_call(s)
        first, second = await _events(s, wo_id)
        second.data = {"agent_id": 99, "fallback_level": 0}
        second.hash = audit.entry_hash(second)
        await s.commit()
        first.kind = "forged"
        first.hash = audit.entry_hash(first)  # the next entry's prev_hash still names the old one
        await s.commit()
        result = await audit.verify(s, wo_id)
        assert result.first is not None and result.first.event_id == second.id
        assert "prev_hash" in result.first.problem


async def test_concurrent_writers_keep_one_chain(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Many sessions append to one work order at once: seq 1..n, no fork, the chain verifies."""
    async with sessions() as s:
        wo_id = await _a_call(s)

    async def writer(n: int) -> None:
        async with sessions() as s:
            wo = await s.get(wos.WorkOrder, wo_id)
            assert wo is not None
            await wos.record_event(s, wo, "note", f"s:{n}", T0, n=n)
            await asyncio.sleep(0)  # let the others reach the lock while this one holds it
            await s.commit()

    await asyncio.gather(*(writer(n) for n in range(12)))
    async with sessions() as s:
        events = await _events(s, wo_id)
        assert [e.seq for e in events] == list(range(1, 15))
        assert sorted(e.data["n"] for e in events[2:]) == list(range(12))
        assert (await audit.verify(s)).ok


async def test_concurrent_steps_that_change_the_work_order_keep_one_chain(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """As above, but each step changes the work order (a later time, a note): the flush's own
    UPDATE of the row is then the lock that orders the appends."""
    async with sessions() as s:
        wo_id = await _a_call(s)

    async def writer(n: int) -> None:
        async with sessions() as s:
            wo = await s.get(wos.WorkOrder, wo_id)
            assert wo is not None
            wo.notes = f"step {n}"
            await wos.record_event(s, wo, "note", f"s:{n}", T0 + timedelta(seconds=n + 1), n=n)
            await asyncio.sleep(0)  # let the others reach the lock while this one holds it
            await s.commit()

    await asyncio.gather(*(writer(n) for n in range(12)))
    async with sessions() as s:
        events = await _events(s, wo_id)
        assert [e.seq for e in events] == list(range(1, 15))
        assert sorted(e.data["n"] for e in events[2:]) == list(range(12))
        assert (await audit.verify(s)).ok


async def test_http_events_record_the_callers_address(settings: Settings, clock: FakeClock) -> None:
    async with api_client(settings, clock, ip="198.51.100.23") as client:
        engine = make_engine(settings.database_url)
        async with make_session_factory(engine)() as s:
            unit = await make_unit(s)
            await make_item(s, units=[unit], code="AUD-1")
            await s.commit()
        await client.post("/api/help/session", json={"name": "张三"})
        code = (await client.post("/api/help/phone-codes", json={"phone": "13800000000"})).json()["dev_code"]
        r = await client.post("/api/help/callbacks", json={"item": "AUD-1", "phone": "13800000000", "code": code})
        assert r.status_code == 200, r.text
        async with make_session_factory(engine)() as s:
            (event,) = await _events(s, r.json()["work_order"])
        await engine.dispose()
    assert event.kind == "callback_requested" and event.ip == "198.51.100.23"
    assert "req=" in (event.origin or "") and "pid=" in (event.origin or "")


def test_cli_verify_reports_the_first_broken_entry(tmp_path: Path, capsys: object) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/audit.db"

    async def setup() -> int:
        await create_tables(url)
        engine = make_engine(url)
        async with make_session_factory(engine)() as s:
            w = await build_world(s)
            wo = await callback(s, w, "a1", T0)
            (event,) = await _events(s, wo.id)
        await engine.dispose()
        return event.id

    event_id = asyncio.run(setup())
    assert main(["audit", "verify", "--url", url]) == 0
    assert asyncio.run(run_verify(url, None)).ok

    async def tamper() -> None:
        engine = make_engine(url)
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE work_order_events SET at = '2026-11-30 02:00:00.000000'"))
        await engine.dispose()

    asyncio.run(tamper())
    assert main(["audit", "verify", "--url", url]) == 1
    result = asyncio.run(run_verify(url, None))
    assert result.first is not None and result.first.event_id == event_id
