"""Work orders (视频工单): one per request for help, with its timeline, chat and files."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Enum, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from helpdesk.db import Base, new_id


class WorkOrderStatus(enum.StrEnum):
    queued = "queued"
    offered = "offered"
    in_call = "in_call"
    wrap_up = "wrap_up"
    resolved = "resolved"
    unresolved = "unresolved"
    transferred = "transferred"
    callback_pending = "callback_pending"
    abandoned = "abandoned"
    closed = "closed"


class Outcome(enum.StrEnum):
    resolved = "resolved"
    unresolved = "unresolved"
    follow_up = "follow_up"
    transferred = "transferred"
    callback = "callback"


class Channel(enum.StrEnum):
    video = "video"
    audio = "audio"
    callback = "callback"


class WorkOrder(Base):
    __tablename__ = "work_orders"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    applicant_id: Mapped[str] = mapped_column(ForeignKey("applicants.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("service_items.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    handled_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"), index=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    status: Mapped[WorkOrderStatus] = mapped_column(
        Enum(WorkOrderStatus, native_enum=False, length=24), index=True
    )
    channel: Mapped[Channel] = mapped_column(Enum(Channel, native_enum=False, length=16))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    handoff: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # 一件事一次办: the package this request is for (its items are listed in handoff["package"]).
    package_id: Mapped[int | None] = mapped_column(ForeignKey("service_packages.id"), index=True)
    queued_at: Mapped[datetime | None] = mapped_column(index=True)
    offered_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    abandoned_at: Mapped[datetime | None]
    wait_s: Mapped[float | None] = mapped_column(Float)
    talk_s: Mapped[float | None] = mapped_column(Float)
    outcome: Mapped[Outcome | None] = mapped_column(Enum(Outcome, native_enum=False, length=16))
    notes: Mapped[str] = mapped_column(Text, default="")
    rating: Mapped[int | None] = mapped_column(Integer)
    rating_comment: Mapped[str | None] = mapped_column(Text)
    fallback_level: Mapped[int] = mapped_column(Integer, default=0)
    offers_declined: Mapped[int] = mapped_column(Integer, default=0)
    ended_reason: Mapped[str | None] = mapped_column(String(64))
    callback_phone: Mapped[str | None] = mapped_column(String(32))
    callback_at: Mapped[str | None] = mapped_column(String(64))
    # A transfer continues the inquiry on a new work order; the chain links them.
    transferred_from_id: Mapped[str | None] = mapped_column(ForeignKey("work_orders.id"), index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    due_at: Mapped[datetime | None] = mapped_column(index=True)
    # Follow-up of unresolved and callback work orders (helpdesk.accountability): the owner unit,
    # when the clock started, the stored step times the sweep acts on, and how far it has gone.
    owner_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"), index=True)
    followup_started_at: Mapped[datetime | None]
    claimed_at: Mapped[datetime | None]
    remind_at: Mapped[datetime | None] = mapped_column(index=True)
    red_at: Mapped[datetime | None] = mapped_column(index=True)
    escalate_at: Mapped[datetime | None] = mapped_column(index=True)
    overdue_at: Mapped[datetime | None]
    flag: Mapped[str] = mapped_column(String(16), default="none", server_default="none", index=True)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    followup_cycle: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class WorkOrderEvent(Base):
    """Append-only timeline of a work order: every status change and action, with who and from where.

    Tamper-evident: the events of one work order form a hash chain (seq 1, 2, ...; each `hash` is
    SHA-256 over the entry and the previous hash); see helpdesk.accountability.audit."""

    __tablename__ = "work_order_events"
    __table_args__ = (UniqueConstraint("work_order_id", "seq", name="uq_work_order_events_work_order_seq"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    work_order_id: Mapped[str] = mapped_column(ForeignKey("work_orders.id"), index=True)
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(48))
    actor: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    seq: Mapped[int] = mapped_column(Integer, server_default="0")
    ip: Mapped[str | None] = mapped_column(String(64))
    origin: Mapped[str | None] = mapped_column(String(128))  # "host pid=… req=…": which process wrote it
    prev_hash: Mapped[str] = mapped_column(String(64), server_default="")
    hash: Mapped[str] = mapped_column(String(64), server_default="")


class ChatMessage(Base):
    __tablename__ = "chat_messages"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    work_order_id: Mapped[str] = mapped_column(ForeignKey("work_orders.id"), index=True)
    at: Mapped[datetime]
    sender_kind: Mapped[str] = mapped_column(String(16))  # applicant | staff | system
    sender_id: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)


class FileAttachment(Base):
    __tablename__ = "file_attachments"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    work_order_id: Mapped[str | None] = mapped_column(ForeignKey("work_orders.id"), index=True)
    uploader_kind: Mapped[str] = mapped_column(String(16))
    uploader_id: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(128))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(32), default="upload")  # upload | kb | inspection | report
    created_at: Mapped[datetime]
    deleted_at: Mapped[datetime | None]  # bytes removed by the retention sweep or an erasure
