"""Follow-up deadlines: the policy for an item and unit (most specific wins) and the step times it
gives on a unit's business calendar."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk.accountability.models import FollowupPolicy
from helpdesk.config import Settings
from helpdesk.org.calendar import BusinessCalendar
from helpdesk.org.models import OrgUnit
from helpdesk.org.repository import path_ids

FIELDS = ("t1_s", "t2_s", "t3_s", "resolve_s")


@dataclass(frozen=True)
class Deadlines:
    """Business seconds from the clock's start: remind (T1), red (T2), escalate (T3, then every T3
    more one level up), resolve (the resolution deadline)."""

    t1_s: int
    t2_s: int
    t3_s: int
    resolve_s: int


@dataclass(frozen=True)
class Steps:
    remind_at: datetime
    red_at: datetime
    escalate_at: datetime
    due_at: datetime


def defaults(settings: Settings) -> Deadlines:
    return Deadlines(
        settings.followup_t1_s, settings.followup_t2_s, settings.followup_t3_s, settings.followup_resolve_s
    )


def specificity(policy: FollowupPolicy, lineage: Sequence[int]) -> tuple[int, int]:
    """Item beats unit; among units the nearest (deepest) one wins. lineage: root first."""
    depth = lineage.index(policy.unit_id) + 1 if policy.unit_id is not None else 0
    return (1 if policy.item_id is not None else 0, depth)


def merge(policies: Sequence[FollowupPolicy], lineage: Sequence[int], base: Deadlines) -> Deadlines:
    """Field by field: the most specific policy that sets it, else the settings."""
    ranked = sorted(policies, key=lambda p: specificity(p, lineage), reverse=True)
    values = {}
    for name in FIELDS:
        chosen = next((getattr(p, name) for p in ranked if getattr(p, name) is not None), None)
        values[name] = chosen if chosen is not None else getattr(base, name)
    return Deadlines(**values)


async def deadlines_for(session: AsyncSession, settings: Settings, *, item_id: int, unit_id: int) -> Deadlines:
    unit = await session.get(OrgUnit, unit_id)
    lineage = path_ids(unit.path) if unit is not None else [unit_id]
    stmt = select(FollowupPolicy).where(
        or_(FollowupPolicy.item_id.is_(None), FollowupPolicy.item_id == item_id),
        or_(FollowupPolicy.unit_id.is_(None), FollowupPolicy.unit_id.in_(lineage)),
    )
    return merge((await session.scalars(stmt)).all(), lineage, defaults(settings))


def steps(calendar: BusinessCalendar, start: datetime, d: Deadlines, due_at: datetime | None = None) -> Steps:
    """The stored step times of a clock started at `start` (due_at: keep an existing deadline)."""
    return Steps(
        remind_at=calendar.add_business_seconds(start, d.t1_s),
        red_at=calendar.add_business_seconds(start, d.t2_s),
        escalate_at=calendar.add_business_seconds(start, d.t3_s),
        due_at=due_at or calendar.add_business_seconds(start, d.resolve_s),
    )


def escalation_after_due(calendar: BusinessCalendar, due_at: datetime, d: Deadlines) -> datetime:
    """A claimed order past its deadline: red at once, the parent unit after the T2→T3 gap."""
    return calendar.add_business_seconds(due_at, max(d.t3_s - d.t2_s, 0))


def next_escalation(calendar: BusinessCalendar, previous: datetime, d: Deadlines) -> datetime:
    return calendar.add_business_seconds(previous, d.t3_s)
