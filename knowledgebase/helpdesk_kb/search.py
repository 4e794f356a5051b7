"""Query building: AND of the typed words first, then a coordinated OR; snippets; "did you mean"."""

from __future__ import annotations

import html
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from whoosh import highlight
from whoosh import query as Q
from whoosh.searching import Hit, Searcher

from helpdesk_kb.analysis import query_words

FIELD_BOOSTS = {"title": 3.0, "tags": 2.0, "body": 1.0}
SUBWORD_WEIGHT = 0.6  # 许可 inside 许可证 counts, a little less than the word itself
GUIDE_BOOST = 2.0  # among matching articles, an item's guide ranks a little higher (办事指南 first)
MAX_PER_PAGE = 50


@dataclass
class SearchHit:
    id: str
    title_html: str
    snippet_html: str
    score: float
    items: list[int]
    status: str
    guide: bool


@dataclass
class SearchPage:
    query: str
    total: int
    page: int
    per_page: int
    hits: list[SearchHit] = field(default_factory=list)
    mode: str = "and"  # and | and+or | or | none
    total_exact: bool = True
    did_you_mean: str | None = None


def word_query(alternatives: Sequence[str]) -> Q.Query:
    """One typed word: any of its forms, in any field, weighted by field and by form."""
    terms: list[Q.Query] = []
    for n, alt in enumerate(alternatives):
        weight = 1.0 if n == 0 else SUBWORD_WEIGHT
        for fname, boost in FIELD_BOOSTS.items():
            terms.append(Q.Term(fname, alt, boost=boost * weight))
    return Q.Or(terms)


def with_guide_boost(q: Q.Query) -> Q.Query:
    """Matching stays the query's; a guide article only gains score."""
    return Q.AndMaybe(q, Q.Term("guide", "1", boost=GUIDE_BOOST))


def filter_docs(searcher: Searcher, flt: Q.Query | None) -> set[int] | None:
    """The filter's document numbers, computed once per searcher (i.e. per index generation)."""
    if flt is None:
        return None
    cache: dict[Q.Query, set[int]] = searcher.__dict__.setdefault("_kb_filters", {})
    if flt not in cache:
        if len(cache) > 256:
            cache.clear()
        cache[flt] = set(searcher.docs_for_query(flt))
    return cache[flt]


def count(res: Any, need: int, allowed: set[int] | None) -> tuple[int, bool]:
    """Exact when the hits end on this page; else Whoosh's upper-bound estimate (an exact count walks
    every match: 50-150 ms per query over 10,000 articles)."""
    scored = int(res.scored_length())
    if scored < need:
        return scored, True
    estimate = int(res.estimated_length())
    cap = len(allowed) if allowed is not None else int(res.searcher.doc_count())
    return min(estimate, cap), False


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


def _formatter() -> highlight.HtmlFormatter:
    return highlight.HtmlFormatter(tagname="mark", classname="kb-hl", termclass="kb-t")


def _to_hit(hit: Hit) -> SearchHit:
    fields = hit.fields()
    hit.results.formatter = _formatter()
    hit.results.fragmenter = highlight.ContextFragmenter(maxchars=160, surround=40)
    snippet = hit.highlights("body", top=2, minscore=1)
    if not snippet:
        snippet = html.escape(str(fields.get("body", ""))[:120])
    title_html = hit.highlights("title", top=1, minscore=1)
    if not title_html:
        title_html = html.escape(str(fields.get("title", "")))
    hit.results.fragmenter = highlight.WholeFragmenter()
    return SearchHit(
        id=str(fields["id"]),
        title_html=title_html,
        snippet_html=snippet,
        score=float(hit.score or 0.0),
        items=[int(x) for x in str(fields.get("items", "")).split()],
        status=str(fields.get("status", "")),
        guide=fields.get("guide") == "1",
    )


def run_search(
    searcher: Searcher,
    text: str,
    *,
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
    words = query_words(text)
    if not words:
        return out
    flt = make_filter(items, departments, statuses, scopes, guide)
    allowed = filter_docs(searcher, flt)
    if allowed is not None and not allowed:
        return out  # Whoosh reads an empty filter set as "no filter"
    need = page * per_page
    and_q = Q.And([word_query(w) for w in words]) if len(words) > 1 else word_query(words[0])
    res = searcher.search(with_guide_boost(and_q), limit=need, filter=allowed)
    hits: list[Hit] = list(res)
    total, out.total_exact = count(res, need, allowed)
    out.mode = "and" if total else "none"
    if total < need and len(words) > 1:
        # Near-synonyms and extra words: OR with a coordination factor so more matched words rank first.
        minmatch = 1 if len(words) <= 3 else len(words) // 2
        or_q = Q.Or([word_query(w) for w in words], scale=0.9, minmatch=minmatch)
        or_res = searcher.search(with_guide_boost(or_q), limit=need + total, filter=allowed)
        seen = {h["id"] for h in hits}
        extra = [h for h in or_res if h["id"] not in seen]
        if extra:
            out.mode = "and+or" if hits else "or"
        hits.extend(extra)
        or_total, out.total_exact = count(or_res, need + total, allowed)
        total = max(total, or_total, len(hits))
    out.total = total
    out.hits = [_to_hit(h) for h in hits[(page - 1) * per_page : need]]
    if with_suggestion and out.mode != "and":
        out.did_you_mean = did_you_mean(searcher, text, words, flt, titles=total == 0)
    return out


def _bigrams(text: str) -> set[str]:
    chars = [c for c in text.lower() if c.isalnum()]
    return {a + b for a, b in itertools.pairwise(chars)} or set(chars)


def did_you_mean(
    searcher: Searcher, text: str, words: list[list[str]], flt: Q.Query | None, titles: bool = True
) -> str | None:
    """Correct unknown words from the index's term dictionary, else offer the closest article title."""
    reader = searcher.reader()
    corrected: list[str] = []
    changed = False
    for alts in words:
        word = alts[0]
        if any(reader.doc_frequency(f, a) for a in alts for f in FIELD_BOOSTS):
            corrected.append(word)
            continue
        suggestion = None
        if len(word) >= 2:
            for fname in ("title", "body"):
                found = searcher.corrector(fname).suggest(word, limit=1, maxdist=1)
                if found:
                    suggestion = found[0]
                    break
        if suggestion and suggestion != word:
            corrected.append(suggestion)
            changed = True
        else:
            corrected.append(word)
    if changed:
        candidate = "".join(corrected) if not any(c.isascii() for c in corrected) else " ".join(corrected)
        check = Q.And([word_query([w]) for w in corrected])
        if searcher.search(check, limit=1, filter=flt):
            return candidate
    return closest_title(searcher, text, flt) if titles else None


def closest_title(searcher: Searcher, text: str, flt: Q.Query | None) -> str | None:
    want = _bigrams(text)
    if not want:
        return None
    best: tuple[float, str] = (0.0, "")
    titles: Any = searcher.search(Q.Every(), limit=None, filter=flt) if flt is not None else None
    stored = (h.fields() for h in titles) if titles is not None else searcher.all_stored_fields()
    for fields in stored:
        title = str(fields.get("title", ""))
        got = _bigrams(title)
        score = len(want & got) / len(want | got) if got else 0.0
        if score > best[0]:
            best = (score, title)
    return best[1] if best[0] >= 0.25 else None
