"""Snippets for the page shown only, from a bounded fragment of the stored text (no re-analysis)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

WIDTH = 120
BEFORE = 24
# Section words → the heading a guide uses for that section (a "收不收费" question shows 收费标准).
SECTION_HEADINGS = {
    "收费": "收费标准",
    "费用": "收费标准",
    "时限": "办理时限",
    "材料": "所需材料",
    "条件": "办理条件",
    "流程": "办理流程",
    "地点": "办理地点",
    "地址": "办理地点",
}


def marker(words: Iterable[str]) -> re.Pattern[str] | None:
    """One regex for the words to mark, longest first (营业执照 before 营业)."""
    ws = sorted({w for w in words if w}, key=len, reverse=True)
    if not ws:
        return None
    return re.compile("|".join(re.escape(html.escape(w)) for w in ws), re.I)


def mark(text: str, pattern: re.Pattern[str] | None) -> str:
    escaped = html.escape(text)
    if pattern is None:
        return escaped
    marked = pattern.sub(lambda m: f'<mark class="kb-hl">{m.group(0)}</mark>', escaped)
    return marked.replace('</mark><mark class="kb-hl">', "")  # 股东会+决议 → one mark


def fragment(body: str, ranked_words: list[str], sections: Iterable[str]) -> str:
    """The part of the body to show: the asked section's heading, else around the first occurrence of
    the rarest word found, else the beginning."""
    start = -1
    for s in sections:
        heading = SECTION_HEADINGS.get(s)
        if heading and (at := body.find(heading)) >= 0:
            start = at
            break
    if start < 0:
        for w in ranked_words:
            at = body.find(w)
            if at >= 0:
                start = max(0, at - BEFORE)
                break
    start = max(0, start)
    text = body[start : start + WIDTH]
    return ("…" if start > 0 else "") + text + ("…" if start + WIDTH < len(body) else "")
