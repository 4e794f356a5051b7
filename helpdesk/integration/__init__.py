"""Integration with the systems around the desk: scoped API (/api/v1), lifecycle webhooks through a
transactional outbox, messages to applicants, one-thing-once packages."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from helpdesk.workorders.models import WorkOrder


async def capture(session: AsyncSession, wo: WorkOrder, *, kind: str, data: dict[str, Any], now: datetime) -> None:
    """Every timeline entry passes here: lifecycle events and applicant messages join its transaction."""
    from helpdesk.integration import messages, outbox  # late: the models import the work order models

    await outbox.capture(session, wo, kind=kind, data=data, now=now)
    await messages.capture(session, wo, kind=kind, data=data, now=now)
