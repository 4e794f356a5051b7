"""Scoring over one index generation: BM25 weights of each (field, word) read once from Whoosh's
postings into numpy arrays, then a query is a few vector operations.

A `Generation` belongs to one committed index generation and is shared by every thread; it is
dropped when the index changes. Whoosh stays the index (analysis, storage, postings, statistics);
its per-posting Python matchers were the cost (hundreds of ms per broad query at 10,000 articles).
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from whoosh import query as Q
from whoosh.searching import Searcher

FIELD_WEIGHTS = {"title": 3.0, "tags": 2.0, "body": 1.0}  # applied once, here (the schema has no boosts)
K1, B = 1.2, 0.75
TIEBREAK = 0.3  # a concept scores its best form plus this share of its other forms
COORD = 0.5  # a document matching k of n concepts keeps (1 - COORD + COORD * k / n) of its score
GUIDE_BOOST = 1.15  # an item's guide (办事指南) ranks a little higher among matching articles
MAX_CACHED_TERMS = 50_000


STRONG = 0.8  # a form at least this weight (typed word, vocabulary word, typo fix) fully covers its concept


@dataclass
class ConceptScores:
    total: np.ndarray  # final score per docnum
    strong: list[np.ndarray]  # per concept: docs matching a typed/vocabulary/corrected form
    weak: list[np.ndarray]  # per concept: docs matching only sub-words (许可 of 许可证)
    concept: list[np.ndarray]  # per concept: its score per docnum (before the coordination factor)


class Generation:
    """Per-generation caches: field lengths, (field, word) → (docnums, BM25 weights), filters, typo keys."""

    def __init__(self, generation: int, searcher: Searcher) -> None:
        self.generation = generation
        reader = searcher.reader()
        self.n_all = int(reader.doc_count_all())
        self.n_live = max(1, int(reader.doc_count()))
        self.live = np.zeros(self.n_all, dtype=bool)
        self.live[list(reader.all_doc_ids())] = True
        self._lock = threading.Lock()
        self._terms: OrderedDict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._lengths: dict[str, np.ndarray] = {}
        self._avg: dict[str, float] = {}
        self._filters: dict[Q.Query, np.ndarray] = {}
        self._typo: dict[str, list[str]] | None = None
        self._vocab: set[str] | None = None

    # -- statistics -----------------------------------------------------------------------------
    def _field_lengths(self, searcher: Searcher, field: str) -> tuple[np.ndarray, float]:
        if field not in self._lengths:
            reader = searcher.reader()
            lengths = np.fromiter(
                (reader.doc_field_length(d, field, 0) for d in range(self.n_all)), dtype=np.float32, count=self.n_all
            )
            self._avg[field] = max(1.0, float(reader.field_length(field)) / self.n_live)
            self._lengths[field] = lengths
        return self._lengths[field], self._avg[field]

    def idf(self, df: int) -> float:
        return math.log(1.0 + (self.n_live - df + 0.5) / (df + 0.5))

    def term(self, searcher: Searcher, field: str, word: str) -> tuple[np.ndarray, np.ndarray]:
        """Docnums holding word in field and their BM25 weight (field weight not applied)."""
        key = (field, word)
        found = self._terms.get(key)
        if found is not None:
            return found
        reader = searcher.reader()
        ids: list[int] = []
        tfs: list[float] = []
        if (field, word) in reader:
            m = reader.postings(field, word)
            while m.is_active():
                ids.append(m.id())
                tfs.append(m.weight())
                m.next()
        docs = np.asarray(ids, dtype=np.int64)
        if docs.size:
            lengths, avg = self._field_lengths(searcher, field)
            tf = np.asarray(tfs, dtype=np.float32)
            norm = K1 * (1 - B + B * lengths[docs] / avg)
            weights = (self.idf(int(docs.size)) * tf * (K1 + 1) / (tf + norm)).astype(np.float32)
        else:
            weights = np.zeros(0, dtype=np.float32)
        with self._lock:
            self._terms[key] = (docs, weights)
            if len(self._terms) > MAX_CACHED_TERMS:
                self._terms.popitem(last=False)
        return docs, weights

    def known(self, searcher: Searcher, word: str) -> bool:
        return any(self.term(searcher, f, word)[0].size for f in FIELD_WEIGHTS)

    def df(self, searcher: Searcher, word: str) -> int:
        return max(int(self.term(searcher, f, word)[0].size) for f in FIELD_WEIGHTS)

    def mask(self, searcher: Searcher, flt: Q.Query | None) -> np.ndarray:
        """Live documents passing the filter (cached per filter)."""
        if flt is None:
            return self.live
        found = self._filters.get(flt)
        if found is None:
            found = np.zeros(self.n_all, dtype=bool)
            docs = list(searcher.docs_for_query(flt))
            if docs:
                found[docs] = True
            found &= self.live
            with self._lock:
                if len(self._filters) > 256:
                    self._filters.clear()
                self._filters[flt] = found
        return found

    # -- typos ----------------------------------------------------------------------------------
    def together(self, searcher: Searcher, word: str, others: list[list[str]]) -> int:
        """The most of the other concepts (each a list of words) one document holds along with word."""
        mine = self._docs(searcher, word)
        if not mine.any():
            return 0
        count = np.zeros(self.n_all, dtype=np.int32)
        for forms in others:
            held = np.zeros(self.n_all, dtype=bool)
            for o in forms:
                held |= self._docs(searcher, o)
            count += held
        return int(count[mine].max())

    def _docs(self, searcher: Searcher, word: str) -> np.ndarray:
        out = np.zeros(self.n_all, dtype=bool)
        for f in FIELD_WEIGHTS:
            docs = self.term(searcher, f, word)[0]
            if docs.size:
                out[docs] = True
        return out

    def correct(self, searcher: Searcher, word: str) -> list[str]:
        """Index words one edit away (substitution, missing or extra character), most common first."""
        if self._typo is None:
            self._build_typo_keys(searcher)
        assert self._typo is not None and self._vocab is not None
        cands: set[str] = set()
        for i in range(len(word)):
            cands.update(self._typo.get(word[:i] + "*" + word[i + 1 :], ()))  # one character wrong
            shorter = word[:i] + word[i + 1 :]
            if len(shorter) >= 2 and shorter in self._vocab:
                cands.add(shorter)  # one character too many
        cands.update(self._typo.get(word, ()))  # one character missing
        cands.discard(word)
        return sorted(sorted(cands), key=lambda w: (-self.term(searcher, "title", w)[0].size, -self.df(searcher, w)))

    def _build_typo_keys(self, searcher: Searcher) -> None:
        reader = searcher.reader()
        keys: dict[str, list[str]] = {}
        vocab: set[str] = set()
        for field in FIELD_WEIGHTS:
            for raw in reader.lexicon(field):
                w = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
                if len(w) < 2 or w in vocab or w.isascii():
                    continue
                vocab.add(w)
                for i in range(len(w)):
                    keys.setdefault(w[:i] + "*" + w[i + 1 :], []).append(w)
                    if len(w) >= 3:
                        keys.setdefault(w[:i] + w[i + 1 :], []).append(w)
        with self._lock:
            self._typo, self._vocab = keys, vocab


def score_concepts(
    gen: Generation,
    searcher: Searcher,
    concepts: Sequence[dict[str, float]],
    allowed: np.ndarray,
    guide: np.ndarray | None,
) -> ConceptScores:
    """Every document scored at once: per concept the best form (+ TIEBREAK of the others), summed over
    concepts, scaled by the share of concepts matched (so all-words matches rank first unless an
    some-words match scores much higher), restricted to `allowed`."""
    n = gen.n_all
    total = np.zeros(n, dtype=np.float32)
    count = np.zeros(n, dtype=np.float32)
    strong: list[np.ndarray] = []
    weak: list[np.ndarray] = []
    per_concept: list[np.ndarray] = []
    for forms in concepts:
        best = np.zeros(n, dtype=np.float32)
        summed = np.zeros(n, dtype=np.float32)
        firm = np.zeros(n, dtype=bool)
        pieces: list[np.ndarray] = []  # sub-word forms: all of them together count as the word
        for word, w in forms.items():
            form = np.zeros(n, dtype=np.float32)
            df = 0
            for field, fw in FIELD_WEIGHTS.items():
                docs, bm25 = gen.term(searcher, field, word)
                if docs.size:
                    form[docs] += bm25 * (fw * w)
                    df = max(df, int(docs.size))
            np.maximum(best, form, out=best)
            summed += form
            if w >= STRONG and df:
                firm |= form > 0
            elif w < STRONG:
                pieces.append(form > 0)
        if len(pieces) >= 2:
            firm |= np.logical_and.reduce(pieces)  # 股东会决议 split by the index into 股东会 + 决议
        score = best + TIEBREAK * (summed - best)
        hit = score > 0
        total += score
        count += hit
        strong.append(firm)
        weak.append(hit & ~firm)
        per_concept.append(score)
    if concepts:
        total *= 1 - COORD + COORD * count / len(concepts)
    if guide is not None:
        total[guide] *= GUIDE_BOOST
    total[~allowed] = 0
    return ConceptScores(total, strong, weak, per_concept)


def ranked(total: np.ndarray) -> np.ndarray:
    """Docnums with a score, best first; ties by docnum, so the order never depends on the page size."""
    docs = np.flatnonzero(total > 0)
    return docs[np.lexsort((docs, -total[docs]))]
