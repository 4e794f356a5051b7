"""The Whoosh index: one document per visible article, written under locks, read by refreshing searchers.

A searcher is reused until the index generation moves (one directory listing per query); the
generation's score arrays (scoring.Generation) are shared by all threads.

Writes are serialised by (1) a lock per process, (2) Whoosh's own fcntl lock file in the index
folder (every process of a machine) and (3) a Redis lock when Redis is configured (machines sharing
the folder over the network, where fcntl cannot be trusted). Readers keep one searcher per thread
and reopen it when the index generation has moved, so a process sees what another one published.
"""

from __future__ import annotations

import fcntl
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from whoosh import index as windex
from whoosh import writing
from whoosh.fields import ID, KEYWORD, STORED, TEXT, Schema
from whoosh.index import EmptyIndexError
from whoosh.searching import Searcher

from helpdesk_kb.analysis import chinese_analyzer
from helpdesk_kb.scoring import Generation
from helpdesk_kb.search import SearchPage, run_search
from helpdesk_kb.vocab import Vocabulary, shipped

log = logging.getLogger(__name__)

INDEX_NAME = "kb"
# Bump when the schema or the analyzer (stop words) changes: an index of another version is recreated
# empty at open and refilled from the database (wiring._rebuild_if_empty).
SCHEMA_VERSION = "2"


def vanishing_retry(read: Callable[[], Any], attempts: int = 20) -> Any:
    """Runs a read of the table of contents again when another process's commit removed the file
    between Whoosh listing the folder and opening it (a committing writer deletes the old TOC)."""
    for attempt in range(attempts):
        try:
            return read()
        except FileNotFoundError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.01 * (attempt + 1))
    raise AssertionError("unreachable")


def make_schema() -> Schema:
    ana = chinese_analyzer()
    return Schema(
        id=ID(stored=True, unique=True),
        # Field weights are applied once, at query time (scoring.py); no positions (no phrase queries).
        title=TEXT(analyzer=ana, stored=True, phrase=False),
        tags=TEXT(analyzer=ana, stored=True, phrase=False),
        body=TEXT(analyzer=ana, stored=True, phrase=False),
        items=KEYWORD(stored=True),
        departments=KEYWORD(stored=True),
        status=ID(stored=True),
        scope=ID(stored=True),
        guide=ID(stored=True),
        version=STORED(),
    )


@dataclass
class IndexDoc:
    id: str
    title: str
    body: str  # plain text (Markdown stripped)
    tags: list[str] = field(default_factory=list)
    items: list[int] = field(default_factory=list)
    departments: list[int] = field(default_factory=list)
    status: str = "published"
    scope: int | None = None  # org unit id; None: every unit
    guide: bool = False
    version: int = 0

    def fields(self) -> dict[str, object]:
        return {
            "id": self.id,
            "title": self.title,
            "body": self.body,
            "tags": " ".join(self.tags),
            "items": " ".join(str(i) for i in self.items),
            "departments": " ".join(str(d) for d in self.departments),
            "status": self.status,
            "scope": "all" if self.scope is None else str(self.scope),
            "guide": "1" if self.guide else "0",
            "version": self.version,
        }


class KbIndex:
    """A handle on the index folder; safe to share between threads, one per process."""

    def __init__(self, path: Path, lock_timeout_s: float = 30.0) -> None:
        self.path = Path(path)
        self.lock_timeout_s = lock_timeout_s
        self._write_lock = threading.Lock()
        self._local = threading.local()
        self._searchers: list[Searcher] = []
        self._searchers_lock = threading.Lock()
        self._ix: windex.Index | None = None
        self._gen: Generation | None = None
        self._gen_lock = threading.Lock()
        self.vocabulary: Vocabulary = shipped()

    # -- opening --------------------------------------------------------------------------------
    @property
    def ix(self) -> windex.Index:
        if self._ix is None:
            self._ix = self._open_or_create()
        return self._ix

    def _open_or_create(self) -> windex.Index:
        self.path.mkdir(parents=True, exist_ok=True)
        # Two processes starting together must not both create (and clobber) the index.
        with open(self.path / ".create.lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                marker = self.path / "schema-version"
                current = marker.read_text().strip() if marker.exists() else None
                if current == SCHEMA_VERSION:
                    try:
                        return vanishing_retry(lambda: windex.open_dir(str(self.path), indexname=INDEX_NAME))
                    except EmptyIndexError:
                        pass
                log.info("creating the KB index (schema %s, found %s) in %s", SCHEMA_VERSION, current, self.path)
                ix = windex.create_in(str(self.path), make_schema(), indexname=INDEX_NAME)
                marker.write_text(SCHEMA_VERSION)
                return ix
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def generation(self) -> int:
        return int(self.ix.latest_generation())

    # -- writing --------------------------------------------------------------------------------
    def write(self, upserts: Iterable[IndexDoc] = (), deletes: Iterable[str] = ()) -> None:
        """Apply changes in one commit; blocks until the folder's write lock is free."""
        with self._write_lock:
            writer = self.ix.writer(timeout=self.lock_timeout_s, delay=0.05)
            try:
                for doc_id in deletes:
                    writer.delete_by_term("id", doc_id)
                for doc in upserts:
                    writer.update_document(**doc.fields())
                writer.commit()
            except BaseException:
                if not writer.is_closed:  # a failed commit must not keep the folder's lock for good
                    writer.cancel()
                raise

    def rebuild(self, docs: Iterable[IndexDoc], progress: Callable[[int], None] | None = None) -> int:
        """Replace the whole index in one commit; readers switch over at their next refresh."""
        count = 0
        with self._write_lock:
            writer = self.ix.writer(timeout=self.lock_timeout_s, delay=0.05, limitmb=256)
            try:
                for doc in docs:
                    writer.add_document(**doc.fields())
                    count += 1
                    if progress is not None:
                        progress(count)
            except BaseException:
                writer.cancel()
                raise
            writer.commit(mergetype=writing.CLEAR)
        return count

    # -- reading --------------------------------------------------------------------------------
    def searcher(self) -> Searcher:
        """This thread's searcher, reopened if another writer (any process) committed since."""
        current: Searcher | None = getattr(self._local, "searcher", None)
        if current is None:
            current = vanishing_retry(self.ix.searcher)
            with self._searchers_lock:
                self._searchers.append(current)
        elif not current.up_to_date():
            # A fresh searcher, not Searcher.refresh(): its segment reuse keeps stale deletions
            # (segments compare by id) and can keep segments a merge removed.
            fresh = vanishing_retry(self.ix.searcher)
            with self._searchers_lock:
                self._searchers.remove(current)
                self._searchers.append(fresh)
            current.close()
            current = fresh
        self._local.searcher = current
        return current

    def score_cache(self, searcher: Searcher) -> Generation:
        """The score arrays of the searcher's generation, shared by every thread."""
        found = searcher.reader().generation()
        number = -1 if found is None else int(found)  # None: an empty index
        gen = self._gen
        if gen is None or gen.generation != number:
            with self._gen_lock:
                gen = self._gen
                if gen is None or gen.generation != number:
                    gen = self._gen = Generation(number, searcher)
        return gen

    def search(self, text: str, **kwargs: Any) -> SearchPage:
        searcher = self.searcher()
        kwargs.setdefault("vocabulary", self.vocabulary)
        return run_search(searcher, self.score_cache(searcher), text, **kwargs)

    def doc_count(self) -> int:
        return int(self.searcher().doc_count())

    def stored(self, doc_id: str) -> dict[str, object] | None:
        found = self.searcher().document(id=doc_id)
        return dict(found) if found else None

    def close(self) -> None:
        with self._searchers_lock:
            for s in self._searchers:
                s.close()
            self._searchers.clear()
        self._local = threading.local()
        if self._ix is not None:
            self._ix.close()
            self._ix = None
