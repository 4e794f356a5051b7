"""Retention: personal data is kept only as long as the settings allow. An idempotent sweep, run on
every process like the recordings' one (inspection evidence has its own, HELPDESK_RECORDING_RETENTION_DAYS):
call files are deleted from disk (the row stays with its hash and `deleted_at`), chat messages are
deleted, phone numbers are blanked (a call-back still pending keeps its number)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from helpdesk.applicants.models import Applicant
from helpdesk.clock import Clock
from helpdesk.config import Settings
from helpdesk.state import AppState
from helpdesk.tasks import start_background
from helpdesk.workorders.models import ChatMessage, FileAttachment, WorkOrder, WorkOrderStatus

log = logging.getLogger(__name__)


@dataclass
class Swept:
    files: int = 0
    chat: int = 0
    phones: int = 0


def rows(result: Any) -> int:
    """Rows a bulk UPDATE/DELETE touched."""
    return int(getattr(result, "rowcount", 0) or 0)


def remove_stored(upload_dir: Path, storage_key: str) -> None:
    path = (upload_dir / storage_key).resolve()
    if upload_dir.resolve() in path.parents:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


async def sweep(session: AsyncSession, settings: Settings, now: datetime) -> Swept:
    """One pass; the caller commits."""
    out = Swept()
    file_cut = now - timedelta(days=settings.retention_call_files_days)
    old = (await session.scalars(select(FileAttachment).where(
        FileAttachment.created_at < file_cut, FileAttachment.deleted_at.is_(None),
        FileAttachment.source == "upload"))).all()
    for f in old:
        await asyncio.to_thread(remove_stored, settings.upload_dir, f.storage_key)
        f.deleted_at = now
    out.files = len(old)
    chat_cut = now - timedelta(days=settings.retention_chat_days)
    out.chat = rows(await session.execute(delete(ChatMessage).where(ChatMessage.at < chat_cut)))
    phone_cut = now - timedelta(days=settings.retention_phone_days)
    seen = func.coalesce(Applicant.last_seen_at, Applicant.created_at)
    out.phones = rows(await session.execute(update(Applicant).where(Applicant.phone.is_not(None), seen < phone_cut)
                                            .values(phone=None)))
    out.phones += rows(await session.execute(update(WorkOrder).where(
        WorkOrder.callback_phone.is_not(None), WorkOrder.updated_at < phone_cut,
        WorkOrder.status != WorkOrderStatus.callback_pending).values(callback_phone=None)))
    return out


FIRST_RUN_AFTER_S = 300.0


async def sweep_forever(sessions: async_sessionmaker[AsyncSession], settings: Settings, clock: Clock) -> None:
    # Not at start-up: a starting (or short-lived) process does not sweep while it is busy starting.
    await asyncio.sleep(min(settings.privacy_sweep_interval_s, FIRST_RUN_AFTER_S))
    while True:
        try:
            async with sessions() as s:
                swept = await sweep(s, settings, clock.now())
                await s.commit()
            if swept.files or swept.chat or swept.phones:
                log.info("privacy retention: %d call files, %d chat messages, %d phone numbers removed",
                         swept.files, swept.chat, swept.phones)
        except Exception:  # the next pass tries again; the cause is logged
            log.exception("privacy retention sweep failed")
        await asyncio.sleep(settings.privacy_sweep_interval_s)


async def wire_privacy(state: AppState, stack: AsyncExitStack) -> None:
    if state.settings.privacy_sweep_interval_s > 0:
        start_background(stack, sweep_forever(state.sessions, state.settings, state.clock), "privacy-retention")
