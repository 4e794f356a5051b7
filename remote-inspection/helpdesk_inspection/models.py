"""Tables of remote inspection (prefix insp_): checklist versions, inspections, marks, evidence, reports."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Enum,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from helpdesk.db import Base, new_id


class InspectionStatus(enum.StrEnum):
    awaiting_consent = "awaiting_consent"
    refused = "refused"
    active = "active"
    ended = "ended"
    cancelled = "cancelled"


LIVE_STATUSES = (InspectionStatus.awaiting_consent, InspectionStatus.active)


class MarkResult(enum.StrEnum):
    passed = "pass"
    failed = "fail"
    rectify = "rectify"


class InspectionOutcome(enum.StrEnum):
    passed = "pass"
    rectify = "rectify"
    failed = "fail"


class Checklist(Base):
    """One version of an item's checklist; editing adds a version, inspections keep theirs."""

    __tablename__ = "insp_checklists"
    __table_args__ = (UniqueConstraint("item_id", "version", name="uq_insp_checklists_item_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("service_items.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    is_current: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    title: Mapped[str] = mapped_column(String(200))
    # [{key, title, guidance, compliance}] in order; keys stay stable across versions.
    points: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    change_note: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime]


class Inspection(Base):
    __tablename__ = "insp_inspections"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    work_order_id: Mapped[str] = mapped_column(ForeignKey("work_orders.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("service_items.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    applicant_id: Mapped[str] = mapped_column(String(32), index=True)
    checklist_id: Mapped[int] = mapped_column(ForeignKey("insp_checklists.id"))
    follow_up_of: Mapped[str | None] = mapped_column(ForeignKey("insp_inspections.id"), index=True)
    room: Mapped[str | None] = mapped_column(String(64))
    point_keys: Mapped[list[str]] = mapped_column(JSON)  # what this inspection checks, in order
    # = work_order_id while the inspection is live, else NULL: the unique index allows one live
    # inspection per call even across server processes.
    live_key: Mapped[str | None] = mapped_column(String(32), unique=True)
    status: Mapped[InspectionStatus] = mapped_column(Enum(InspectionStatus, native_enum=False, length=24), index=True)
    current_index: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    consent_at: Mapped[datetime | None]
    refused_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None] = mapped_column(index=True)
    duration_s: Mapped[float | None] = mapped_column(Float)
    outcome: Mapped[InspectionOutcome | None] = mapped_column(Enum(InspectionOutcome, native_enum=False, length=16))
    outcome_note: Mapped[str] = mapped_column(Text, default="")
    rectify_points: Mapped[list[str]] = mapped_column(JSON, default=list)
    rectify_deadline: Mapped[datetime | None]
    location: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Recording segments [{key, sha256, bytes, duration_s, frames, width, height, error}]; one per
    # server-side peer (a reconnect after a failed connection starts a new segment).
    recordings: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    media_deleted_at: Mapped[datetime | None]


class PointMark(Base):
    """The agent's verdict on one point of one inspection (re-marking overwrites, the time moves)."""

    __tablename__ = "insp_marks"
    __table_args__ = (UniqueConstraint("inspection_id", "point_key", name="uq_insp_marks_inspection_point"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[str] = mapped_column(ForeignKey("insp_inspections.id", ondelete="CASCADE"), index=True)
    point_key: Mapped[str] = mapped_column(String(64))
    result: Mapped[MarkResult] = mapped_column(Enum(MarkResult, native_enum=False, length=16))
    note: Mapped[str] = mapped_column(Text, default="")
    marked_by: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    marked_at: Mapped[datetime]


class EvidenceSnapshot(Base):
    __tablename__ = "insp_snapshots"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    inspection_id: Mapped[str] = mapped_column(ForeignKey("insp_inspections.id", ondelete="CASCADE"), index=True)
    point_key: Mapped[str] = mapped_column(String(64))
    taken_at: Mapped[datetime]
    taken_by: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    sha256: Mapped[str] = mapped_column(String(64))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)
    storage_key: Mapped[str] = mapped_column(String(255))
    deleted_at: Mapped[datetime | None]
    # Marks shown over the camera when the still was taken (normalised to the frame): kept beside the
    # untouched image, whose bytes and hash they never change.
    annotations: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)


class InspectionReport(Base):
    """The report attached to the work order: HTML and PDF on disk, with their hashes."""

    __tablename__ = "insp_reports"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    inspection_id: Mapped[str] = mapped_column(ForeignKey("insp_inspections.id"), unique=True)
    work_order_id: Mapped[str] = mapped_column(ForeignKey("work_orders.id"), index=True)
    html_key: Mapped[str] = mapped_column(String(255))
    pdf_key: Mapped[str] = mapped_column(String(255))
    html_sha256: Mapped[str] = mapped_column(String(64))
    pdf_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


class RetentionLog(Base):
    """What the retention sweep deleted, and when (the rows stay; the media go)."""

    __tablename__ = "insp_retention_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    inspection_id: Mapped[str] = mapped_column(ForeignKey("insp_inspections.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # recording | snapshot
    storage_key: Mapped[str] = mapped_column(String(255))
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    sha256: Mapped[str | None] = mapped_column(String(64))
