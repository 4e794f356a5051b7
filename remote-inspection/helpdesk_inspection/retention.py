"""Retention of inspection media, and the figures (first-pass rate, duration per item and unit)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import Float, case, cast, column, func, select, table
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_inspection.models import (
    EvidenceSnapshot,
    Inspection,
    InspectionOutcome,
    InspectionStatus,
    RetentionLog,
)

BATCH = 200


class SweepResult(NamedTuple):
    inspections: int
    files: int


org_units = table("org_units", column("id"), column("name"))
service_items = table("service_items", column("id"), column("name"))


async def sweep(
    session: AsyncSession, *, root: Path, retention_days: int, now: datetime, batch: int = BATCH
) -> SweepResult:
    """Deletes recordings and snapshots of inspections that ended more than ``retention_days``
    ago, logs each deleted file and stamps the inspection; idempotent (done rows are skipped).
    Reports stay: they are the record of the decision. Handles at most ``batch`` inspections."""
    cutoff = now - timedelta(days=retention_days)
    stmt = (
        select(Inspection)
        .where(
            Inspection.ended_at.is_not(None),
            Inspection.ended_at < cutoff,
            Inspection.media_deleted_at.is_(None),
        )
        .order_by(Inspection.ended_at)
        .limit(batch)
    )
    deleted = swept = 0
    for insp in (await session.execute(stmt)).scalars():
        for rec in insp.recordings:
            deleted += _delete(session, root, insp.id, "recording", rec["key"], rec.get("sha256"), now)
        shots = await session.execute(
            select(EvidenceSnapshot).where(
                EvidenceSnapshot.inspection_id == insp.id, EvidenceSnapshot.deleted_at.is_(None)
            )
        )
        for shot in shots.scalars():
            deleted += _delete(session, root, insp.id, "snapshot", shot.storage_key, shot.sha256, now)
            shot.deleted_at = now
        insp.media_deleted_at = now
        swept += 1
    await session.flush()
    return SweepResult(swept, deleted)


def _delete(
    session: AsyncSession,
    root: Path,
    inspection_id: str,
    kind: str,
    key: str,
    sha256: str | None,
    now: datetime,
) -> int:
    path = (root / key).resolve()
    if not path.is_relative_to(root.resolve()):
        raise ValueError(f"storage key outside the media root: {key!r}")
    size = path.stat().st_size if path.exists() else 0
    path.unlink(missing_ok=True)
    session.add(
        RetentionLog(at=now, inspection_id=inspection_id, kind=kind, storage_key=key, bytes=size, sha256=sha256)
    )
    return 1 if size else 0


async def figures(
    session: AsyncSession,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    unit_ids: list[int] | None = None,
) -> list[dict[str, Any]]:
    """Per item and unit: ended first inspections, how many passed first time, the first-pass rate,
    and the mean / max duration (consent to end) of every ended inspection, follow-ups included."""
    first = Inspection.follow_up_of.is_(None)
    passed = Inspection.outcome == InspectionOutcome.passed
    stmt = (
        select(
            Inspection.item_id,
            service_items.c.name.label("item"),
            Inspection.unit_id,
            org_units.c.name.label("unit"),
            func.count().label("inspections"),
            func.sum(case((first, 1), else_=0)).label("first"),
            func.sum(case((first & passed, 1), else_=0)).label("first_passed"),
            func.sum(case((~first, 1), else_=0)).label("follow_ups"),
            func.avg(cast(Inspection.duration_s, Float)).label("mean_s"),
            func.max(Inspection.duration_s).label("max_s"),
        )
        .join(service_items, service_items.c.id == Inspection.item_id)
        .join(org_units, org_units.c.id == Inspection.unit_id)
        .where(Inspection.status == InspectionStatus.ended)
        .group_by(Inspection.item_id, service_items.c.name, Inspection.unit_id, org_units.c.name)
        .order_by(Inspection.item_id, Inspection.unit_id)
    )
    if since is not None:
        stmt = stmt.where(Inspection.ended_at >= since)
    if until is not None:
        stmt = stmt.where(Inspection.ended_at < until)
    if unit_ids is not None:
        stmt = stmt.where(Inspection.unit_id.in_(unit_ids))
    rows = []
    for r in (await session.execute(stmt)).mappings():
        first_n = int(r["first"] or 0)
        rows.append(
            {
                "item_id": r["item_id"],
                "item": r["item"],
                "unit_id": r["unit_id"],
                "unit": r["unit"],
                "inspections": int(r["inspections"]),
                "first_inspections": first_n,
                "first_passed": int(r["first_passed"] or 0),
                "follow_ups": int(r["follow_ups"] or 0),
                "first_pass_rate": round(int(r["first_passed"] or 0) / first_n, 4) if first_n else None,
                "mean_duration_s": round(float(r["mean_s"]), 1) if r["mean_s"] is not None else None,
                "max_duration_s": r["max_s"],
            }
        )
    return rows
