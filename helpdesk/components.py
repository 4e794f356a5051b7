"""Wires the knowledge base and the remote inspection into the app: their routers, their per-process
set-up, and the hooks they call back into the journey."""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack
from typing import Any

import helpdesk_kb
from fastapi import FastAPI
from helpdesk_inspection import component as inspection
from helpdesk_inspection.models import Inspection, InspectionOutcome
from helpdesk_inspection.routes import make_router as inspection_router
from sqlalchemy import Select, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk import metrics
from helpdesk.access import can_view_work_order, visible_unit_ids
from helpdesk.deps import get_current_staff, get_optional_applicant, get_optional_staff, get_session
from helpdesk.journey.kb_bridge import send_to_call_hook, work_order_notes
from helpdesk.outage import log_failure
from helpdesk.state import AppState
from helpdesk.tasks import start_background
from helpdesk.workorders import service as wos
from helpdesk.workorders.models import WorkOrder

log = logging.getLogger(__name__)
RETENTION_SWEEP_S = 3600


def include_component_routes(app: FastAPI) -> None:
    app.include_router(helpdesk_kb.make_router(get_session, get_current_staff,
                                               on_send_to_call=send_to_call_hook(app),
                                               load_work_order_notes=work_order_notes))
    helpdesk_kb.install_error_handler(app)
    app.include_router(inspection_router(session_dep=get_session, maybe_staff=get_optional_staff,
                                         maybe_applicant=get_optional_applicant, staff_may_see=can_view_work_order,
                                         staff_units=visible_unit_ids))


async def wire_kb(state: AppState, stack: AsyncExitStack) -> None:
    kb = await helpdesk_kb.wire(state, stack)
    state.components["kb_guide"] = helpdesk_kb.guide_for_item
    search = kb.search

    async def timed_search(text: str, **kwargs: Any) -> Any:  # the KB stays free of the app's metrics
        with metrics.kb_query_timer():
            return await search(text, **kwargs)

    kb.search = timed_search


def inspection_first_pass() -> Select[str, Any]:
    """Per work order: 1 when its first (non-follow-up) inspection passed, else 0 — for the figures."""
    passed = case((Inspection.outcome == InspectionOutcome.passed, 1), else_=0)
    return (select(Inspection.work_order_id.label("work_order_id"), func.max(passed).label("first_pass"))
            .where(Inspection.follow_up_of.is_(None), Inspection.outcome.is_not(None))
            .group_by(Inspection.work_order_id))


async def wire_inspection(state: AppState, stack: AsyncExitStack) -> None:
    async def send_to_member(member: str, message: dict[str, Any]) -> None:
        await state.components["journey"].hub.send(member, message)

    component = await inspection.wire(state, stack, send_to_member=send_to_member)

    async def on_work_order_event(session: AsyncSession, work_order_id: str, kind: str, actor: str,
                                  data: dict[str, Any]) -> None:
        wo = await session.get(WorkOrder, work_order_id)
        if wo is not None:  # the timeline (and so the outbox: inspection.passed/failed webhooks)
            await wos.record_event(session, wo, kind, actor, state.clock.now(), **data)

    component.service.on_work_order_event = on_work_order_event
    metrics.RECORDINGS_RUNNING.set_function(lambda: len(component.live._peers))
    state.components["inspection_first_pass"] = inspection_first_pass
    start_background(stack, sweep_recordings(component), "inspection-retention")


async def sweep_recordings(component: Any) -> None:
    """Deletes recordings past the retention period once an hour (idempotent on every process)."""
    while True:
        try:
            deleted = await component.sweep_retention()
            if deleted:
                log.info("retention sweep deleted %d expired media files", deleted)
        except Exception as exc:  # the next hour tries again; the cause is logged
            log_failure(log, exc, "recording retention sweep failed")
        await asyncio.sleep(RETENTION_SWEEP_S)


async def wire_notifications(state: AppState, stack: AsyncExitStack) -> None:
    """Stored staff notifications are also pushed live to the staff member's console socket."""
    notifier = state.components.get("notifier")
    if notifier is None:
        return

    async def push(staff_id: int, payload: dict[str, Any]) -> None:
        message = {"type": "notification", "work_order": payload.get("work_order_id"),
                   "at": payload.get("created_at"), **payload}
        await state.components["journey"].hub.send(f"s:{staff_id}", message)

    notifier.on_notification = push
