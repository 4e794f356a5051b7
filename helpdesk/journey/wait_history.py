"""History for the expected wait: past calls of the same weekday and hour, from the database.

Each process reads them once an hour (Journey.heartbeat) into a helpdesk_queue.history.SeedTable,
which the QueueService asks for each line's seed. Agent-occupied time = talk time + wrap-up (until
the wrap-up was submitted, at most `wrapup_s`: the agent is ready again by then)."""

from __future__ import annotations

import logging
from datetime import datetime

from helpdesk_queue.estimate import Seed
from helpdesk_queue.history import PastCall, SeedTable, windows
from helpdesk_queue.models import WaitingEntry
from sqlalchemy import and_, func, or_, select

from helpdesk.org.models import ServiceItem
from helpdesk.state import AppState
from helpdesk.workorders.models import WorkOrder, WorkOrderEvent

log = logging.getLogger(__name__)
WEEKS = 6  # how many earlier weeks count


async def past_calls(state: AppState, now: datetime, weeks: int = WEEKS) -> list[PastCall]:
    """Requests queued in this hour of the week on earlier weeks: answered and ended, or abandoned."""
    cap = state.settings.wrapup_s
    wrapped = (select(WorkOrderEvent.work_order_id, func.min(WorkOrderEvent.at).label("at"))
               .where(WorkOrderEvent.kind == "wrapped_up").group_by(WorkOrderEvent.work_order_id).subquery())
    in_hours = or_(*(and_(WorkOrder.queued_at >= start, WorkOrder.queued_at < end)
                     for start, end in windows(now, weeks)))
    query = (select(WorkOrder.unit_id, WorkOrder.item_id, ServiceItem.department_id, WorkOrder.talk_s,
                    WorkOrder.ended_at, wrapped.c.at)
             .join(ServiceItem, ServiceItem.id == WorkOrder.item_id)
             .outerjoin(wrapped, wrapped.c.work_order_id == WorkOrder.id)
             .where(in_hours, or_(and_(WorkOrder.talk_s.is_not(None), WorkOrder.ended_at.is_not(None)),
                                  WorkOrder.abandoned_at.is_not(None))))
    out = []
    async with state.sessions() as session:
        for unit_id, item_id, dept_id, talk_s, ended_at, wrapped_at in await session.execute(query):
            if talk_s is None or ended_at is None:
                out.append(PastCall(unit_id, item_id, dept_id, None))
                continue
            wrap = cap if wrapped_at is None else min(cap, max(0.0, (wrapped_at - ended_at).total_seconds()))
            out.append(PastCall(unit_id, item_id, dept_id, talk_s + wrap))
    return out


class WaitHistory:
    """The process's seed table, refreshed when the hour changes; a HistorySource for the queue."""

    def __init__(self, state: AppState) -> None:
        self.state = state
        self.table = SeedTable()
        self.hour: datetime | None = None

    def __call__(self, entry: WaitingEntry) -> Seed | None:
        return self.table(entry)

    async def refresh(self, now: datetime) -> None:
        """Re-read past calls once per hour of the day (cheap: one query per process per hour)."""
        hour = now.replace(minute=0, second=0, microsecond=0)
        if hour == self.hour:
            return
        self.table = SeedTable(await past_calls(self.state, now))
        self.hour = hour
        log.info("expected-wait history for %s: %d seeds", hour.isoformat(), len(self.table.seeds))
