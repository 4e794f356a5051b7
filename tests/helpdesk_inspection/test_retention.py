"""The retention sweep deletes expired media once and logs it; the figures per item and unit."""

from __future__ import annotations

from datetime import timedelta

from helpdesk_inspection import retention
from helpdesk_inspection.models import (
    EvidenceSnapshot,
    Inspection,
    InspectionOutcome,
    MarkResult,
    RetentionLog,
)
from helpdesk_inspection.service import InspectionService
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from helpdesk.clock import FakeClock

from .conftest import World, make_work_order


async def run_inspection(
    service: InspectionService,
    s: AsyncSession,
    world: World,
    wo: str,
    clock: FakeClock,
    outcome: InspectionOutcome,
    minutes: float,
    follow_up_of: str | None = None,
) -> Inspection:
    insp = await service.start(s, staff=world.agent, work_order_id=wo, room=wo, follow_up_of=follow_up_of)
    await service.consent(s, applicant_id=world.applicant_id, inspection_id=insp.id, accept=True)
    clock.advance(minutes * 60)
    bad = MarkResult.passed if outcome == InspectionOutcome.passed else MarkResult.rectify
    for n, key in enumerate(insp.point_keys):
        await service.mark(
            s,
            staff=world.agent,
            inspection_id=insp.id,
            point_key=key,
            result=bad if n == 0 else MarkResult.passed,
        )
    deadline = clock.now() + timedelta(days=5) if outcome == InspectionOutcome.rectify else None
    return await service.end(s, staff=world.agent, inspection_id=insp.id, outcome=outcome, rectify_deadline=deadline)


async def test_sweep_is_idempotent_and_logged(
    service: InspectionService, world: World, db_sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    root = service.live.root
    async with db_sessions() as s:
        insp = await run_inspection(service, s, world, world.work_order, clock, InspectionOutcome.passed, 5)
        (root / insp.id).mkdir(parents=True)
        (root / insp.id / "recording-1.mp4").write_bytes(b"x" * 1000)
        (root / insp.id / "snapshot-a.jpg").write_bytes(b"y" * 10)
        (root / insp.id / "report.pdf").write_bytes(b"%PDF")
        insp.recordings = [{"key": f"{insp.id}/recording-1.mp4", "sha256": "ab", "frames": 1}]
        s.add(
            EvidenceSnapshot(
                inspection_id=insp.id,
                point_key="K1",
                taken_at=clock.now(),
                taken_by=world.agent.id,
                sha256="cd",
                width=1,
                height=1,
                size=10,
                storage_key=f"{insp.id}/snapshot-a.jpg",
            )
        )
        await s.commit()

        assert await retention.sweep(s, root=root, retention_days=30, now=clock.now() + timedelta(days=29)) == (0, 0)
        later = clock.now() + timedelta(days=31)
        assert await retention.sweep(s, root=root, retention_days=30, now=later) == (1, 2)
        await s.commit()
        assert await retention.sweep(s, root=root, retention_days=30, now=later) == (0, 0)
        logs = list((await s.execute(select(RetentionLog))).scalars())
        assert sorted((log.kind, log.bytes) for log in logs) == [("recording", 1000), ("snapshot", 10)]
        assert not (root / insp.id / "recording-1.mp4").exists()
        assert (root / insp.id / "report.pdf").exists()  # the report is the record; it stays
        refreshed = await s.get(Inspection, insp.id)
        assert refreshed is not None and refreshed.media_deleted_at == later


async def test_first_pass_rate_and_duration(
    service: InspectionService, world: World, db_sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    async with db_sessions() as s:
        await run_inspection(service, s, world, world.work_order, clock, InspectionOutcome.passed, 10)
        wo2 = await make_work_order(s, world, world.food_item, "WO-2")
        first = await run_inspection(service, s, world, wo2, clock, InspectionOutcome.rectify, 20)
        wo3 = await make_work_order(s, world, world.food_item, "WO-3")
        await run_inspection(service, s, world, wo3, clock, InspectionOutcome.passed, 3, follow_up_of=first.id)
        await s.commit()
        rows = await retention.figures(s)
    assert len(rows) == 1
    row = rows[0]
    assert row["item"] == "食品经营许可（小餐饮）" and row["unit"] == "保定市行政审批局"
    assert (row["inspections"], row["first_inspections"], row["first_passed"], row["follow_ups"]) == (
        3,
        2,
        1,
        1,
    )
    assert row["first_pass_rate"] == 0.5
    assert row["mean_duration_s"] == 660.0 and row["max_duration_s"] == 1200.0
