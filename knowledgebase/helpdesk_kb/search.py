"""Search: a typed query → concepts (vocabulary, stop words, typos) → every article scored at once over
the index generation's arrays → one ranking (the page only slices it) → "answer" or "none"."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from whoosh import query as Q
from whoosh.searching import Searcher

from helpdesk_kb.query import Concept, parse
from helpdesk_kb.scoring import ConceptScores, Generation, ranked, score_concepts
from helpdesk_kb.snippets import SECTION_HEADINGS, fragment, mark, marker
from helpdesk_kb.vocab import Vocabulary, normalize

MAX_PER_PAGE = 50
# "No answer" when the best article covers too little of what was asked (each concept weighted by its
# IDF: a word no article has weighs most) or scores too little against the query's own best possible
# score. Calibrated on bench/kb_eval (bench/bench_kb_eval.py).
MIN_COVERAGE = 0.6
MIN_RELATIVE = 0.2
MAYBE_RELATED = 3
WEAK_SHARE = 0.0  # a concept matched by its sub-words only (注册 of 商标注册) is half covered


@dataclass
class SearchHit:
    id: str
    title_html: str
    snippet_html: str
    score: float
    items: list[int]
    status: str
    guide: bool
    maybe_related: bool = False


@dataclass
class SearchPage:
    query: str
    total: int
    page: int
    per_page: int
    hits: list[SearchHit] = field(default_factory=list)
    mode: str = "ranked"  # ranked | none (kept for the API: there is one ranking now)
    total_exact: bool = True
    did_you_mean: str | None = None
    answer: str = "none"  # found | none
    coverage: float = 0.0  # share of the query the best article covers
    relative: float = 0.0  # best score / the query's best possible score


def make_filter(
    items: Sequence[int] | None = None,
    departments: Sequence[int] | None = None,
    statuses: Sequence[str] | None = ("published",),
    scopes: Sequence[int] | None = None,
    guide: bool | None = None,
) -> Q.Query | None:
    """Restrict to items/departments/statuses; scopes: the caller's unit and its ancestors."""
    parts: list[Q.Query] = []
    if items:
        parts.append(Q.Or([Q.Term("items", str(i)) for i in items]))
    if departments:
        parts.append(Q.Or([Q.Term("departments", str(d)) for d in departments]))
    if statuses:
        parts.append(Q.Or([Q.Term("status", s) for s in statuses]))
    if scopes is not None:
        parts.append(Q.Or([Q.Term("scope", "all"), *(Q.Term("scope", str(u)) for u in scopes)]))
    if guide is not None:
        parts.append(Q.Term("guide", "1" if guide else "0"))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else Q.And(parts)


def decide(concepts: list[Concept], sc: ConceptScores, top: int, allowed: np.ndarray) -> tuple[bool, float, float]:
    """(answered, coverage, relative) for the best article."""
    topical = [i for i, c in enumerate(concepts) if not c.section] or list(range(len(concepts)))
    weights = {i: concepts[i].importance for i in topical}
    want = sum(weights.values())
    got = sum(w * (1.0 if sc.strong[i][top] else WEAK_SHARE if sc.weak[i][top] else 0.0) for i, w in weights.items())
    coverage = got / want if want else 0.0
    main = max(topical, key=lambda i: weights[i])  # the query's most informative word: its topic
    # The best possible for this query: each concept at its best in any allowed article at once.
    best = sum(float(c[allowed].max()) for c in sc.concept if allowed.any())
    relative = sum(float(c[top]) for c in sc.concept) / best if best else 0.0
    answered = bool(sc.strong[main][top]) and coverage >= MIN_COVERAGE and relative >= MIN_RELATIVE
    return answered, coverage, relative


def _hit(
    searcher: Searcher, docnum: int, score: float, words: list[str], sections: list[str], maybe: bool
) -> SearchHit:
    fields = searcher.stored_fields(docnum)
    pattern = marker(words)
    body = str(fields.get("body", ""))
    return SearchHit(
        id=str(fields["id"]),
        title_html=mark(str(fields.get("title", "")), pattern),
        snippet_html=mark(fragment(body, words, sections), pattern),
        score=round(float(score), 4),
        items=[int(x) for x in str(fields.get("items", "")).split()],
        status=str(fields.get("status", "")),
        guide=fields.get("guide") == "1",
        maybe_related=maybe,
    )


def _highlight_words(concepts: list[Concept], sc: ConceptScores) -> list[str]:
    """Rarest concept first, then its forms by weight: the snippet centres on what matters most."""
    order = sorted(range(len(concepts)), key=lambda i: -concepts[i].importance)
    words: list[str] = []
    for i in order:
        words += [w for w, _ in sorted(concepts[i].forms.items(), key=lambda kv: (-kv[1], -len(kv[0])))]
    return words


def run_search(
    searcher: Searcher,
    gen: Generation,
    text: str,
    *,
    vocabulary: Vocabulary,
    page: int = 1,
    per_page: int = 10,
    items: Sequence[int] | None = None,
    departments: Sequence[int] | None = None,
    statuses: Sequence[str] | None = ("published",),
    scopes: Sequence[int] | None = None,
    guide: bool | None = None,
    with_suggestion: bool = True,
) -> SearchPage:
    page = max(1, page)
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    out = SearchPage(query=text, total=0, page=page, per_page=per_page, mode="none")
    concepts = parse(
        text,
        vocabulary,
        known=lambda w: gen.known(searcher, w),
        correct=lambda w: gen.correct(searcher, w),
        together=lambda w, others: gen.together(searcher, w, others),
        section_words=frozenset(SECTION_HEADINGS),
    )
    if not concepts:
        return out
    if with_suggestion and any(c.corrected for c in concepts):
        fixed = normalize(text)
        for c in concepts:
            if c.corrected:
                fixed = fixed.replace(c.text, c.corrected)
        out.did_you_mean = fixed
    allowed = gen.mask(searcher, make_filter(items, departments, statuses, scopes, guide))
    guides = gen.mask(searcher, Q.Term("guide", "1"))
    sc = score_concepts(gen, searcher, [c.forms for c in concepts], allowed, guides)
    order = ranked(sc.total)
    if not order.size:
        return out
    answered, out.coverage, out.relative = decide(concepts, sc, int(order[0]), allowed)
    words = _highlight_words(concepts, sc)
    sections = [w for c in concepts if c.section for w in c.forms]
    if not answered:
        if page > 1:
            return out
        out.hits = [_hit(searcher, int(d), sc.total[d], words, sections, True) for d in order[:MAYBE_RELATED]]
        return out
    out.answer, out.mode, out.total = "found", "ranked", int(order.size)
    shown = order[(page - 1) * per_page : page * per_page]
    out.hits = [_hit(searcher, int(d), sc.total[d], words, sections, False) for d in shown]
    return out
