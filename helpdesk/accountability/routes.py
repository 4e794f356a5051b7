"""Follow-up actions on unresolved work orders, reassignment, the accountability report, the
deadline policies and the staff notifications. Queries live in repository.py; rules in service.py."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Query, UploadFile
from fastapi.responses import Response

from helpdesk.access import staff_unit_path, work_order_scope
from helpdesk.accountability import repository as repo
from helpdesk.accountability import service
from helpdesk.accountability.models import FollowupPolicy
from helpdesk.accountability.notify import Notify, null_notify, stage, view
from helpdesk.accountability.schemas import CallBackIn, NoteIn, PolicyIn, ReassignIn, ResolveIn
from helpdesk.accounts.models import Role, Staff
from helpdesk.deps import ClockDep, CurrentStaff, CurrentSupervisor, SessionDep, SettingsDep, StateDep
from helpdesk.errors import Forbidden, NotFound
from helpdesk.files import save_upload
from helpdesk.stats import figures
from helpdesk.stats.csvout import csv_response, to_csv
from helpdesk.stats.routes import beijing_today, date_range
from helpdesk.workorders import service as wos
from helpdesk.workorders.models import WorkOrder

router = APIRouter(tags=["accountability"])


def get_notify(state: StateDep) -> Notify:
    notifier: Notify | None = state.components.get("notifier")
    return notifier or null_notify


NotifyDep = Annotated[Notify, Depends(get_notify)]


def followup_view(wo: WorkOrder) -> dict[str, Any]:
    iso = service.iso
    return {
        "id": wo.id,
        "number": wo.number,
        "status": str(wo.status),
        "owner_id": wo.owner_id,
        "owner_unit_id": wo.owner_unit_id,
        "claimed_at": iso(wo.claimed_at),
        "flag": wo.flag,
        "escalation_level": wo.escalation_level,
        "followup_started_at": iso(wo.followup_started_at),
        "remind_at": iso(wo.remind_at),
        "red_at": iso(wo.red_at),
        "escalate_at": iso(wo.escalate_at),
        "due_at": iso(wo.due_at),
        "cycle": wo.followup_cycle,
    }


@router.post("/api/workorders/{work_order_id}/claim")
async def claim(
    work_order_id: str, staff: CurrentStaff, session: SessionDep, settings: SettingsDep, clock: ClockDep
) -> dict[str, Any]:
    wo = await repo.get_for_followup(session, staff, work_order_id)
    await service.claim(session, settings, wo, staff, clock.now())
    await session.commit()
    return followup_view(wo)


@router.post("/api/workorders/{work_order_id}/notes")
async def add_note(
    work_order_id: str,
    body: NoteIn,
    staff: CurrentStaff,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> dict[str, Any]:
    wo = await repo.get_for_followup(session, staff, work_order_id)
    await service.add_note(session, settings, wo, staff, body.text, clock.now())
    await session.commit()
    return followup_view(wo)


@router.post("/api/workorders/{work_order_id}/call-back")
async def call_back(
    work_order_id: str,
    body: CallBackIn,
    staff: CurrentStaff,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> dict[str, Any]:
    wo = await repo.get_for_followup(session, staff, work_order_id)
    await service.record_callback(session, settings, wo, staff, reached=body.reached, note=body.note, now=clock.now())
    await session.commit()
    return followup_view(wo)


@router.post("/api/workorders/{work_order_id}/attachments")
async def attach(
    work_order_id: str,
    staff: CurrentStaff,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    file: UploadFile = File(...),
) -> dict[str, Any]:
    wo = await repo.get_for_followup(session, staff, work_order_id)
    now = clock.now()
    await service.attached(session, settings, wo, staff, now)
    stored = await save_upload(
        file,
        settings.upload_dir,
        f"calls/{wo.id}",
        max_bytes=settings.upload_max_bytes,
        allowed_types=settings.upload_allowed_types,
    )
    row = await wos.add_file(
        session,
        wo,
        uploader_kind="staff",
        uploader_id=str(staff.id),
        filename=stored.filename,
        content_type=stored.content_type,
        size=stored.size,
        sha256=stored.sha256,
        storage_key=stored.storage_key,
        source="upload",
        created_at=now,
    )
    await session.commit()
    return {
        "id": row.id,
        "name": row.filename,
        "content_type": row.content_type,
        "size": row.size,
        "sha256": row.sha256,
        "url": f"/api/files/{row.id}",
    }


@router.post("/api/workorders/{work_order_id}/resolve")
async def resolve(
    work_order_id: str, body: ResolveIn, staff: CurrentStaff, session: SessionDep, clock: ClockDep
) -> dict[str, Any]:
    wo = await repo.get_for_followup(session, staff, work_order_id)
    await service.resolve(session, wo, staff, note=body.note, now=clock.now())
    await session.commit()
    return followup_view(wo)


@router.post("/api/workorders/{work_order_id}/reassign")
async def reassign(
    work_order_id: str,
    body: ReassignIn,
    staff: CurrentSupervisor,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    notify: NotifyDep,
) -> dict[str, Any]:
    """Only within the supervisor's subtree: the order and the new owner (agent or unit) alike."""
    wo = await repo.get_for_followup(session, staff, work_order_id)
    to_staff = None
    if body.staff_id is not None:
        to_staff = await repo.staff_in_scope(session, staff, body.staff_id)
        if to_staff is None:
            raise NotFound("no such staff member in your units")
    elif body.unit_id is None or not await repo.unit_in_scope(session, staff, body.unit_id):
        raise NotFound("no such unit in your subtree")
    event = await service.reassign(
        session,
        settings,
        wo,
        staff,
        to_staff=to_staff,
        to_unit_id=body.unit_id,
        reason=body.reason,
        now=clock.now(),
    )
    after = stage(notify, session, event)
    await session.commit()
    await after()
    return followup_view(wo)


# ---- the accountability report -------------------------------------------------------------------
async def _report(staff: Staff, session: Any, clock: Any, start: date | None, end: date | None) -> dict[str, Any]:
    first, last = date_range(start, end, beijing_today(clock.now()))
    lo, hi = figures.day_bounds(first, last)
    scope = work_order_scope(staff, await staff_unit_path(session, staff))
    rows = await repo.breach_rows(session, scope, lo, hi)
    names, units = await repo.names(
        session, (b.staff_id for b, _ in rows), [u for b, _ in rows for u in (b.unit_id, b.notified_unit_id)]
    )

    def summary(by: str, counts: Any) -> list[dict[str, Any]]:
        out: dict[Any, dict[str, Any]] = {}
        for key, reason, n in counts:
            label = (names if by == "agent" else units).get(key, "—") if key is not None else "—"
            entry = out.setdefault(key, {"id": key, "name": label, "total": 0, "reasons": {}})
            entry["reasons"][reason] = n
            entry["total"] += n
        return sorted(out.values(), key=lambda e: -e["total"])

    return {
        "from": first.isoformat(),
        "to": last.isoformat(),
        "by_agent": summary("agent", await repo.breach_counts(session, scope, lo, hi, "agent")),
        "by_unit": summary("unit", await repo.breach_counts(session, scope, lo, hi, "unit")),
        "breaches": [
            {
                "at": b.at.isoformat(),
                "work_order_id": wo.id,
                "number": wo.number,
                "reason": b.reason,
                "level": b.level,
                "cycle": b.cycle,
                "deadline": service.iso(b.deadline),
                "staff_id": b.staff_id,
                "staff_name": names.get(b.staff_id) if b.staff_id else None,
                "unit_id": b.unit_id,
                "unit_name": units.get(b.unit_id),
                "notified_unit_id": b.notified_unit_id,
                "resolved": str(wo.status) == "resolved",
            }
            for b, wo in rows
        ],
    }


@router.get("/api/followups/report")
async def report(
    staff: CurrentStaff,
    session: SessionDep,
    clock: ClockDep,
    start: date | None = Query(None, alias="from"),
    end: date | None = Query(None, alias="to"),
) -> dict[str, Any]:
    """Breaches per agent and unit with their reasons, and every breach, within the caller's scope."""
    return await _report(staff, session, clock, start, end)


REPORT_COLUMNS = [
    "at",
    "number",
    "reason",
    "level",
    "cycle",
    "deadline",
    "staff_id",
    "staff_name",
    "unit_id",
    "unit_name",
    "notified_unit_id",
    "resolved",
]


@router.get("/api/followups/report.csv")
async def report_csv(
    staff: CurrentStaff,
    session: SessionDep,
    clock: ClockDep,
    start: date | None = Query(None, alias="from"),
    end: date | None = Query(None, alias="to"),
) -> Response:
    data = await _report(staff, session, clock, start, end)
    text = to_csv(REPORT_COLUMNS, ([b[c] for c in REPORT_COLUMNS] for b in data["breaches"]))
    return csv_response(text, f"breaches-{data['from']}-{data['to']}.csv")


# ---- policies ------------------------------------------------------------------------------------
def policy_view(p: FollowupPolicy) -> dict[str, Any]:
    return {
        "id": p.id,
        "item_id": p.item_id,
        "unit_id": p.unit_id,
        "t1_s": p.t1_s,
        "t2_s": p.t2_s,
        "t3_s": p.t3_s,
        "resolve_s": p.resolve_s,
        "note": p.note,
        "updated_by": p.updated_by,
        "updated_at": p.updated_at.isoformat(),
    }


async def _may_edit(session: Any, staff: Staff, unit_id: int | None) -> None:
    if staff.role == Role.admin:
        return
    if unit_id is None:
        raise Forbidden("only an administrator sets policies for every unit")
    if not await repo.unit_in_scope(session, staff, unit_id):
        raise NotFound("no such unit in your subtree")


@router.get("/api/followups/policies")
async def list_policies(staff: CurrentSupervisor, session: SessionDep, settings: SettingsDep) -> dict[str, Any]:
    rows = await repo.list_policies(session, staff)
    return {
        "defaults": {
            "t1_s": settings.followup_t1_s,
            "t2_s": settings.followup_t2_s,
            "t3_s": settings.followup_t3_s,
            "resolve_s": settings.followup_resolve_s,
        },
        "policies": [policy_view(p) for p in rows],
    }


@router.put("/api/followups/policies")
async def put_policy(body: PolicyIn, staff: CurrentSupervisor, session: SessionDep, clock: ClockDep) -> dict[str, Any]:
    """Creates or replaces the policy of (item, unit); applies to orders opened from now on."""
    await _may_edit(session, staff, body.unit_id)
    policy = await repo.get_policy(session, body.item_id, body.unit_id)
    if policy is None:
        policy = FollowupPolicy(item_id=body.item_id, unit_id=body.unit_id, updated_at=clock.now())
        session.add(policy)
    for name in ("t1_s", "t2_s", "t3_s", "resolve_s", "note"):
        setattr(policy, name, getattr(body, name))
    policy.updated_by, policy.updated_at = staff.id, clock.now()
    await session.commit()
    return policy_view(policy)


@router.delete("/api/followups/policies/{policy_id}")
async def delete_policy(policy_id: int, staff: CurrentSupervisor, session: SessionDep) -> dict[str, Any]:
    policy = await session.get(FollowupPolicy, policy_id)
    if policy is None:
        raise NotFound("policy not found")
    await _may_edit(session, staff, policy.unit_id)
    await session.delete(policy)
    await session.commit()
    return {"deleted": policy_id}


# ---- notifications -------------------------------------------------------------------------------
@router.get("/api/notifications")
async def list_notifications(
    staff: CurrentStaff, session: SessionDep, unread: bool = False, limit: int = Query(50, ge=1, le=500)
) -> dict[str, Any]:
    rows = await repo.notifications(session, staff.id, unread=unread, limit=limit)
    return {"items": [view(r) for r in rows], "has_unread": await repo.has_unread(session, staff.id)}


async def _mark(session: Any, staff: Staff, now: datetime, notification_id: int | None) -> int:
    marked = await repo.mark_read(session, staff.id, now, notification_id)
    await session.commit()
    return marked


@router.post("/api/notifications/{notification_id}/read")
async def mark_read(notification_id: int, staff: CurrentStaff, session: SessionDep, clock: ClockDep) -> dict[str, Any]:
    return {"marked": await _mark(session, staff, clock.now(), notification_id)}


@router.post("/api/notifications/read-all")
async def mark_all_read(staff: CurrentStaff, session: SessionDep, clock: ClockDep) -> dict[str, Any]:
    return {"marked": await _mark(session, staff, clock.now(), None)}
