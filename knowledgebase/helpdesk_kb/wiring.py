"""Start-up: jieba once per process, the index opened (created if missing), the catch-up loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from contextlib import AsyncExitStack
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from helpdesk_kb.analysis import init_jieba
from helpdesk_kb.component import Kb
from helpdesk_kb.index import KbIndex
from helpdesk_kb.models import KbArticle

log = logging.getLogger(__name__)

DEFAULT_SYNC_INTERVAL_S = 15.0


async def wire(state: Any, stack: AsyncExitStack) -> Kb:
    """Build the KB for this process and put it in state.components["kb"].

    state needs .settings, .clock (now()), .sessions (async_sessionmaker), .redis (or None), .components.
    """
    settings = state.settings
    await asyncio.to_thread(init_jieba)
    index = KbIndex(settings.kb_index_dir)
    await asyncio.to_thread(lambda: index.ix)
    kb = Kb(settings, state.clock, index, redis=state.redis, sessions=state.sessions)
    state.components["kb"] = kb
    stack.callback(kb.close)
    await _rebuild_if_empty(kb)
    try:
        if kb.sessions is not None:
            async with kb.sessions() as session:
                await kb.refresh_vocabulary(session)
    except SQLAlchemyError:
        log.warning("kb_vocabulary missing (migrations not run?); the shipped vocabulary only")
    interval = float(getattr(settings, "kb_sync_interval_s", DEFAULT_SYNC_INTERVAL_S))
    task = asyncio.create_task(kb.sync_forever(interval), name="kb-index-catch-up")

    async def _stop() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    stack.push_async_callback(_stop)
    return kb


async def _rebuild_if_empty(kb: Kb) -> None:
    """A fresh index folder (new machine, wiped volume) is filled from the database at start-up."""
    if kb.sessions is None or await asyncio.to_thread(kb.index.doc_count) > 0:
        return
    try:
        async with kb.sessions() as session:
            count = await session.scalar(select(func.count()).select_from(KbArticle))
    except SQLAlchemyError:
        log.warning("kb tables missing (migrations not run?); the index stays empty")
        return
    if count:
        n = await kb.rebuild(kb.sessions)
        log.info("kb index was empty: rebuilt from the database (%d articles)", n)
