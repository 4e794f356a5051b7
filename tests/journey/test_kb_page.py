"""The knowledge-base page of the console: a supervisor finds the published guide, writes a new
article with a live preview, and sees the upkeep list — all in a real browser."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest
from playwright.async_api import expect

from helpdesk.config import Settings
from tests.journey.browser import chromium, collect_console
from tests.journey.live import PASSWORD, Browser, live_app
from tests.journey.test_kb_in_call import publish_guide

pytestmark = pytest.mark.browser


async def test_supervisor_searches_writes_and_sees_upkeep(settings: Settings, chromium_path: str) -> None:
    logs: list[str] = []
    async with live_app(settings) as live, chromium(chromium_path) as browser:
        seed = live.seed
        async with Browser(live) as sup:
            await sup.login(seed["supervisor"].username)
            await publish_guide(sup, seed["item"].id, seed["department"].id)
        page = await (await browser.new_context(base_url=live.url)).new_page()
        collect_console(page, logs)
        page.set_default_timeout(20_000)
        await page.goto("/console/")
        await page.fill("#login-username", seed["supervisor"].username)
        await page.fill("#login-password", PASSWORD)
        await page.click("#login-submit")
        await expect(page.locator("#kb-link")).to_be_visible()

        await page.goto("/console/kb.html")
        await page.fill("#kb-view-search .kb-q", "企业设立怎么办")
        await page.press("#kb-view-search .kb-q", "Enter")
        await expect(page.locator("#kb-view-search .kb-results")).to_contain_text("企业设立登记办事指南")

        await page.click("#kb-tab-edit")
        await page.fill("#kb-view-edit textarea[name=body]", "## 申请条件\n<script>x()</script>**必须**到场")
        await expect(page.locator("#kb-view-edit .kb-preview")).to_contain_text("申请条件")
        assert await page.locator("#kb-view-edit .kb-preview script").count() == 0

        await page.click("#kb-tab-upkeep")
        await expect(page.locator("#kb-view-upkeep .kb-upkeep")).to_be_visible()

        # Nothing in the KB about passports: "nothing found", filed for upkeep, in English.
        await page.click("#kb-lang")
        await expect(page.locator("#kb-tab-vocab")).to_have_text("Vocabulary")
        await page.click("#kb-tab-search")
        await page.fill("#kb-view-search .kb-q", "护照怎么办理")
        await page.press("#kb-view-search .kb-q", "Enter")
        await expect(page.locator("#kb-view-search .kb-none")).to_contain_text("Nothing found in the knowledge base")
        await page.click("#kb-view-search .kb-file")
        await expect(page.locator("#kb-view-search .kb-file")).to_contain_text("Filed for upkeep")
        if shots := os.environ.get("KB_SCREENSHOTS"):
            await page.screenshot(path=f"{shots}/kb-none.png")
        await page.click("#kb-lang")
        await expect(page.locator("#kb-view-search .kb-none")).to_contain_text("知识库中没有找到")

        # The supervisor teaches the vocabulary a word; search reads it at once. The tab's first list
        # answers only after the save's fresh one (as on a loaded machine, where CI first saw it): the
        # older answer must not overwrite the newer.
        lists: list[int] = []

        async def first_list_late(route: Any) -> None:
            lists.append(1)
            response = await route.fetch()
            if len(lists) == 1:
                await asyncio.sleep(3)
            await route.fulfill(response=response)

        await page.route("**/api/kb/vocabulary?*", first_list_late)
        await page.click("#kb-tab-vocab")
        await page.fill("#kb-view-vocab input[name=term]", "开办公司")
        await page.fill("#kb-view-vocab input[name=expansions]", "企业设立")
        await page.click("#kb-view-vocab button[type=submit]")
        await expect(page.locator("#kb-view-vocab table")).to_contain_text("开办公司")
        await asyncio.sleep(3.5)  # the late first list has arrived by now
        await expect(page.locator("#kb-view-vocab table")).to_contain_text("开办公司")
        assert len(lists) == 2
        if shots := os.environ.get("KB_SCREENSHOTS"):
            await page.screenshot(path=f"{shots}/kb-vocab.png")
        await page.click("#kb-tab-search")
        await page.fill("#kb-view-search .kb-q", "开办公司")
        await page.press("#kb-view-search .kb-q", "Enter")
        await expect(page.locator("#kb-view-search .kb-results")).to_contain_text("企业设立登记办事指南")
        assert not [line for line in logs if "pageerror" in line or "Content Security Policy" in line], logs
