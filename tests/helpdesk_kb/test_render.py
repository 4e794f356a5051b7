"""Bad Markdown or script in an article is rendered inert."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import httpx
import pytest
from helpdesk_kb.render import plain_text, render_markdown

from tests.helpdesk_kb.conftest import World

NASTY = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[点我](javascript:alert(1))",
    "[点我](JaVaScRiPt:alert(1))",
    "[点我](&#106;avascript:alert(1))",
    "[点我](vbscript:msgbox(1))",
    "![图](data:image/svg+xml;base64,PHN2Zz48c2NyaXB0PmFsZXJ0KDEpPC9zY3JpcHQ+PC9zdmc+)",
    '<a href="javascript:alert(1)">x</a>',
    "<iframe src=https://evil.example></iframe>",
    '<div style="background:url(javascript:alert(1))">x</div>',
    "<svg onload=alert(1)>",
    "```\n</code><script>alert(1)</script>\n```",
    '[x](https://ok.example "t" onmouseover=alert(1))',
]


class TagCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))


@pytest.mark.parametrize("source", NASTY)
def test_script_and_javascript_urls_are_inert(source: str) -> None:
    """Parse the output as a browser would: no dangerous element, handler, style or URL scheme survives."""
    parser = TagCollector()
    parser.feed(render_markdown(source))
    for tag, attrs in parser.tags:
        assert tag not in {"script", "iframe", "svg", "object", "embed", "style", "form", "input"}
        for name, value in attrs.items():
            assert not name.startswith("on") and name != "style", (tag, name)
            if name in ("href", "src"):
                assert value.startswith(("https://", "http://", "/api/kb/", "mailto:", "tel:")), value


def test_ordinary_guides_keep_their_shape() -> None:
    html = render_markdown(
        "## 办理材料\n\n1. 申请书\n2. 营业执照\n\n| 项目 | 时限 |\n|---|---|\n| 变更 | 1个工作日 |\n\n"
        "[政务服务网](https://www.hbzwfw.gov.cn) ![样例](/api/kb/public/attachments/abc)"
    )
    assert "<h2>办理材料</h2>" in html and "<ol>" in html and "<table>" in html
    assert 'href="https://www.hbzwfw.gov.cn"' in html and 'rel="noopener noreferrer nofollow"' in html
    assert 'src="/api/kb/public/attachments/abc"' in html


def test_plain_text_for_the_index() -> None:
    assert plain_text("## 标题\n\n**加粗**和[链接](https://a.cn)") == "标题 加粗和链接"


async def test_an_article_with_script_is_served_inert(api: httpx.AsyncClient, world: World, add_article: Any) -> None:
    article_id = await add_article("恶意内容测试", "正文<script>document.cookie</script>[x](javascript:alert(1))")
    for url in (f"/api/kb/articles/{article_id}", f"/api/kb/public/articles/{article_id}"):
        html = (await api.get(url, headers={"X-Staff": "agent"})).json()["html"]
        assert "<script>" not in html and 'href="javascript' not in html
        assert "&lt;script&gt;" in html  # shown as text, not run
