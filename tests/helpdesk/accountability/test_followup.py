"""The follow-up clock with a fake clock (no sleeping): T1/T2/T3 on time, paused outside business
hours, across a weekend and a holiday; escalation up the org tree; claim, deadline, reassign; two
sweepers racing on one database send each step once."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from helpdesk.accountability import audit, policy, service
from helpdesk.accountability.models import Breach, FollowupPolicy
from helpdesk.accountability.sweep import sweep
from helpdesk.clock import FakeClock
from helpdesk.config import Settings
from helpdesk.db import make_engine, make_session_factory
from helpdesk.org.models import Holiday
from helpdesk.workorders.models import WorkOrderEvent, WorkOrderStatus
from tests.helpdesk.accountability.world import Inbox, build_world, callback, reload

SETTINGS = Settings(_env_file=None)  # T1 10 min, T2 20 min, T3 60 min, resolve 3 working days


def bj(y: int, m: int, d: int, hh: int, mm: int = 0) -> datetime:
    """A Beijing wall-clock time as aware UTC."""
    return datetime(y, m, d, hh, mm, tzinfo=UTC) - timedelta(hours=8)


async def run(sessions: async_sessionmaker[AsyncSession], clock: FakeClock, inbox: Inbox,
              at: datetime) -> list[tuple[str, list[int]]]:
    clock.advance((at - clock.now()).total_seconds())
    await sweep(sessions, clock, inbox, SETTINGS)
    return inbox.take()


async def breaches(s: AsyncSession, wo_id: str) -> list[tuple[str, int, int]]:
    rows = await s.execute(select(Breach.reason, Breach.level, Breach.cycle).where(Breach.work_order_id == wo_id)
                           .order_by(Breach.id))
    return [tuple(r) for r in rows.all()]  # type: ignore[misc]


async def test_t1_t2_t3_on_time_and_up_the_tree(sessions: async_sessionmaker[AsyncSession]) -> None:
    clock, inbox = FakeClock(bj(2026, 11, 30, 9)), Inbox()  # Monday 09:00
    async with sessions() as s:
        w = await build_world(s)
        wo = await callback(s, w, "a1", clock.now())
    assert await run(sessions, clock, inbox, clock.now()) == []
    async with sessions() as s:
        wo = await reload(s, wo.id)
        assert wo.followup_started_at == bj(2026, 11, 30, 9) and wo.owner_unit_id == w.units["a1"].id
        assert (wo.remind_at, wo.red_at, wo.escalate_at) == (bj(2026, 11, 30, 9, 10), bj(2026, 11, 30, 9, 20),
                                                             bj(2026, 11, 30, 10))
        assert wo.due_at == bj(2026, 12, 2, 17, 30)  # 21 business hours: three whole working days
    agents_a1 = sorted([w.id("agent_a1"), w.id("agent_a1b")])
    assert await run(sessions, clock, inbox, bj(2026, 11, 30, 9, 9) + timedelta(seconds=59)) == []
    assert await run(sessions, clock, inbox, bj(2026, 11, 30, 9, 10)) == [("reminder", agents_a1)]
    assert await run(sessions, clock, inbox, bj(2026, 11, 30, 9, 15)) == []  # idempotent
    assert await run(sessions, clock, inbox, bj(2026, 11, 30, 9, 20)) == [("red", [w.id("sup_a1")])]
    assert await run(sessions, clock, inbox, bj(2026, 11, 30, 9, 59)) == []
    assert await run(sessions, clock, inbox, bj(2026, 11, 30, 10)) == [("escalation", [w.id("sup_a")])]
    assert await run(sessions, clock, inbox, bj(2026, 11, 30, 10, 30)) == []
    assert await run(sessions, clock, inbox, bj(2026, 11, 30, 11)) == [("escalation", [w.id("sup_city")])]
    assert await run(sessions, clock, inbox, bj(2026, 11, 30, 15)) == []  # the root knows: nobody further up
    async with sessions() as s:
        wo = await reload(s, wo.id)
        assert (wo.flag, wo.escalation_level, wo.escalate_at) == ("escalated", 2, None)
        assert await breaches(s, wo.id) == [("unclaimed", 0, 0), ("unclaimed", 1, 0), ("unclaimed", 2, 0)]
        kinds = (await s.scalars(select(WorkOrderEvent.kind).where(WorkOrderEvent.work_order_id == wo.id)
                                 .order_by(WorkOrderEvent.seq))).all()
        assert kinds == ["callback_requested", "followup_opened", "reminded", "flagged_red", "escalated",
                         "escalated"]
        assert (await audit.verify(s)).ok


async def test_the_clock_pauses_over_lunch(sessions: async_sessionmaker[AsyncSession]) -> None:
    clock, inbox = FakeClock(bj(2026, 11, 30, 11, 55)), Inbox()
    async with sessions() as s:
        w = await build_world(s)
        wo = await callback(s, w, "a1", clock.now())
    await run(sessions, clock, inbox, clock.now())
    async with sessions() as s:
        wo = await reload(s, wo.id)
        assert (wo.remind_at, wo.red_at, wo.escalate_at) == (
            bj(2026, 11, 30, 13, 35), bj(2026, 11, 30, 13, 45), bj(2026, 11, 30, 14, 25))
    assert await run(sessions, clock, inbox, bj(2026, 11, 30, 13, 30)) == []  # 95 minutes of wall time
    assert [k for k, _ in await run(sessions, clock, inbox, bj(2026, 11, 30, 13, 35))] == ["reminder"]


async def test_across_a_weekend_and_a_holiday(sessions: async_sessionmaker[AsyncSession]) -> None:
    clock, inbox = FakeClock(bj(2026, 12, 4, 17, 25)), Inbox()  # Friday, 5 minutes before closing
    async with sessions() as s:
        w = await build_world(s)
        s.add(Holiday(unit_id=None, day=date(2026, 12, 7), name="测试假日"))  # Monday closed
        await s.commit()
        wo = await callback(s, w, "a1", clock.now())
    await run(sessions, clock, inbox, clock.now())
    async with sessions() as s:
        wo = await reload(s, wo.id)
        assert (wo.remind_at, wo.red_at, wo.escalate_at) == (
            bj(2026, 12, 8, 9, 5), bj(2026, 12, 8, 9, 15), bj(2026, 12, 8, 9, 55))
    assert await run(sessions, clock, inbox, bj(2026, 12, 7, 16)) == []  # Monday: a holiday
    assert [k for k, _ in await run(sessions, clock, inbox, bj(2026, 12, 8, 9, 5))] == ["reminder"]
    assert [k for k, _ in await run(sessions, clock, inbox, bj(2026, 12, 8, 9, 15))] == ["red"]
    assert [k for k, _ in await run(sessions, clock, inbox, bj(2026, 12, 8, 9, 55))] == ["escalation"]


async def test_claim_stops_the_claim_clock_and_the_deadline_takes_over(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    clock, inbox = FakeClock(bj(2026, 11, 30, 9)), Inbox()
    async with sessions() as s:
        w = await build_world(s)
        s.add(FollowupPolicy(item_id=w.item.id, unit_id=None, resolve_s=2 * 3600, updated_at=clock.now()))
        await s.commit()
        wo = await callback(s, w, "a1", clock.now())
    await run(sessions, clock, inbox, clock.now())
    clock.advance(5 * 60)
    async with sessions() as s:
        wo = await reload(s, wo.id)
        assert await service.claim(s, SETTINGS, wo, w.staff["agent_a1"], clock.now())
        await s.commit()
        assert wo.owner_id == w.id("agent_a1") and wo.due_at == bj(2026, 11, 30, 11)
        assert wo.escalate_at == bj(2026, 11, 30, 11, 40)  # the deadline, then the T2→T3 gap
    for t in (bj(2026, 11, 30, 9, 10), bj(2026, 11, 30, 9, 20), bj(2026, 11, 30, 10), bj(2026, 11, 30, 10, 59)):
        assert await run(sessions, clock, inbox, t) == []
    assert await run(sessions, clock, inbox, bj(2026, 11, 30, 11)) == [
        ("overdue", sorted([w.id("agent_a1"), w.id("sup_a1")]))]
    assert await run(sessions, clock, inbox, bj(2026, 11, 30, 11, 40)) == [("escalation", [w.id("sup_a")])]
    async with sessions() as s:
        wo = await reload(s, wo.id)
        assert wo.flag == "escalated" and await breaches(s, wo.id) == [("overdue", 0, 0), ("overdue", 1, 0)]
        await service.resolve(s, wo, w.staff["agent_a1"], note="已回电办结", now=clock.now())
        await s.commit()
        assert wo.status == WorkOrderStatus.resolved
    assert await run(sessions, clock, inbox, bj(2026, 12, 1, 12)) == []  # resolved: the clock has stopped


async def test_a_second_agent_cannot_claim(sessions: async_sessionmaker[AsyncSession]) -> None:
    clock = FakeClock(bj(2026, 11, 30, 9))
    async with sessions() as s:
        w = await build_world(s)
        wo = await callback(s, w, "a1", clock.now())
        assert await service.claim(s, SETTINGS, wo, w.staff["agent_a1"], clock.now())
        await s.commit()
    async with sessions() as s:
        wo = await reload(s, wo.id)
        try:
            await service.claim(s, SETTINGS, wo, w.staff["agent_a1b"], clock.now())
        except service.Conflict as exc:
            assert exc.code == "claimed"
        else:
            raise AssertionError("a claimed order was claimed again")


async def test_reassign_starts_a_new_cycle(sessions: async_sessionmaker[AsyncSession]) -> None:
    clock, inbox = FakeClock(bj(2026, 11, 30, 9)), Inbox()
    async with sessions() as s:
        w = await build_world(s)
        wo = await callback(s, w, "a1", clock.now())
    await run(sessions, clock, inbox, bj(2026, 11, 30, 9, 20))  # reminded and red
    async with sessions() as s:
        wo = await reload(s, wo.id)
        due = wo.due_at
        event = await service.reassign(s, SETTINGS, wo, w.staff["sup_a"], to_staff=w.staff["agent_a"],
                                       to_unit_id=None, reason="乡镇无法办理，转区级", now=clock.now())
        await s.commit()
        assert event.kind == "reassigned" and list(event.staff_ids) == [w.id("agent_a")]
        assert (wo.owner_id, wo.owner_unit_id, wo.flag, wo.followup_cycle) == (
            w.id("agent_a"), w.units["a"].id, "none", 1)
        assert wo.due_at == due and wo.red_at == bj(2026, 11, 30, 9, 40)
        (data,) = (await s.scalars(select(WorkOrderEvent.data).where(
            WorkOrderEvent.work_order_id == wo.id, WorkOrderEvent.kind == "reassigned"))).all()
        assert data["reason"] == "乡镇无法办理，转区级" and data["before"]["flag"] == "red"
    assert await run(sessions, clock, inbox, bj(2026, 11, 30, 9, 30)) == [("reminder", [w.id("agent_a")])]
    assert await run(sessions, clock, inbox, bj(2026, 11, 30, 9, 40)) == [("red", [w.id("sup_a")])]
    async with sessions() as s:
        assert await breaches(s, wo.id) == [("unclaimed", 0, 0), ("unclaimed", 0, 1)]


async def test_unresolved_call_is_owned_by_its_agent(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Wrapped up unresolved: the agent who took the call owns it and is the one reminded."""
    from tests.helpdesk.factories import make_work_order

    clock, inbox = FakeClock(bj(2026, 11, 30, 10)), Inbox()
    async with sessions() as s:
        w = await build_world(s)
        wo = await make_work_order(s, unit=w.units["a1"], item=w.item, status=WorkOrderStatus.unresolved,
                                   agent_id=w.id("agent_a"), owner_id=w.id("agent_a"),
                                   handled_unit_id=w.units["a"].id, queued_at=bj(2026, 11, 30, 9, 30),
                                   answered_at=bj(2026, 11, 30, 9, 31), ended_at=bj(2026, 11, 30, 9, 50))
        await s.commit()
    assert await run(sessions, clock, inbox, bj(2026, 11, 30, 10)) == [("reminder", [w.id("agent_a")])]
    async with sessions() as s:
        wo = await reload(s, wo.id)
        assert wo.owner_unit_id == w.units["a"].id and wo.followup_started_at == bj(2026, 11, 30, 9, 50)
    assert await run(sessions, clock, inbox, bj(2026, 11, 30, 10, 10)) == [("red", [w.id("sup_a")])]
    assert await run(sessions, clock, inbox, bj(2026, 11, 30, 10, 50)) == [("escalation", [w.id("sup_city")])]


async def test_two_sweepers_send_each_step_once(db_url: str) -> None:
    """Two 'processes' (engines) sweep the same database at the same moment, several times over."""
    from tests.helpdesk.factories import create_tables

    await create_tables(db_url)
    engines = [make_engine(db_url), make_engine(db_url)]
    one, two = (make_session_factory(e) for e in engines)
    clock, inbox = FakeClock(bj(2026, 11, 30, 9)), Inbox()
    async with one() as s:
        w = await build_world(s)
        orders = [await callback(s, w, unit, clock.now()) for unit in ("a1", "a1", "a", "b")]
    try:
        for at in (bj(2026, 11, 30, 10), bj(2026, 11, 30, 11), bj(2026, 11, 30, 14)):
            clock.advance((at - clock.now()).total_seconds())
            await asyncio.gather(sweep(one, clock, inbox, SETTINGS), sweep(two, clock, inbox, SETTINGS))
        per_order: dict[str, list[str]] = {}
        for e in inbox.events:
            per_order.setdefault(str(e.work_order_id), []).append(f"{e.kind}:{e.data.get('level', 0)}")
        a1 = ["reminder:0", "red:0", "escalation:1", "escalation:2"]  # township → county → city
        a = ["reminder:0", "red:0", "escalation:1"]  # county → city
        assert [per_order[o.id] for o in orders] == [a1, a1, a, a]
        async with one() as s:
            total = await s.scalar(select(func.count(Breach.id)))
            assert total == 2 * 3 + 2 * 2
            assert (await audit.verify(s)).ok
    finally:
        for engine in engines:
            await engine.dispose()


async def test_most_specific_policy_wins(sessions: async_sessionmaker[AsyncSession]) -> None:
    now = bj(2026, 11, 30, 9)
    async with sessions() as s:
        w = await build_world(s)
        other = await __import__("tests.helpdesk.factories", fromlist=["make_item"]).make_item(s)
        s.add_all([
            FollowupPolicy(item_id=None, unit_id=w.units["city"].id, t1_s=100, t2_s=200, t3_s=300, updated_at=now),
            FollowupPolicy(item_id=None, unit_id=w.units["a"].id, t2_s=250, updated_at=now),
            FollowupPolicy(item_id=w.item.id, unit_id=None, t3_s=900, updated_at=now),
            FollowupPolicy(item_id=w.item.id, unit_id=w.units["a1"].id, resolve_s=4000, updated_at=now),
        ])
        await s.commit()
        got = await policy.deadlines_for(s, SETTINGS, item_id=w.item.id, unit_id=w.units["a1"].id)
        assert got == policy.Deadlines(t1_s=100, t2_s=250, t3_s=900, resolve_s=4000)
        got = await policy.deadlines_for(s, SETTINGS, item_id=other.id, unit_id=w.units["b"].id)
        assert got == policy.Deadlines(t1_s=100, t2_s=200, t3_s=300, resolve_s=SETTINGS.followup_resolve_s)
        got = await policy.deadlines_for(s, SETTINGS, item_id=other.id, unit_id=w.units["a1"].id)
        assert got.t2_s == 250 and got.t3_s == 300
