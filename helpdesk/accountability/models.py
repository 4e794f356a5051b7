"""Follow-up policies, breaches, staff notifications and webhook deliveries."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from helpdesk.db import Base


class FollowupFlag(enum.StrEnum):
    none = "none"
    reminded = "reminded"  # T1 passed without anyone acting: the owner was reminded
    red = "red"  # T2 passed unclaimed, or the resolution deadline passed: the unit's supervisor knows
    escalated = "escalated"  # T3 (and each T3 after): the supervisor of a unit further up knows


class BreachReason(enum.StrEnum):
    unclaimed = "unclaimed"  # nobody acted within T2 (red) or T3 (escalations)
    overdue = "overdue"  # not resolved by the resolution deadline


class FollowupPolicy(Base):
    """Deadlines for unresolved work orders of an item and/or a unit (and the unit's subtree), in
    business seconds. A null field falls through to the next less specific policy, then settings."""

    __tablename__ = "followup_policies"
    __table_args__ = (UniqueConstraint("item_id", "unit_id", name="uq_followup_policies_item_unit"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("service_items.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id", ondelete="CASCADE"), index=True)
    t1_s: Mapped[int | None] = mapped_column(Integer)
    t2_s: Mapped[int | None] = mapped_column(Integer)
    t3_s: Mapped[int | None] = mapped_column(Integer)
    resolve_s: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(Text, default="")
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    updated_at: Mapped[datetime]


class Breach(Base):
    """One missed deadline: who answered for it (owner agent and unit at the time) and why. The
    unique key makes each step happen once even when two sweepers race."""

    __tablename__ = "followup_breaches"
    __table_args__ = (UniqueConstraint("work_order_id", "cycle", "reason", "level", name="uq_followup_breaches_step"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    work_order_id: Mapped[str] = mapped_column(ForeignKey("work_orders.id"), index=True)
    cycle: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str] = mapped_column(String(16))  # a BreachReason
    level: Mapped[int] = mapped_column(Integer, default=0)  # 0: the owner unit; n: n units up the tree
    at: Mapped[datetime] = mapped_column(index=True)
    deadline: Mapped[datetime | None]
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    notified_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))


class StaffNotification(Base):
    """A message in a staff member's console (reminders, red flags, escalations, reassignments)."""

    __tablename__ = "staff_notifications"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    work_order_id: Mapped[str | None] = mapped_column(ForeignKey("work_orders.id"), index=True)
    title: Mapped[str] = mapped_column(String(255))
    body: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(index=True)
    read_at: Mapped[datetime | None]


class WebhookDelivery(Base):
    """One signed POST to the SMS/IM gateway, retried with backoff until delivered or given up."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    url: Mapped[str] = mapped_column(String(1000))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)  # pending|delivered|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(index=True)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]


class AuditCheckpoint(Base):
    """A signed record of every audit chain's head (helpdesk/accountability/checkpoint.py)."""

    __tablename__ = "audit_checkpoints"
    __table_args__ = (UniqueConstraint("day", name="uq_audit_checkpoints_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[str] = mapped_column(String(10))  # UTC date: one checkpoint a day
    at: Mapped[datetime]
    heads: Mapped[dict[str, Any]] = mapped_column(JSON)  # work order id → [seq, hash]
    digest: Mapped[str] = mapped_column(String(64))
    public_key: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(128))
