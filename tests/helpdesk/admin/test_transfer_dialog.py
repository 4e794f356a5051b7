"""The console's warm-transfer dialog lists named colleagues from the staff directory
(GET /api/admin/directory): an agent hands a live call to one of them, whose console rings."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from helpdesk.config import Settings
from tests.journey.browser import chromium, collect_console
from tests.journey.live import PASSWORD, live_app

pytestmark = pytest.mark.browser
STEP_MS = 20_000


async def ready(page: Page, username: str) -> None:
    await page.goto("/console/")
    await page.fill("#login-username", username)
    await page.fill("#login-password", PASSWORD)
    await page.click("#login-submit")
    await expect(page.locator("#workbench")).to_be_visible()
    await page.click("#ready-toggle")
    await expect(page.locator("#agent-state")).to_have_attribute("data-state", "ready")


async def test_an_agent_transfers_a_call_to_a_named_colleague(settings: Settings, chromium_path: str) -> None:
    console: list[str] = []
    async with live_app(settings) as live, chromium(chromium_path) as browser:
        seed = live.seed
        pages = []
        for viewport in ({"width": 1280, "height": 800}, {"width": 1280, "height": 800}, {"width": 390, "height": 844}):
            page = await (await browser.new_context(base_url=live.url, viewport=viewport)).new_page()
            page.set_default_timeout(STEP_MS)
            collect_console(page, console)
            pages.append(page)
        wang, li, applicant = pages
        await ready(wang, seed["agent"].username)
        await ready(li, seed["agent2"].username)
        await applicant.goto(f"/help?item={seed['item'].code}&unit={seed['county'].code}")
        await applicant.click("#help-button")
        await expect(wang.locator("#offer-card")).to_be_visible()
        await wang.click("#offer-accept")
        await expect(wang.locator("#call-state")).to_have_attribute("data-state", "connected")

        await wang.click("#transfer")
        await wang.select_option("#transfer-unit", str(seed["city"].id))
        colleague = wang.locator("#transfer-agent option", has_text="李帮办")
        await expect(colleague).to_have_count(1)
        await wang.select_option("#transfer-agent", label="李帮办")
        await wang.fill("#transfer-note", "申请人需要食品经营许可的进一步指导")
        await wang.click("#transfer-submit")
        await expect(wang.locator("#transfer-status")).to_be_visible()
        await expect(li.locator("#offer-card")).to_be_visible()
        await li.click("#offer-accept")
        await expect(li.locator("#call-state")).to_have_attribute("data-state", "connected")
    assert not [m for m in console if "pageerror" in m], console
