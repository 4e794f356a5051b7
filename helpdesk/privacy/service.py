"""Export or erase one applicant's personal data (admin route and CLI). Erasure keeps the work orders
(figures, accountability) with their personal fields blanked, deletes chat and call files, and
appends `personal_data_erased` to each work order's audit chain; export appends `personal_data_exported`."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk.applicants.models import Applicant
from helpdesk.config import Settings
from helpdesk.errors import NotFound
from helpdesk.privacy.retention import remove_stored, rows
from helpdesk.workorders.models import ChatMessage, FileAttachment, WorkOrder
from helpdesk.workorders.service import record_event


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


async def applicant_and_orders(session: AsyncSession, applicant_id: str) -> tuple[Applicant, list[WorkOrder]]:
    applicant = await session.get(Applicant, applicant_id)
    if applicant is None:
        raise NotFound("applicant not found")
    orders = (await session.scalars(select(WorkOrder).where(WorkOrder.applicant_id == applicant_id)
                                    .order_by(WorkOrder.created_at))).all()
    return applicant, list(orders)


async def export_applicant(session: AsyncSession, applicant_id: str, *, actor: str, now: datetime) -> dict[str, Any]:
    """Everything stored about the person, as one JSON document; the caller commits."""
    applicant, orders = await applicant_and_orders(session, applicant_id)
    out: dict[str, Any] = {
        "applicant": {"id": applicant.id, "name": applicant.name, "phone": applicant.phone,
                      "issuer": applicant.issuer, "external_id": applicant.external_id,
                      "created_at": iso(applicant.created_at), "last_seen_at": iso(applicant.last_seen_at)},
        "work_orders": [], "exported_at": now.isoformat(),
    }
    for wo in orders:
        chat = (await session.scalars(select(ChatMessage).where(ChatMessage.work_order_id == wo.id)
                                      .order_by(ChatMessage.at))).all()
        files = (await session.scalars(select(FileAttachment).where(FileAttachment.work_order_id == wo.id))).all()
        out["work_orders"].append({
            "id": wo.id, "number": wo.number, "status": wo.status.value, "channel": wo.channel.value,
            "created_at": iso(wo.created_at), "ended_at": iso(wo.ended_at), "callback_phone": wo.callback_phone,
            "callback_at": wo.callback_at, "rating": wo.rating, "rating_comment": wo.rating_comment,
            "handoff": wo.handoff,
            "chat": [{"at": iso(c.at), "sender_kind": c.sender_kind, "text": c.text} for c in chat],
            "files": [{"name": f.filename, "content_type": f.content_type, "size": f.size, "sha256": f.sha256,
                       "created_at": iso(f.created_at), "deleted_at": iso(f.deleted_at)} for f in files],
        })
        await record_event(session, wo, "personal_data_exported", actor, now)
    return out


async def erase_applicant(session: AsyncSession, settings: Settings, applicant_id: str, *, actor: str,
                          now: datetime) -> dict[str, int]:
    """Blanks the person's fields, deletes their chat and call files; the caller commits."""
    applicant, orders = await applicant_and_orders(session, applicant_id)
    applicant.name = applicant.phone = applicant.external_id = None
    counts = {"work_orders": len(orders), "chat": 0, "files": 0}
    for wo in orders:
        wo.callback_phone = wo.callback_at = wo.rating_comment = None
        wo.handoff = None  # the partner system's context names the person
        result = await session.execute(delete(ChatMessage).where(ChatMessage.work_order_id == wo.id))
        counts["chat"] += rows(result)
        files = (await session.scalars(select(FileAttachment).where(
            FileAttachment.work_order_id == wo.id, FileAttachment.source == "upload",
            FileAttachment.deleted_at.is_(None)))).all()
        for f in files:
            await asyncio.to_thread(remove_stored, settings.upload_dir, f.storage_key)
            f.deleted_at, f.filename = now, "(erased)"
        counts["files"] += len(files)
        await record_event(session, wo, "personal_data_erased", actor, now, chat=counts["chat"], files=len(files))
    return counts
