"""The supervisor's live wall in headless Chromium against a live server: the county supervisor
logs in through the console's form, the wall renders from the socket feed, and when an applicant
joins the queue the wall shows it without a reload; an agent opening the page is turned away."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from helpdesk.config import Settings
from tests.journey.browser import chromium, collect_console
from tests.journey.live import PASSWORD, Browser, Live, live_app

pytestmark = pytest.mark.browser
STEP_MS = 15_000  # snapshots come every ~2 s


async def login_via_console(page: Page, username: str) -> None:
    await page.fill("#login-username", username)
    await page.fill("#login-password", PASSWORD)
    await page.click("#login-submit")


async def test_supervisor_wall_updates_live(settings: Settings, chromium_path: str, tmp_path: Path) -> None:
    logs: list[str] = []
    async with live_app(settings) as live, chromium(chromium_path) as browser:
        ctx = await browser.new_context(base_url=live.url, viewport={"width": 1440, "height": 900})
        page = await ctx.new_page()
        collect_console(page, logs)
        page.set_default_timeout(STEP_MS)
        try:
            await run_wall(live, page)
        except BaseException:
            print("\n".join(logs[-60:]))
            await page.screenshot(path=str(tmp_path / "supervisor.png"), full_page=True)
            raise
        errors = [line for line in logs if line.startswith("pageerror")]
        assert not errors, errors


async def run_wall(live: Live, page: Page) -> None:
    seed = live.seed
    # Not logged in: the page says so and links to the console's login, which comes back here.
    await page.goto("/console/supervisor.html")
    await expect(page.locator("#sup-gate")).to_be_visible()
    await page.click("#sup-gate-link")
    await login_via_console(page, seed["supervisor"].username)
    await expect(page).to_have_url(re.compile(r"/console/supervisor\.html"))
    await expect(page.locator("#sup-totals")).to_be_visible()

    # An agent of the county comes online (away: online, not taking calls), so applicants may wait.
    async with Browser(live) as agent, Browser(live) as applicant:
        await agent.login(seed["agent"].username)
        await agent.connect()

        # The first snapshots: nobody waiting, the agent on the wall.
        waiting = page.locator('#sup-totals [data-total="waiting"]')
        await expect(waiting).to_have_attribute("data-value", "0")
        await expect(page.locator("#sup-updated")).to_have_attribute("data-stale", "false")
        await expect(page.locator(f'#sup-agents tr[data-agent-id="{seed["agent"].id}"]')).to_contain_text("王帮办")
        await expect(page.locator("#sup-queues")).to_contain_text("当前无人排队")

        # The applicant joins the queue: the wall shows it on the next snapshot, no reload.
        marker = await page.evaluate("() => (window.__supMarker = Math.random())")
        await applicant.open_help(seed["item"].code)
        r = await applicant.http.post("/api/help/requests", json={"item": seed["item"].code, "channel": "video",
                                                                   "unit": seed["county"].code})
        assert r.status_code == 200, r.text
        await expect(waiting).to_have_attribute("data-value", "1")
        row = page.locator(f'#sup-queues tr[data-item-id="{seed["item"].id}"]')
        await expect(row).to_contain_text("企业设立登记")
        await expect(row).to_have_attribute("data-waiting", "1")
        assert await page.evaluate("() => window.__supMarker") == marker  # the same page: no reload

        # The applicant leaves: the wall empties again.
        wo = r.json()["work_order"]
        r = await applicant.http.post(f"/api/help/requests/{wo}/leave")
        assert r.status_code == 200, r.text
        await expect(waiting).to_have_attribute("data-value", "0")

    # The figures tab loads the table; the export link carries the same range.
    await page.click("#sup-tab-stats")
    await expect(page.locator("#sup-figures thead")).to_contain_text("服务水平")
    href = await page.get_attribute("#sup-export", "href")
    assert href and href.startswith("/api/stats/figures.csv?group=day&from=")

    # Language switch: the wall's labels follow.
    await page.click("#sup-tab-wall")
    await page.click("#lang-toggle")
    await expect(page.locator('#sup-totals [data-total="waiting"] dt')).to_have_text("Waiting")


async def test_agents_are_turned_away(settings: Settings, chromium_path: str) -> None:
    async with live_app(settings) as live, chromium(chromium_path) as browser:
        page = await (await browser.new_context(base_url=live.url)).new_page()
        page.set_default_timeout(STEP_MS)
        await page.goto("/console/")
        await login_via_console(page, live.seed["agent"].username)
        await expect(page.locator("#workbench")).to_be_visible()
        await expect(page.locator("#supervisor-link")).to_be_hidden()
        await page.goto("/console/supervisor.html")
        await expect(page.locator("#sup-gate")).to_be_visible()
        await expect(page.locator("#sup-gate-text")).to_contain_text("仅向主管和管理员开放")
        await expect(page.locator("#sup-app")).to_be_hidden()
