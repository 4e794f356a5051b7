"""Markdown to safe HTML: markdown-it (raw HTML off) and then an nh3 (ammonia) allowlist, so a script,
an event handler or a javascript: URL in an article is inert whatever the editor typed."""

from __future__ import annotations

import html as htmllib
import re
from functools import lru_cache

import nh3
from markdown_it import MarkdownIt

ALLOWED_TAGS = frozenset(
    """a abbr b blockquote br code dd del div dl dt em h1 h2 h3 h4 h5 h6 hr i img kbd li mark ol p
    pre s span strong sub sup table tbody td tfoot th thead tr u ul""".split()  # noqa: SIM905
)
ALLOWED_ATTRS = {
    "a": ["href", "title"],
    "img": ["src", "alt", "title", "width", "height"],
    "th": ["align", "colspan", "rowspan"],
    "td": ["align", "colspan", "rowspan"],
    "ol": ["start"],
    "code": ["class"],
    "span": ["class"],
}
ALLOWED_PROTOCOLS = frozenset({"http", "https", "mailto", "tel"})
_TAG = re.compile(r"<[^>]+>")
_BLOCK_TAG = re.compile(
    r"</?(?:p|h[1-6]|li|ul|ol|dl|dt|dd|tr|td|th|table|thead|tbody|blockquote|pre|br|hr|div)\b[^>]*>"
)


@lru_cache(maxsize=1)
def _md() -> MarkdownIt:
    # commonmark without raw HTML; tables and strikethrough for guides; linkify off (no extra deps).
    return MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
        ["table", "strikethrough"]
    )


def _allow_attr(tag: str, name: str, value: str) -> str | None:
    if tag == "img" and name == "src" and not value.startswith(("/api/kb/", "https://")):
        return None  # images only from our own attachments (relative) or https; never data: or javascript:
    return value


def render_markdown(text: str) -> str:
    """Safe HTML for an article body; links open as plain links (no target, rel noopener added)."""
    return nh3.clean(
        _md().render(text or ""),
        tags=set(ALLOWED_TAGS),
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRS.items()},
        attribute_filter=_allow_attr,
        url_schemes=set(ALLOWED_PROTOCOLS),
        link_rel="noopener noreferrer nofollow",
    )


def plain_text(text: str) -> str:
    """The words of an article for the index and snippets: Markdown rendered, tags removed."""
    html = _md().render(text or "")
    stripped = htmllib.unescape(_TAG.sub("", _BLOCK_TAG.sub(" ", html)))
    return re.sub(r"\s+", " ", stripped).strip()
