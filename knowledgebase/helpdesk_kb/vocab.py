"""The vocabulary of government services: what applicants type → the words guides use.

Shipped as `vocabulary.txt` (one entry a line: `term<TAB>expansion;expansion<TAB>kind`), overridden
and extended by KB editors in the console (table kb_vocabulary). Applied at query time only, so an
edit takes effect at once and never needs a reindex.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

SHIPPED = Path(__file__).resolve().parent / "vocabulary.txt"
KINDS = ("colloquial", "abbreviation", "synonym", "old_name", "typo", "section")


def normalize(text: str) -> str:
    """Full-width to half-width (ＫＴＶ → ktv), lower case, inner whitespace kept single."""
    return " ".join(unicodedata.normalize("NFKC", text).lower().split())


@dataclass(frozen=True)
class Entry:
    term: str
    expansions: tuple[str, ...]
    kind: str = "synonym"
    enabled: bool = True


def parse_line(line: str) -> Entry | None:
    line = line.strip()
    if not line or line.startswith("#"):
        return None
    parts = line.split("\t")
    if len(parts) < 2:
        raise ValueError(f"vocabulary line needs term<TAB>expansions[<TAB>kind]: {line!r}")
    expansions = tuple(normalize(x) for x in parts[1].split(";") if x.strip())
    kind = parts[2].strip() if len(parts) > 2 and parts[2].strip() else "synonym"
    return Entry(normalize(parts[0]), expansions, kind)


class Vocabulary:
    """Entries by term; `find` matches them in a query, longest first, without overlaps."""

    def __init__(self, entries: Iterable[Entry]) -> None:
        self.entries: dict[str, Entry] = {}
        for e in entries:
            if e.enabled and e.expansions:
                self.entries[e.term] = e
            else:
                self.entries.pop(e.term, None)  # an editor switched a shipped entry off
        self.max_len = max((len(t) for t in self.entries), default=0)

    def __len__(self) -> int:
        return len(self.entries)

    def find(self, text: str) -> list[tuple[int, int, Entry]]:
        """Leftmost-longest matches of entry terms in normalized text: [(start, end, entry)]."""
        out: list[tuple[int, int, Entry]] = []
        i, n = 0, len(text)
        while i < n:
            for size in range(min(self.max_len, n - i), 0, -1):
                entry = self.entries.get(text[i : i + size])
                if entry is not None:
                    out.append((i, i + size, entry))
                    i += size
                    break
            else:
                i += 1
        return out

    def with_overrides(self, rows: Iterable[Entry]) -> Vocabulary:
        """This vocabulary with the editors' entries applied (same term: theirs wins)."""
        return Vocabulary([*self.entries.values(), *rows])


@cache
def shipped_entries() -> tuple[Entry, ...]:
    entries = []
    for line in SHIPPED.read_text(encoding="utf-8").splitlines():
        entry = parse_line(line)
        if entry is not None:
            entries.append(entry)
    return tuple(entries)


def shipped() -> Vocabulary:
    return Vocabulary(shipped_entries())
