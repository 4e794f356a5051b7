"""The knowledge base beside the call: the item's guide on the help page, and a blank form sent
from the KB into the call lands with the applicant and on the work order."""

from __future__ import annotations

from typing import Any

import pytest

from helpdesk.clock import FakeClock
from helpdesk.config import Settings
from tests.journey.live import Browser, Live, live_app
from tests.journey.test_journey_api import start_call

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
async def live(settings: Settings, clock: FakeClock) -> Any:
    async with live_app(settings, clock) as server:
        yield server


async def publish_guide(sup: Browser, item_id: int, department_id: int) -> tuple[str, str]:
    r = await sup.http.post("/api/kb/articles", json={
        "title": "企业设立登记办事指南", "body": "## 申请材料\n1. 名称使用承诺书\n<script>alert(1)</script>",
        "item_ids": [item_id], "department_ids": [department_id], "is_guide": True, "tags": ["设立"]})
    assert r.status_code == 201, r.text
    article = r.json()["id"]
    r = await sup.http.post(f"/api/kb/articles/{article}/attachments", data={"kind": "blank_form", "title": "承诺书"},
                            files={"file": ("名称使用承诺书.pdf", PDF, "application/pdf")})
    assert r.status_code == 201, r.text
    attachment = r.json()["id"]
    for action in ("submit", "publish"):
        r = await sup.http.post(f"/api/kb/articles/{article}/{action}", json={})
        assert r.status_code == 200, r.text
    return article, attachment


async def test_guide_on_help_page_and_form_sent_into_call(live: Live) -> None:
    seed = live.seed
    async with Browser(live) as sup, Browser(live) as agent, Browser(live) as applicant:
        await sup.login(seed["supervisor"].username)
        article, attachment = await publish_guide(sup, seed["item"].id, seed["department"].id)

        from helpdesk.metrics import KB_QUERY_SECONDS

        searches = KB_QUERY_SECONDS._sum.get()  # the app times every KB search for /metrics
        r = await sup.http.get("/api/kb/search", params={"q": "企业设立"})
        assert r.status_code == 200 and r.json()["hits"], r.text
        assert KB_QUERY_SECONDS._sum.get() > searches
        item = (await applicant.http.get(f"/api/help/items/{seed['item'].code}")).json()
        assert "名称使用承诺书" in item["guide_html"] and "<script" not in item["guide_html"]

        a_room, _ = await start_call(live, agent, applicant)
        room = a_room["room"]
        r = await agent.http.post(f"/api/kb/calls/{room}/send", json={"attachment_id": attachment})
        assert r.status_code == 200, r.text
        shared = (await applicant.expect("file"))["file"]
        assert shared["name"] == "名称使用承诺书.pdf" and shared["source"] == "kb"
        got = await applicant.http.get(shared["url"])
        assert got.status_code == 200 and got.content == PDF

        r = await agent.http.post(f"/api/kb/calls/{room}/send", json={"article_id": article})
        assert r.status_code == 200, r.text
        link = (await applicant.expect("file"))["file"]
        page = await applicant.http.get(link["url"])
        assert page.status_code == 200 and "承诺书" in page.text

        # Someone outside the call cannot push into it.
        r = await sup.http.post(f"/api/kb/calls/{room}/send", json={"attachment_id": attachment})
        assert r.status_code == 403
        wo = (await agent.http.get(f"/api/workorders/{room}")).json()
        assert [(f["name"], f["source"]) for f in wo["files"]] == [("名称使用承诺书.pdf", "kb")]
        assert "kb_article_sent" in [e["kind"] for e in wo["events"]]


async def test_resolved_call_notes_become_a_draft_article(live: Live) -> None:
    seed = live.seed
    async with Browser(live) as agent, Browser(live) as applicant, Browser(live) as stranger:
        a_room, _ = await start_call(live, agent, applicant)
        room = a_room["room"]
        await applicant.send({"type": "hangup", "room": room})
        await agent.expect("call.ended")
        notes = "字号重复时：先做名称自主申报，再上传名称使用承诺书。"
        r = await agent.http.post(f"/api/workorders/{room}/wrapup", json={"outcome": "resolved", "notes": notes})
        assert r.status_code == 200
        r = await agent.http.post("/api/kb/drafts/from-work-order", json={"work_order_id": room})
        assert r.status_code == 201, r.text
        draft = r.json()
        assert draft["status"] == "draft" and "名称使用承诺书" in draft["body"]
        assert draft["title"].startswith("企业设立登记")
        # Someone who may not see the work order cannot mine its notes.
        await stranger.login(seed["agent2"].username)
        r = await stranger.http.post("/api/kb/drafts/from-work-order", json={"work_order_id": room})
        assert r.status_code == 404
