"""Supervisor figures and lists: JSON for the console, CSV for spreadsheets. Scoped in SQL."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from helpdesk.access import staff_unit_path, work_order_scope
from helpdesk.accountability import repository as repo
from helpdesk.deps import ClockDep, CurrentStaff, SessionDep, SettingsDep, StateDep
from helpdesk.errors import BadRequest
from helpdesk.privacy.mask import phone_for
from helpdesk.stats import figures
from helpdesk.stats.csvout import csv_response, to_csv
from helpdesk.workorders.models import WorkOrder

router = APIRouter(tags=["stats"])
MAX_DAYS = 366


def date_range(start: date | None, end: date | None, today: date) -> tuple[date, date]:
    """Inclusive Beijing days; default: the last 7 days up to today."""
    last = end or today
    first = start or last - timedelta(days=6)
    if first > last:
        raise BadRequest("`from` is after `to`")
    if (last - first).days >= MAX_DAYS:
        raise BadRequest(f"at most {MAX_DAYS} days at once")
    return first, last


def beijing_today(now: datetime) -> date:
    return now.astimezone(figures.BEIJING).date()


async def _figures(
    state: Any,
    staff: Any,
    session: Any,
    settings: Any,
    clock: Any,
    group: figures.Group,
    start: date | None,
    end: date | None,
) -> tuple[list[figures.FigureRow], date, date]:
    first, last = date_range(start, end, beijing_today(clock.now()))
    lo, hi = figures.day_bounds(first, last)
    scope = work_order_scope(staff, await staff_unit_path(session, staff))
    source = state.components.get("inspection_first_pass")  # the inspection package's query, if wired
    rows = await figures.compute(
        session, scope, group, lo, hi, settings.service_level_threshold_s, source() if source else None
    )
    return rows, first, last


@router.get("/api/stats/figures")
async def get_figures(
    state: StateDep,
    staff: CurrentStaff,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    group: figures.Group = "day",
    start: date | None = Query(None, alias="from"),
    end: date | None = Query(None, alias="to"),
) -> dict[str, Any]:
    rows, first, last = await _figures(state, staff, session, settings, clock, group, start, end)
    return {
        "group": group,
        "from": first.isoformat(),
        "to": last.isoformat(),
        "service_level_threshold_s": settings.service_level_threshold_s,
        "rows": [r.as_dict() for r in rows],
    }


@router.get("/api/stats/figures.csv")
async def get_figures_csv(
    state: StateDep,
    staff: CurrentStaff,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    group: figures.Group = "day",
    start: date | None = Query(None, alias="from"),
    end: date | None = Query(None, alias="to"),
) -> Response:
    rows, first, last = await _figures(state, staff, session, settings, clock, group, start, end)
    text = to_csv(figures.COLUMNS, ([getattr(r, c) for c in figures.COLUMNS] for r in rows))
    return csv_response(text, f"figures-{group}-{first}-{last}.csv")


WORK_ORDER_COLUMNS = [
    "number",
    "status",
    "channel",
    "item_id",
    "unit_id",
    "handled_unit_id",
    "agent_id",
    "owner_id",
    "queued_at",
    "answered_at",
    "ended_at",
    "abandoned_at",
    "wait_s",
    "talk_s",
    "outcome",
    "rating",
    "flag",
    "due_at",
]


@router.get("/api/stats/workorders.csv")
async def work_orders_csv(
    staff: CurrentStaff,
    session: SessionDep,
    clock: ClockDep,
    start: date | None = Query(None, alias="from"),
    end: date | None = Query(None, alias="to"),
) -> Response:
    """One row per work order created in the range (the rows behind the figures), within scope."""
    first, last = date_range(start, end, beijing_today(clock.now()))
    lo, hi = figures.day_bounds(first, last)
    scope = work_order_scope(staff, await staff_unit_path(session, staff))

    def value(wo: WorkOrder, name: str) -> Any:
        v = getattr(wo, name)
        return v.isoformat() if isinstance(v, datetime) else (str(v) if v is not None else None)

    rows = await repo.work_orders_created(session, scope, lo, hi)
    text = to_csv(WORK_ORDER_COLUMNS, ([value(wo, c) for c in WORK_ORDER_COLUMNS] for wo in rows))
    return csv_response(text, f"workorders-{first}-{last}.csv")


@router.get("/api/stats/unresolved")
async def unresolved(
    staff: CurrentStaff, session: SessionDep, clock: ClockDep, limit: int = Query(200, ge=1, le=1000)
) -> list[dict[str, Any]]:
    """Open follow-ups (unresolved, awaiting call back), oldest first, with their flags."""
    now = clock.now()
    out = []
    for wo in await repo.open_followups(session, staff, limit):
        started = wo.followup_started_at or wo.ended_at or wo.created_at
        out.append(
            {
                "id": wo.id,
                "number": wo.number,
                "status": str(wo.status),
                "item_id": wo.item_id,
                "unit_id": wo.unit_id,
                "owner_id": wo.owner_id,
                "owner_unit_id": wo.owner_unit_id,
                "flag": wo.flag,
                "escalation_level": wo.escalation_level,
                "claimed": wo.claimed_at is not None,
                "started_at": started.isoformat(),
                "age_s": round((now - started).total_seconds()),
                "due_at": wo.due_at.isoformat() if wo.due_at else None,
                "overdue": bool(wo.due_at and now >= wo.due_at),
                "callback_phone": phone_for(staff, wo, wo.callback_phone),  # full only for its owner
            }
        )
    return out
