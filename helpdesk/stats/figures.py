"""Figures per day, agent, unit or item, in one GROUP BY within the caller's access scope.

Over the calls queued (video/audio work orders, by queued_at) in [start, end):
- offered: calls queued; answered: taken by an agent; abandoned: the applicant left the queue;
- service_level: answered within the threshold (settings.service_level_threshold_s) / offered;
- asa_s: average wait of answered calls; aht_s: average talk time of answered, ended calls;
- first_contact_resolution: outcome "resolved" / answered; resolution_rate: resolved in the call or
  later (follow-up) / answered; rating: average of the applicants' ratings (rated: how many);
- inspections, inspection_first_pass_rate: from an optional query the inspection package gives
  (columns work_order_id, first_pass 0/1), joined in SQL.
Days are Beijing days (UTC+8, no daylight saving); agent is who answered; unit is the unit that
handled the call (the queue's unit when nobody answered).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, and_, case, func, literal_column, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk.accounts.models import Staff
from helpdesk.integration.models import ServicePackage
from helpdesk.org.models import OrgUnit, ServiceItem
from helpdesk.workorders.models import Channel, Outcome, WorkOrder, WorkOrderStatus

Group = Literal["day", "agent", "unit", "item", "package"]
GROUPS: tuple[Group, ...] = ("day", "agent", "unit", "item", "package")
BEIJING = timezone(timedelta(hours=8))


@dataclass
class FigureRow:
    key: str | int | None
    label: str
    offered: int
    answered: int
    abandoned: int
    answered_within: int
    service_level: float | None
    asa_s: float | None
    aht_s: float | None
    resolved_in_call: int
    resolved: int
    first_contact_resolution: float | None
    resolution_rate: float | None
    rated: int
    rating: float | None
    inspections: int
    inspection_first_pass_rate: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


COLUMNS = list(FigureRow.__dataclass_fields__)


def day_bounds(first: date, last: date) -> tuple[datetime, datetime]:
    """Beijing days first..last (inclusive) as a UTC [start, end)."""
    start = datetime.combine(first, time.min, tzinfo=BEIJING).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=BEIJING).astimezone(UTC)
    return start, end


def beijing_day(column: Any, dialect: str) -> ColumnElement[str]:
    """'YYYY-MM-DD' of a stored UTC time in Beijing, in the database's own dialect."""
    if dialect == "sqlite":
        return func.strftime("%Y-%m-%d", column, "+8 hours")
    return func.to_char(column + literal_column("interval '8 hours'"), "YYYY-MM-DD")


def group_key(group: Group, dialect: str) -> Any:
    if group == "day":
        return beijing_day(WorkOrder.queued_at, dialect)
    if group == "agent":
        return WorkOrder.agent_id
    if group == "unit":
        return func.coalesce(WorkOrder.handled_unit_id, WorkOrder.unit_id)
    if group == "package":  # 一件事一次办: requests made for a package (others: no package, key null)
        return WorkOrder.package_id
    return WorkOrder.item_id


def _ratio(n: int, d: int) -> float | None:
    return round(n / d, 4) if d else None


def _round(v: Any) -> float | None:
    return None if v is None else round(float(v), 2)


def figures_query(
    scope: ColumnElement[bool],
    group: Group,
    dialect: str,
    start: datetime,
    end: datetime,
    threshold_s: float,
    inspection: Select[Any] | None = None,
) -> Select[Any]:
    key = group_key(group, dialect).label("key")
    answered = WorkOrder.answered_at.is_not(None)
    resolved_now = WorkOrder.outcome == Outcome.resolved
    resolved_any = or_(resolved_now, and_(answered, WorkOrder.status == WorkOrderStatus.resolved))
    cols: list[Any] = [
        key,
        func.count(WorkOrder.id).label("offered"),
        func.count(WorkOrder.answered_at).label("answered"),
        func.count(WorkOrder.abandoned_at).label("abandoned"),
        func.sum(case((and_(answered, WorkOrder.wait_s <= threshold_s), 1), else_=0)).label("answered_within"),
        func.avg(case((answered, WorkOrder.wait_s))).label("asa_s"),
        func.avg(case((and_(answered, WorkOrder.ended_at.is_not(None)), WorkOrder.talk_s))).label("aht_s"),
        func.sum(case((and_(answered, resolved_now), 1), else_=0)).label("resolved_in_call"),
        func.sum(case((and_(answered, resolved_any), 1), else_=0)).label("resolved"),
        func.count(WorkOrder.rating).label("rated"),
        func.avg(WorkOrder.rating).label("rating"),
    ]
    if inspection is not None:
        insp = inspection.subquery("insp")
        cols += [
            func.count(insp.c.work_order_id).label("inspections"),
            func.sum(insp.c.first_pass).label("first_passed"),
        ]
        stmt = select(*cols).select_from(WorkOrder).outerjoin(insp, insp.c.work_order_id == WorkOrder.id)
    else:
        stmt = select(*cols).select_from(WorkOrder)
    return (
        stmt.where(
            scope,
            WorkOrder.channel != Channel.callback,
            WorkOrder.queued_at >= start,
            WorkOrder.queued_at < end,
        )
        .group_by(key)
        .order_by(key)
    )


async def _labels(session: AsyncSession, group: Group, keys: Sequence[Any]) -> dict[Any, str]:
    ids = [k for k in keys if k is not None]
    if group == "day" or not ids:
        return {k: str(k) for k in keys}
    model, name = {
        "agent": (Staff, Staff.display_name),
        "unit": (OrgUnit, OrgUnit.name),
        "item": (ServiceItem, ServiceItem.name),
        "package": (ServicePackage, ServicePackage.name),
    }[group]
    rows = await session.execute(select(model.id, name).where(model.id.in_(ids)))  # type: ignore[attr-defined]
    return {i: n for i, n in rows.all()}


async def compute(
    session: AsyncSession,
    scope: ColumnElement[bool],
    group: Group,
    start: datetime,
    end: datetime,
    threshold_s: float,
    inspection: Select[Any] | None = None,
) -> list[FigureRow]:
    dialect = session.get_bind().dialect.name
    stmt = figures_query(scope, group, dialect, start, end, threshold_s, inspection)
    rows = (await session.execute(stmt)).mappings().all()
    labels = await _labels(session, group, [r["key"] for r in rows])
    out = []
    for r in rows:
        offered, answered = int(r["offered"]), int(r["answered"])
        within, fcr, res = (
            int(r["answered_within"] or 0),
            int(r["resolved_in_call"] or 0),
            int(r["resolved"] or 0),
        )
        inspections = int(r.get("inspections") or 0)
        out.append(
            FigureRow(
                key=r["key"],
                label=labels.get(r["key"], "—" if r["key"] is None else str(r["key"])),
                offered=offered,
                answered=answered,
                abandoned=int(r["abandoned"]),
                answered_within=within,
                service_level=_ratio(within, offered),
                asa_s=_round(r["asa_s"]),
                aht_s=_round(r["aht_s"]),
                resolved_in_call=fcr,
                resolved=res,
                first_contact_resolution=_ratio(fcr, answered),
                resolution_rate=_ratio(res, answered),
                rated=int(r["rated"]),
                rating=_round(r["rating"]),
                inspections=inspections,
                inspection_first_pass_rate=_ratio(int(r.get("first_passed") or 0), inspections),
            )
        )
    return out
