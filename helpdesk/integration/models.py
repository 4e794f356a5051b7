"""Integration tables: the transactional outbox of lifecycle events, webhook subscriptions and their
deliveries, messages to applicants with their templates, and one-thing-once packages (一件事一次办)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from helpdesk.db import Base, new_id


class IntegrationEvent(Base):
    """One lifecycle event, written in the same transaction as the step it reports. Its id is the
    idempotency key partners use to drop duplicates."""

    __tablename__ = "integration_events"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    type: Mapped[str] = mapped_column(String(48), index=True)
    work_order_id: Mapped[str | None] = mapped_column(ForeignKey("work_orders.id"), index=True)
    unit_path: Mapped[str] = mapped_column(String(512), default="", index=True)  # for unit-scoped subscriptions
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(index=True)


class WebhookSubscription(Base):
    """A partner's endpoint: which events it wants (["*"] for all) and, optionally, only those of one
    unit's subtree."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    url: Mapped[str] = mapped_column(String(500))
    secret: Mapped[str] = mapped_column(String(128))
    events: Mapped[list[str]] = mapped_column(JSON, default=lambda: ["*"])
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime]


class EventDelivery(Base):
    """One event to one subscription: pending → delivered, or dead after the last attempt (a dead
    letter an admin can replay). The row is also the delivery log."""

    __tablename__ = "event_deliveries"
    __table_args__ = (UniqueConstraint("event_id", "subscription_id", name="uq_event_deliveries_event_sub"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    event_id: Mapped[str] = mapped_column(ForeignKey("integration_events.id"), index=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("webhook_subscriptions.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)  # pending|delivered|dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(index=True)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class ApplicantMessage(Base):
    """A text to an applicant's phone through the bureau's SMS/IM gateway (outbox row)."""

    __tablename__ = "applicant_messages"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    work_order_id: Mapped[str | None] = mapped_column(ForeignKey("work_orders.id"), index=True)
    phone: Mapped[str] = mapped_column(String(32))
    template: Mapped[str] = mapped_column(String(48))
    language: Mapped[str] = mapped_column(String(8), default="zh-CN")
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)  # pending|sent|dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(index=True)
    last_error: Mapped[str | None] = mapped_column(String(500))
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class MessageTemplate(Base):
    """An admin's wording of a message (the shipped default applies where there is none)."""

    __tablename__ = "message_templates"
    __table_args__ = (UniqueConstraint("key", "language", name="uq_message_templates_key_lang"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(48))
    language: Mapped[str] = mapped_column(String(8))
    body: Mapped[str] = mapped_column(Text)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    updated_at: Mapped[datetime]


class PhoneVerification(Base):
    """A code sent to a phone before a call-back is accepted from an applicant without a hand-off."""

    __tablename__ = "phone_verifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    applicant_id: Mapped[str] = mapped_column(ForeignKey("applicants.id"), index=True)
    phone: Mapped[str] = mapped_column(String(32), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime]
    verified_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(index=True)


class ServicePackage(Base):
    """一件事一次办: several items handled as one; routing uses the lead item (and its units)."""

    __tablename__ = "service_packages"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str | None] = mapped_column(String(200))
    lead_item_id: Mapped[int] = mapped_column(ForeignKey("service_items.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]


class ServicePackageItem(Base):
    __tablename__ = "service_package_items"

    package_id: Mapped[int] = mapped_column(ForeignKey("service_packages.id", ondelete="CASCADE"), primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("service_items.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
