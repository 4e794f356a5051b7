"""Applicants (no account: a cookie session, optional name and phone) and used hand-off tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from helpdesk.db import Base, new_id


class Applicant(Base):
    __tablename__ = "applicants"
    __table_args__ = (UniqueConstraint("issuer", "external_id", name="uq_applicants_issuer_external"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    issuer: Mapped[str | None] = mapped_column(String(64))
    external_id: Mapped[str | None] = mapped_column(String(128))
    name: Mapped[str | None] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(32))
    language: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime | None]


class HandoffUse(Base):
    """Every accepted hand-off token's jti, so a replayed link is refused."""

    __tablename__ = "handoff_uses"

    jti: Mapped[str] = mapped_column(String(128), primary_key=True)
    issuer: Mapped[str] = mapped_column(String(64))
    applicant_id: Mapped[str] = mapped_column(ForeignKey("applicants.id"))
    used_at: Mapped[datetime]
    expires_at: Mapped[datetime]
