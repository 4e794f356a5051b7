"""SQLite FTS5 baselines for the KB benchmarks: the trigram tokenizer on raw text, and jieba-segmented
text on the unicode61 tokenizer (the stronger one). Same query strategy for both: AND of the query's
terms, then OR to fill the page, bm25 with title 3 / tags 2 / body 1."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterable
from pathlib import Path

import jieba
from helpdesk_kb.analysis import STOP_WORDS

_PUNCT = re.compile(r"[^\w]+")


def trigrams(text: str) -> list[str]:
    s = _PUNCT.sub("", text)
    return [s[i : i + 3] for i in range(len(s) - 2)] or ([s] if s else [])


def segmented(text: str) -> str:
    """jieba search mode, space-separated, for the unicode61 tokenizer."""
    return " ".join(w for w in jieba.cut_for_search(text) if _PUNCT.sub("", w))


def jieba_terms(text: str) -> list[str]:
    return list(dict.fromkeys(w for w in jieba.cut(text) if w not in STOP_WORDS and _PUNCT.sub("", w)))


def _quote(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


class Fts5:
    """kind: "trigram" (raw text, trigram tokenizer) or "jieba" (segmented text, unicode61)."""

    def __init__(self, path: Path, kind: str) -> None:
        self.kind = kind
        self.db = sqlite3.connect(path)
        tokenizer = "trigram" if kind == "trigram" else "unicode61"
        self.db.execute(f"CREATE VIRTUAL TABLE kb USING fts5(title, tags, body, tokenize='{tokenizer}')")
        self.prep: Callable[[str], str] = (lambda s: s) if kind == "trigram" else segmented

    def build(self, rows: Iterable[tuple[int, str, str, str]], progress: Callable[[int], None] | None = None) -> None:
        batch: list[tuple[int, str, str, str]] = []
        done = 0
        for rowid, title, tags, body in rows:
            batch.append((rowid, self.prep(title), self.prep(tags), self.prep(body)))
            if len(batch) == 500:
                done += self._insert(batch)
                batch = []
                if progress:
                    progress(done)
        done += self._insert(batch)
        if progress:
            progress(done)
        self.db.commit()

    def _insert(self, batch: list[tuple[int, str, str, str]]) -> int:
        self.db.executemany("INSERT INTO kb(rowid, title, tags, body) VALUES (?, ?, ?, ?)", batch)
        return len(batch)

    def search(self, q: str, limit: int = 10) -> list[int]:
        """Row ids, best first; with snippets like the console (the cost is part of a query)."""
        terms = trigrams(q) if self.kind == "trigram" else jieba_terms(q)
        if not terms:
            return []
        sql = (
            "SELECT rowid, snippet(kb, 2, '<mark>', '</mark>', '…', 24) FROM kb WHERE kb MATCH ? "
            f"ORDER BY bm25(kb, 3.0, 2.0, 1.0) LIMIT {int(limit)}"
        )
        quoted = [_quote(t) for t in terms]
        rows = self.db.execute(sql, (" AND ".join(quoted),)).fetchall()
        if len(rows) < limit and len(quoted) > 1:
            seen = {r[0] for r in rows}
            rows += [r for r in self.db.execute(sql, (" OR ".join(quoted),)).fetchall() if r[0] not in seen]
        return [int(r[0]) for r in rows[:limit]]

    def close(self) -> None:
        self.db.close()
