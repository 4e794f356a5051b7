"""The expected wait's history, read from PostgreSQL: the same weekday and hour of earlier weeks,
agent-occupied time = talk + wrap-up, and the department / unit fallback for a new line."""

from __future__ import annotations

from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest
from helpdesk_queue.models import WaitingEntry
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk.config import Settings
from helpdesk.journey.wait_history import WaitHistory
from helpdesk.org.models import OrgUnit, ServiceItem
from helpdesk.workorders import service as wos
from helpdesk.workorders.models import WorkOrderStatus
from tests.conftest import fresh_database
from tests.helpdesk.factories import T0, make_department, make_item, make_unit, make_work_order

pytestmark = pytest.mark.postgres
NOW = T0 + timedelta(minutes=25)  # Monday 09:25 in Beijing: the hour is 09:00-10:00 on Mondays


async def answered(session: AsyncSession, unit: OrgUnit, item: ServiceItem, queued: datetime, talk_s: float,
                   wrapup_s: float | None) -> None:
    ended = queued + timedelta(seconds=60 + talk_s)
    wo = await make_work_order(session, unit=unit, item=item, status=WorkOrderStatus.resolved, queued_at=queued,
                               answered_at=queued + timedelta(seconds=60), ended_at=ended, talk_s=talk_s)
    if wrapup_s is not None:
        await wos.record_event(session, wo, "wrapped_up", "s:1", ended + timedelta(seconds=wrapup_s))


async def test_history_is_the_same_hour_of_earlier_weeks_with_wrapup(pg_url: str) -> None:
    async with fresh_database(pg_url) as (_engine, sessions):
        async with sessions() as s:
            county = await make_unit(s)
            dept = await make_department(s)
            item, sibling = await make_item(s, department=dept, units=[county]), await make_item(s, department=dept)
            for week in (1, 2, 3):
                monday_9 = T0 - timedelta(weeks=week)
                for n in range(4):  # talk 300 s + wrap-up 60 s = 360 s of the agent's time
                    await answered(s, county, item, monday_9 + timedelta(minutes=10 * n), 300, 60)
                await answered(s, county, item, monday_9 + timedelta(minutes=50), 300, None)  # no wrap-up sent
                gave_up = await make_work_order(s, unit=county, item=item, status=WorkOrderStatus.abandoned,
                                                queued_at=monday_9 + timedelta(minutes=5))
                gave_up.abandoned_at = gave_up.queued_at + timedelta(minutes=3)
            # Other hours and days, and this very week, do not count.
            await answered(s, county, item, T0 - timedelta(weeks=1, hours=1), 3000, 60)  # 08:00
            await answered(s, county, item, T0 - timedelta(days=6), 3000, 60)  # a Tuesday
            await answered(s, county, item, T0 - timedelta(weeks=9), 3000, 60)  # too long ago
            await answered(s, county, item, T0 + timedelta(minutes=5), 3000, 60)  # today
            await s.commit()
        settings = Settings(database_url=pg_url, wrapup_s=120.0, redis_url=None)
        history = WaitHistory(SimpleNamespace(settings=settings, sessions=sessions))  # type: ignore[arg-type]
        await history.refresh(NOW)
        entry = WaitingEntry("t", "wo", [county.id], item.id, dept.id)
        seed = history(entry)
        assert seed is not None and seed.calls == 15
        # 12 calls of 360 s and 3 without a wrap-up sent, held until wrapup_s (300 + 120 s)
        assert seed.occupied_s == pytest.approx((12 * 360 + 3 * 420) / 15)
        assert seed.abandon_share == pytest.approx(3 / 18)
        new_line = WaitingEntry("t2", "wo2", [county.id], sibling.id, dept.id)  # no history of its own
        assert history(new_line) == seed  # the department's, in the same unit
        other_dept = WaitingEntry("t3", "wo3", [county.id], sibling.id, dept.id + 1000)
        assert history(other_dept) == seed  # then the unit's
        assert history(WaitingEntry("t4", "wo4", [county.id + 1000], item.id, dept.id)) is None
        refreshed = history.table
        await history.refresh(NOW + timedelta(minutes=20))  # same hour: not re-read
        assert history.table is refreshed
