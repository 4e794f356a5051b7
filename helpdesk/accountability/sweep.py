"""The follow-up sweep: acts on stored step times (never a sleep per ticket), idempotently.

Each step is one guarded UPDATE per work order (`... WHERE flag IN (...)`, `... WHERE
escalation_level = n`) in its own transaction, with a unique breach row per step as a backstop: two
sweepers racing on one PostgreSQL database both try, the row lock makes the second re-check the
condition after the first commits, and it finds nothing to do. Notifications go out after commit.
Exactly one process normally runs it (helpdesk.leader); the guards make a second one harmless.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from helpdesk import metrics
from helpdesk.accountability import audit, policy
from helpdesk.accountability import repository as repo
from helpdesk.accountability.models import Breach, BreachReason, FollowupFlag
from helpdesk.accountability.notify import Notifier, Notify, NotifyEvent, stage
from helpdesk.accountability.service import iso, open_followup
from helpdesk.clock import Clock
from helpdesk.config import Settings
from helpdesk.leader import LeaderLock, MemoryLeaderLock, RedisLeaderLock, release_quietly
from helpdesk.org.calendar import load_calendar
from helpdesk.outage import log_failure
from helpdesk.state import AppState
from helpdesk.tasks import start_background
from helpdesk.workorders.models import WorkOrder
from helpdesk.workorders.service import record_event

log = logging.getLogger(__name__)
BATCH = 500
MAX_ESCALATION_ROUNDS = 10  # catching up after downtime: several levels in one sweep
Sessions = async_sessionmaker[AsyncSession]


@dataclass
class SweepReport:
    opened: list[str] = field(default_factory=list)
    reminded: list[str] = field(default_factory=list)
    red: list[str] = field(default_factory=list)
    overdue: list[str] = field(default_factory=list)
    escalated: list[tuple[str, int]] = field(default_factory=list)  # (work order, new level)

    def total(self) -> int:
        return sum(len(v) for v in (self.opened, self.reminded, self.red, self.overdue, self.escalated))


OPEN = WorkOrder.status.in_(repo.FOLLOWUP_STATES)
STARTED = WorkOrder.followup_started_at.is_not(None)


def remind_due(now: datetime) -> ColumnElement[bool]:
    return and_(
        OPEN,
        STARTED,
        WorkOrder.claimed_at.is_(None),
        WorkOrder.flag == FollowupFlag.none,
        WorkOrder.remind_at <= now,
    )


def red_due(now: datetime) -> ColumnElement[bool]:
    return and_(
        OPEN,
        STARTED,
        WorkOrder.claimed_at.is_(None),
        WorkOrder.flag.in_([FollowupFlag.none, FollowupFlag.reminded]),
        WorkOrder.red_at <= now,
    )


def overdue_due(now: datetime) -> ColumnElement[bool]:
    return and_(OPEN, STARTED, WorkOrder.overdue_at.is_(None), WorkOrder.due_at <= now)


def escalate_due(now: datetime) -> ColumnElement[bool]:
    return and_(
        OPEN,
        STARTED,
        WorkOrder.escalate_at <= now,
        or_(WorkOrder.claimed_at.is_(None), WorkOrder.due_at <= now),
    )


async def _ids(sessions: Sessions, where: ColumnElement[bool]) -> list[str]:
    async with sessions() as s:
        stmt = select(WorkOrder.id).where(where).order_by(WorkOrder.id).limit(BATCH)
        return list((await s.scalars(stmt)).all())


async def _guarded(s: AsyncSession, wo_id: str, where: ColumnElement[bool], **values: Any) -> bool:
    result = await s.execute(
        update(WorkOrder)
        .where(WorkOrder.id == wo_id, where)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def _load(s: AsyncSession, wo_id: str) -> WorkOrder:
    wo = await s.scalar(select(WorkOrder).where(WorkOrder.id == wo_id).execution_options(populate_existing=True))
    assert wo is not None
    return wo


def _breach(
    wo: WorkOrder,
    reason: BreachReason,
    level: int,
    now: datetime,
    deadline: datetime | None,
    notified_unit_id: int | None,
) -> Breach:
    return Breach(
        work_order_id=wo.id,
        cycle=wo.followup_cycle,
        reason=reason,
        level=level,
        at=now,
        deadline=deadline,
        staff_id=wo.owner_id,
        unit_id=wo.owner_unit_id or wo.unit_id,
        notified_unit_id=notified_unit_id,
    )


def _data(wo: WorkOrder, **extra: Any) -> dict[str, Any]:
    return {
        "number": wo.number,
        "status": str(wo.status),
        "flag": wo.flag,
        "owner_id": wo.owner_id,
        "owner_unit_id": wo.owner_unit_id,
        "due_at": iso(wo.due_at),
        **extra,
    }


async def _open_new(sessions: Sessions, settings: Settings, now: datetime, report: SweepReport) -> None:
    for wo_id in await _ids(sessions, and_(OPEN, WorkOrder.followup_started_at.is_(None))):
        async with sessions() as s:
            wo = await _load(s, wo_id)
            if await open_followup(s, settings, wo, now):
                await s.commit()
                report.opened.append(wo_id)


async def _remind(sessions: Sessions, now: datetime, notify: Notify, report: SweepReport) -> None:
    for wo_id in await _ids(sessions, remind_due(now)):
        async with sessions() as s:
            if not await _guarded(s, wo_id, remind_due(now), flag=FollowupFlag.reminded):
                continue
            wo = await _load(s, wo_id)
            await record_event(s, wo, "reminded", "system", now, due=iso(wo.remind_at))
            to = await repo.owner_recipients(s, wo)
            after = stage(notify, s, NotifyEvent(
                "reminder", f"请认领工单 {wo.number} · please claim work order {wo.number}", to, wo.id,
                _data(wo, step="T1")))
            await s.commit()
        report.reminded.append(wo_id)
        await after()


async def _red(sessions: Sessions, now: datetime, notify: Notify, report: SweepReport) -> None:
    for wo_id in await _ids(sessions, red_due(now)):
        async with sessions() as s:
            if not await _guarded(s, wo_id, red_due(now), flag=FollowupFlag.red):
                continue
            wo = await _load(s, wo_id)
            unit, to = await repo.supervisors_from(s, await repo.lineage_units(s, wo.owner_unit_id or wo.unit_id))
            s.add(_breach(wo, BreachReason.unclaimed, 0, now, wo.red_at, unit.id if unit else None))
            await record_event(
                s,
                wo,
                "flagged_red",
                "system",
                now,
                reason=BreachReason.unclaimed,
                due=iso(wo.red_at),
                notified=to,
            )
            after = stage(notify, s, NotifyEvent(
                "red", f"工单 {wo.number} 超时未认领（红色） · unclaimed, flagged red", to, wo.id,
                _data(wo, step="T2")))
            if not await _commit_once(s):
                continue
        report.red.append(wo_id)
        await after()


async def _overdue(sessions: Sessions, now: datetime, notify: Notify, report: SweepReport) -> None:
    raise_flag = case(
        (WorkOrder.flag.in_([FollowupFlag.none, FollowupFlag.reminded]), FollowupFlag.red.value),
        else_=WorkOrder.flag,
    )
    for wo_id in await _ids(sessions, overdue_due(now)):
        async with sessions() as s:
            if not await _guarded(s, wo_id, overdue_due(now), overdue_at=now, flag=raise_flag):
                continue
            wo = await _load(s, wo_id)
            unit, sups = await repo.supervisors_from(s, await repo.lineage_units(s, wo.owner_unit_id or wo.unit_id))
            to = list(dict.fromkeys([*await repo.owner_recipients(s, wo), *sups]))
            s.add(_breach(wo, BreachReason.overdue, 0, now, wo.due_at, unit.id if unit else None))
            await record_event(s, wo, "overdue", "system", now, due=iso(wo.due_at), notified=to)
            after = stage(notify, s, NotifyEvent(
                "overdue", f"工单 {wo.number} 已超过办结时限 · past its resolution deadline", to, wo.id,
                _data(wo, step="deadline")))
            if not await _commit_once(s):
                continue
        report.overdue.append(wo_id)
        await after()


async def _escalate(sessions: Sessions, settings: Settings, now: datetime, notify: Notify, report: SweepReport) -> int:
    done = 0
    for wo_id in await _ids(sessions, escalate_due(now)):
        async with sessions() as s:
            wo = await _load(s, wo_id)
            level = wo.escalation_level + 1
            chain = await repo.lineage_units(s, wo.owner_unit_id or wo.unit_id)  # nearest first
            guard = and_(
                escalate_due(now),
                WorkOrder.escalation_level == wo.escalation_level,
                WorkOrder.followup_cycle == wo.followup_cycle,
            )
            if level >= len(chain):  # the root has been told: nobody further up
                if await _guarded(s, wo_id, guard, escalate_at=None):
                    await s.commit()
                continue
            d = await policy.deadlines_for(s, settings, item_id=wo.item_id, unit_id=chain[0].id)
            assert wo.escalate_at is not None
            step_due = wo.escalate_at
            following = policy.next_escalation(await load_calendar(s, chain[0].id), step_due, d)
            if not await _guarded(
                s, wo_id, guard, escalation_level=level, flag=FollowupFlag.escalated, escalate_at=following
            ):
                continue
            wo = await _load(s, wo_id)
            unit, to = await repo.supervisors_from(s, chain[level:])
            reason = BreachReason.unclaimed if wo.claimed_at is None else BreachReason.overdue
            s.add(_breach(wo, reason, level, now, step_due, unit.id if unit else None))
            await record_event(
                s,
                wo,
                "escalated",
                "system",
                now,
                level=level,
                reason=reason,
                to_unit_id=chain[level].id,
                notified_unit_id=unit.id if unit else None,
                notified=to,
                next_escalation=iso(following),
            )
            after = stage(notify, s, NotifyEvent(
                "escalation", f"工单 {wo.number} 升级督办（第{level}级） · escalated to {chain[level].name}", to, wo.id,
                _data(wo, step="T3", level=level, reason=reason, escalated_to_unit_id=chain[level].id)))
            if not await _commit_once(s):
                continue
        done += 1
        report.escalated.append((wo_id, level))
        metrics.record_escalation(level)
        await after()
    return done


async def _commit_once(s: AsyncSession) -> bool:
    """The breach's unique key is the last guard: a duplicate step rolls back and says nothing."""
    try:
        await s.commit()
        return True
    except IntegrityError:
        await s.rollback()
        log.info("a follow-up step was already taken by another sweeper")
        return False


async def sweep(
    session_factory: Sessions, clock: Clock, notify: Notify, settings: Settings | None = None
) -> SweepReport:
    """One pass over the stored deadlines; safe to run again at any time (idempotent)."""
    settings = settings or Settings()
    now = clock.now()
    report = SweepReport()
    with audit.job("followup-sweep"):
        await _open_new(session_factory, settings, now, report)
        await _remind(session_factory, now, notify, report)
        await _red(session_factory, now, notify, report)
        await _overdue(session_factory, now, notify, report)
        for _ in range(MAX_ESCALATION_ROUNDS):
            if not await _escalate(session_factory, settings, now, notify, report):
                break
    if report.total():
        log.info(
            "follow-up sweep: %s opened, %s reminded, %s red, %s overdue, %s escalated",
            len(report.opened),
            len(report.reminded),
            len(report.red),
            len(report.overdue),
            len(report.escalated),
        )
    return report


async def run_sweeper(
    state: AppState,
    notifier: Notifier,
    leader: LeaderLock,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """The loop: every sweep_interval_s, the leader sweeps and sends due webhooks."""
    while True:
        await sleep(state.settings.sweep_interval_s)
        try:
            if await leader.acquire():
                await sweep(state.sessions, state.clock, notifier, state.settings)
                await notifier.deliver_due()
        except Exception as exc:  # the loop must outlive one bad round; the cause is logged
            log_failure(log, exc, "follow-up sweep failed")


async def wire_accountability(state: AppState, stack: AsyncExitStack) -> None:
    """The wiring step for helpdesk.app: the notifier (state.components["notifier"]; set its
    on_notification to push to the console) and the sweeper task (not when sweep_interval_s <= 0)."""
    notifier = Notifier(state.sessions, state.clock, state.settings)
    state.components["notifier"] = notifier
    if state.components.get("sweeper", True) is False or state.settings.sweep_interval_s <= 0:
        return
    leader: LeaderLock = (
        RedisLeaderLock(
            state.redis,
            f"{state.settings.redis_prefix}leader:followup-sweep",
            ttl_s=max(3 * state.settings.sweep_interval_s, 30.0),
        )
        if state.redis is not None
        else MemoryLeaderLock()
    )
    if state.redis is not None:  # runs after the sweeper stops: hand the timers over at once
        stack.push_async_callback(release_quietly, leader)
    start_background(stack, run_sweeper(state, notifier, leader), "followup-sweeper")
