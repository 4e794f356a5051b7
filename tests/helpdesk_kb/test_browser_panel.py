"""The console panel in headless Chromium: suggestions, search with highlights, open, send into call."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from helpdesk_kb.routes import STATIC_DIR

from helpdesk.workorders.models import WorkOrder
from tests.helpdesk_kb.conftest import World

PAGE = """<!doctype html><meta charset="utf-8"><div id="kb-panel"></div>
<script type="module">
import { mountKbPanel } from "/static/kb/kb-panel.js";
window.sentEvents = [];
document.addEventListener("kb:sent", (e) => window.sentEvents.push(e.detail));
mountKbPanel(document.getElementById("kb-panel"), {workOrderId: "%s", itemId: %d, context: "营业执照变更"});
</script>"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.browser
async def test_panel_suggests_searches_and_sends(
    api: Any, world: World, add_article: Any, work_order: WorkOrder, sent: list[Any], chromium_path: str
) -> None:
    from playwright.async_api import async_playwright

    article_id = await add_article(
        "企业变更登记（营业执照变更）办事指南",
        "## 办理流程\n\n网上提交<script>x()</script>",
        item_ids=[world.change_item.id],
        is_guide=True,
    )
    app: FastAPI = api._transport.app  # the test app with the KB router (see conftest)
    app.mount("/static/kb", StaticFiles(directory=STATIC_DIR), name="kb-static")

    @app.get("/", response_class=HTMLResponse)
    async def page() -> str:
        return PAGE % (work_order.id, world.change_item.id)

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    serving = asyncio.create_task(server.serve())
    errors: list[str] = []
    try:
        while not server.started:
            await asyncio.sleep(0.05)
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium_path, args=["--no-sandbox", "--headless"])
            page_ = await browser.new_page()
            page_.on("pageerror", lambda e: errors.append(str(e)))
            await page_.goto(f"http://127.0.0.1:{port}/", timeout=15_000)
            await page_.wait_for_selector(".kb-hit", timeout=10_000)  # suggestions for the call's item
            await page_.fill(".kb-q", "营业执照怎么变更")
            await page_.click(".kb-search button[type=submit]")
            await page_.wait_for_selector(".kb-hit mark.kb-hl", timeout=10_000)
            await page_.click(".kb-hit-open")
            await page_.wait_for_selector(".kb-article h2", timeout=10_000)
            assert await page_.locator(".kb-article script").count() == 0
            await page_.click(".kb-article footer .kb-send")
            await page_.wait_for_function("window.sentEvents.length > 0", timeout=10_000)
            await browser.close()
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(serving, 10)
    assert errors == []
    assert sent and sent[-1][0] == work_order.id and sent[-1][2]["article"]["id"] == article_id
