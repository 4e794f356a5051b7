"""What the shell hands the component, as types, and the shell tables it reads (no model imports)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import column, table

SendToMember = Callable[[str, dict[str, Any]], Awaitable[None] | None]
CONSENT_NOTICE = "本次现场勘验将全程录像并截图留证，仅用于审批核查，保存期限届满后删除。同意后请切换到后置摄像头。"

work_orders = table(
    "work_orders",
    column("id"),
    column("number"),
    column("applicant_id"),
    column("agent_id"),
    column("item_id"),
    column("unit_id"),
    column("handled_unit_id"),
)


class Clock(Protocol):
    def now(self) -> datetime: ...


class StaffLike(Protocol):
    id: int
    role: Any


def is_supervisor(staff: StaffLike) -> bool:
    return str(getattr(staff.role, "value", staff.role)) in ("supervisor", "admin")
