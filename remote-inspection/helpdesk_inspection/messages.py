"""Server → client messages of an inspection (documented in docs/inspection.md)."""

from __future__ import annotations

from typing import Any

from helpdesk_inspection.models import Checklist, EvidenceSnapshot, Inspection, PointMark


def points_of(insp: Inspection, checklist: Checklist) -> list[dict[str, Any]]:
    """The points this inspection checks (all, or only those to rectify on a follow-up), in order."""
    by_key = {p["key"]: p for p in checklist.points}
    return [by_key[k] for k in insp.point_keys if k in by_key]


def mark_dict(mark: PointMark) -> dict[str, Any]:
    return {"result": mark.result.value, "note": mark.note, "at": mark.marked_at.isoformat()}


def started_message(insp: Inspection, checklist: Checklist) -> dict[str, Any]:
    points = points_of(insp, checklist)
    return {
        "type": "inspection.started",
        "checklist": {"id": checklist.id, "version": checklist.version, "title": checklist.title},
        "points": points,
        "index": insp.current_index,
        "point": points[insp.current_index] if points else None,
        "follow_up_of": insp.follow_up_of,
        "camera": "environment",
    }


def point_message(insp: Inspection, checklist: Checklist, marks: dict[str, PointMark]) -> dict[str, Any]:
    points = points_of(insp, checklist)
    point = points[insp.current_index]
    return {
        "type": "inspection.point",
        "index": insp.current_index,
        "total": len(points),
        "point": point,
        "marks": {k: mark_dict(m) for k, m in marks.items()},
    }


def snapshot_dict(row: EvidenceSnapshot) -> dict[str, Any]:
    return {
        "id": row.id,
        "point": row.point_key,
        "taken_at": row.taken_at.isoformat(),
        "sha256": row.sha256,
        "width": row.width,
        "height": row.height,
        "url": f"/api/inspections/{row.inspection_id}/snapshots/{row.id}",
        "marks": row.annotations or [],
    }


def inspection_dict(
    insp: Inspection, checklist: Checklist | None = None, marks: dict[str, PointMark] | None = None
) -> dict[str, Any]:
    def iso(value: Any) -> str | None:
        return value.isoformat() if value is not None else None

    out: dict[str, Any] = {
        "id": insp.id,
        "work_order": insp.work_order_id,
        "item_id": insp.item_id,
        "room": insp.room,
        "status": insp.status.value,
        "checklist_id": insp.checklist_id,
        "follow_up_of": insp.follow_up_of,
        "point_keys": insp.point_keys,
        "index": insp.current_index,
        "outcome": insp.outcome.value if insp.outcome else None,
        "outcome_note": insp.outcome_note,
        "rectify_points": insp.rectify_points,
        "rectify_deadline": iso(insp.rectify_deadline),
        "created_at": iso(insp.created_at),
        "started_at": iso(insp.started_at),
        "ended_at": iso(insp.ended_at),
        "duration_s": insp.duration_s,
        "location": insp.location,
        "recordings": insp.recordings,
        "media_deleted_at": iso(insp.media_deleted_at),
    }
    if checklist is not None:
        out["points"] = points_of(insp, checklist)
        out["checklist"] = {"id": checklist.id, "version": checklist.version, "title": checklist.title}
    if marks is not None:
        out["marks"] = {k: mark_dict(m) for k, m in marks.items()}
    return out
