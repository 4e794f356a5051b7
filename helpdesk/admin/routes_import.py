"""HTTP routes of bulk import/export: upload → dry-run preview → apply (with progress) → export.

Progress: the page names a job id; while the import runs, its phase and row counts are kept under
that id (in Redis when the processes share one, so any process can answer the page's polling)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from typing import Any

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import Response

from helpdesk.admin import exporting, importing, sheets
from helpdesk.admin.live import announce
from helpdesk.admin.scope import AdminScopeDep
from helpdesk.deps import ClockDep, SessionDep, SettingsDep, StateDep
from helpdesk.errors import BadRequest, NotFound
from helpdesk.state import AppState

router = APIRouter(prefix="/api/admin", tags=["admin"])
JOB_RE = re.compile(r"^[A-Za-z0-9-]{8,64}$")
JOB_TTL_S = 3600
TOPIC = {"items": "items", "units": "units", "staff": "staff"}
MEDIA = {"csv": "text/csv; charset=utf-8",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def _jobs(state: AppState) -> dict[str, dict[str, Any]]:
    jobs: dict[str, dict[str, Any]] = state.components.setdefault("admin_import_jobs", {})
    return jobs


async def _publish(state: AppState, job: str, value: dict[str, Any]) -> None:
    if state.redis is not None:
        await state.redis.set(f"{state.settings.redis_prefix}admin:import:{job}", json.dumps(value), ex=JOB_TTL_S)


@router.post("/imports/{kind}")
async def import_file(kind: str, request: Request, scope: AdminScopeDep, session: SessionDep, clock: ClockDep,
                      settings: SettingsDep, state: StateDep, file: UploadFile = File(...),
                      dry_run: bool = Query(True), job: str | None = Query(None)) -> dict[str, Any]:
    """Dry run (default) answers every row's problem and what would change; `dry_run=false` applies
    the whole file in one transaction, or nothing when any row has a problem."""
    if kind not in sheets.KINDS:
        raise NotFound(f"unknown import kind {kind!r}")
    if job is not None and not JOB_RE.match(job):
        raise BadRequest("job: 8-64 letters, digits or '-'")
    data = await file.read()
    progress_state: dict[str, Any] = {"phase": "reading", "done": 0, "total": 0, "finished": False}
    if job:
        _jobs(state)[job] = progress_state

    def progress(phase: str, done: int, total: int) -> None:
        progress_state.update(phase=phase, done=done, total=total)

    async def mirror() -> None:  # the shared copy, for polls that reach another process
        while True:
            await _publish(state, job or "", progress_state)
            await asyncio.sleep(0.5)

    pusher = asyncio.create_task(mirror()) if job and state.redis is not None else None
    try:
        plan = await importing.run(session, scope, kind, data, file.filename or f"{kind}.csv", dry_run=dry_run,
                                   now=clock.now(), max_rows=settings.import_max_rows, progress=progress)
        if plan.applied:
            await session.commit()
            await announce(state, TOPIC[kind])
    finally:
        if pusher is not None:
            pusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pusher
        progress_state["finished"] = True
        if job:
            await _publish(state, job, progress_state)
    return plan.summary()


@router.get("/imports/progress/{job}")
async def import_progress(job: str, scope: AdminScopeDep, state: StateDep) -> dict[str, Any]:
    if not JOB_RE.match(job):
        raise BadRequest("job: 8-64 letters, digits or '-'")
    found = _jobs(state).get(job)
    if found is None and state.redis is not None:
        raw = await state.redis.get(f"{state.settings.redis_prefix}admin:import:{job}")
        found = json.loads(raw) if raw else None
    if found is None:
        return {"phase": "waiting", "done": 0, "total": 0, "finished": False}
    return dict(found)


@router.get("/exports/{kind}.{fmt}")
async def export_file(kind: str, fmt: str, scope: AdminScopeDep, session: SessionDep) -> Response:
    """The caller's items, units or staff in the import's columns."""
    if kind not in sheets.KINDS or fmt not in MEDIA:
        raise NotFound(f"no export {kind}.{fmt} (items|units|staff . csv|xlsx)")
    data = sheets.write(kind, await exporting.rows(session, scope, kind), fmt)
    return Response(data, media_type=MEDIA[fmt],
                    headers={"Content-Disposition": f'attachment; filename="{kind}.{fmt}"'})
