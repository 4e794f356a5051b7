"""The administration audit chain: admin changes, logins, failed logins, role and token changes.

One hash chain (the work orders' chains are per work order; this one is the bureau's): entry n
carries seq n, the previous entry's hash and its own, computed with the same canonical form as the
work-order chain (helpdesk.accountability.audit.canonical, chain name in place of a work order id).
`AuditHead` is the row every writer UPDATEs first: it serialises writers across processes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from helpdesk.db import Base

ADMIN_CHAIN = "admin"


class AdminEvent(Base):
    __tablename__ = "admin_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    at: Mapped[datetime] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(String(64), index=True)  # e.g. "unit.update", "login.failed"
    actor: Mapped[str] = mapped_column(String(100))  # "staff:<id>", "cli", "token:<id>", "anonymous"
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # {"target", "before", "after"}
    ip: Mapped[str | None] = mapped_column(String(64))
    origin: Mapped[str | None] = mapped_column(String(128))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The head of a chain (locked by an UPDATE at each append)."""

    __tablename__ = "audit_heads"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    hash: Mapped[str] = mapped_column(String(64))
