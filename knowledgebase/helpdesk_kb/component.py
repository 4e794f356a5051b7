"""The KB component of one process: the index handle, the write locks and the catch-up loop.

Publishing commits to the database first, then updates the index (so a failed commit never shows up
in search). If the index update is missed (crash, another machine with its own index folder), the
catch-up loop re-reads articles changed in the database since its watermark and applies them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from whoosh.index import LockError

from helpdesk.config import Settings
from helpdesk_kb import repository as repo
from helpdesk_kb import vocab_edit
from helpdesk_kb.errors import KbUnavailable
from helpdesk_kb.index import IndexDoc, KbIndex
from helpdesk_kb.models import ArticleStatus, KbArticle
from helpdesk_kb.search import SearchPage

log = logging.getLogger(__name__)

SYNC_SLACK = timedelta(minutes=5)  # transactions that committed late with an earlier updated_at


class ClockLike(Protocol):
    def now(self) -> datetime: ...


class Kb:
    def __init__(
        self,
        settings: Settings,
        clock: ClockLike,
        index: KbIndex,
        redis: Any | None = None,
        sessions: async_sessionmaker[AsyncSession] | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.index = index
        self.redis = redis
        self.sessions = sessions
        self._seen: dict[str, datetime] = {}
        self._vocab_signature: tuple[int, datetime | None] | None = None
        self._since: datetime = self._read_watermark() or clock.now() - SYNC_SLACK

    # The watermark file lets a machine with its own index folder catch up after a restart.
    def _watermark_path(self) -> Path:
        return self.index.path / "sync-watermark"

    def _read_watermark(self) -> datetime | None:
        try:
            return datetime.fromisoformat(self._watermark_path().read_text().strip())
        except (OSError, ValueError):
            return None

    def _write_watermark(self, at: datetime) -> None:
        with contextlib.suppress(OSError):
            self.index.path.mkdir(parents=True, exist_ok=True)
            self._watermark_path().write_text(at.isoformat())

    def now(self) -> datetime:
        return self.clock.now()

    @contextlib.asynccontextmanager
    async def write_lock(self) -> AsyncIterator[None]:
        """Redis lock across machines when configured; Whoosh's file lock is taken inside write()."""
        if self.redis is None:
            yield
            return
        from redis.exceptions import LockError

        lock = self.redis.lock(
            f"{self.settings.redis_prefix}kb:index-write",
            timeout=300,
            blocking_timeout=self.index.lock_timeout_s,
        )
        if not await lock.acquire():
            raise KbUnavailable("the knowledge-base index is busy; try again")
        try:
            yield
        finally:
            with contextlib.suppress(LockError):
                await lock.release()

    async def apply(self, upserts: list[IndexDoc], deletes: list[str]) -> None:
        if not upserts and not deletes:
            return
        async with self.write_lock():
            await asyncio.to_thread(self.index.write, upserts, deletes)

    async def reindex_articles(self, session: AsyncSession, article_ids: Iterable[str]) -> bool:
        """Call after the commit that changed these articles. A failed index write is logged, not raised:
        the change is saved and the catch-up loop indexes it at its next tick."""
        ids = list(dict.fromkeys(article_ids))
        upserts, deletes = await repo.index_changes(session, ids)
        try:
            await self.apply(upserts, deletes)
        except (KbUnavailable, LockError, OSError) as exc:
            log.warning("kb index update deferred to the catch-up loop (%s): %s", exc.__class__.__name__, exc)
            return False
        stamps = await session.execute(select(KbArticle.id, KbArticle.updated_at).where(KbArticle.id.in_(ids)))
        self._seen.update({i: t for i, t in stamps})
        return True

    async def refresh_vocabulary(self, session: AsyncSession) -> bool:
        """Load the editors' vocabulary entries over the shipped ones when they changed."""
        sig = await vocab_edit.signature(session)
        if sig == self._vocab_signature:
            return False
        self.index.vocabulary = await vocab_edit.effective(session)
        self._vocab_signature = sig
        return True

    async def search(self, text: str, **kwargs: Any) -> SearchPage:
        return await asyncio.to_thread(self.index.search, text, **kwargs)

    async def rebuild(
        self, sessions: async_sessionmaker[AsyncSession], progress: Callable[[int, int], None] | None = None
    ) -> int:
        """Rebuild from the database: read everything first, then one locked commit."""
        started = self.clock.now()
        async with sessions() as session:
            total = len(await repo.all_article_ids(session))
            docs = [doc async for doc in repo.iter_index_docs(session)]

        def step(n: int) -> None:
            if progress is not None:
                progress(n, total)

        async with self.write_lock():
            count = await asyncio.to_thread(self.index.rebuild, docs, step)
        await asyncio.to_thread(self._write_watermark, started - SYNC_SLACK)
        return count

    async def sync_once(self) -> int:
        """Apply articles changed in the database that the index does not reflect yet."""
        if self.sessions is None:
            return 0
        cols = (
            KbArticle.id,
            KbArticle.updated_at,
            KbArticle.status,
            KbArticle.version,
            KbArticle.published_version,
        )
        async with self.sessions() as session:
            await self.refresh_vocabulary(session)
            rows = (await session.execute(select(*cols).where(KbArticle.updated_at >= self._since))).all()
            fresh = [r for r in rows if self._seen.get(r.id) != r.updated_at]
            current = await asyncio.to_thread(lambda: {r.id for r in fresh if self._index_is_current(r)})
            self._seen.update({r.id: r.updated_at for r in fresh if r.id in current})
            todo = [r.id for r in fresh if r.id not in current]
            if todo and not await self.reindex_articles(session, todo):
                return 0  # index busy: keep the watermark, retry at the next tick
        if rows:
            newest = max(r.updated_at for r in rows)
            self._since = max(self._since, newest - SYNC_SLACK)
            self._seen = {i: t for i, t in self._seen.items() if t >= self._since}
        await asyncio.to_thread(self._write_watermark, self._since)
        return len(todo)

    def _index_is_current(self, row: Any) -> bool:
        """Another process sharing the folder may have indexed it already: skip a redundant write."""
        stored = self.index.stored(row.id)
        if row.status == ArticleStatus.archived:
            return stored is None
        status = ArticleStatus.published.value if row.published_version else row.status.value
        version = row.published_version or row.version
        return stored is not None and stored.get("status") == status and stored.get("version") == version

    async def sync_forever(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                changed = await self.sync_once()
                if changed:
                    log.info("kb index caught up with %d changed article(s)", changed)
            except KbUnavailable:
                log.warning("kb index busy; catch-up retried at the next tick")
            except (OSError, DBAPIError) as exc:  # the database is down: one line, the next tick retries
                log.warning("kb index catch-up skipped: database unavailable (%s)", type(exc).__name__)
            except Exception:  # the loop must survive a database hiccup; the next tick retries
                log.exception("kb index catch-up failed")

    def close(self) -> None:
        self.index.close()
