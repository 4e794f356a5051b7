"""The help page in a real Chromium: a one-thing-once package shown and sent with the request, and a
call-back confirmed with the code sent to the phone (the demo shows it: no SMS platform); axe clean
in both languages on a phone."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from playwright.async_api import expect
from sqlalchemy import select

from helpdesk.accounts.models import Role
from helpdesk.config import Settings
from helpdesk.workorders.models import WorkOrder
from tests.conftest import CHROMIUM, require_service
from tests.helpdesk.factories import make_staff
from tests.journey.a11y import violations
from tests.journey.browser import chromium, collect_console
from tests.journey.live import Browser as Client
from tests.journey.live import live_app

pytestmark = pytest.mark.browser
SCREENSHOTS = Path(os.environ.get("HELPDESK_SCREENSHOTS_DIR") or tempfile.gettempdir())
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "locale": "zh-CN"}


async def test_package_and_phone_code_on_the_help_page(settings: Settings) -> None:
    require_service("Chromium", Path(CHROMIUM).exists())
    found: list[str] = []
    logs: list[str] = []
    async with live_app(settings) as live, Client(live) as admin, chromium(CHROMIUM) as browser:
        seed = live.seed
        async with live.state.sessions() as s:
            await make_staff(s, unit=seed["city"], role=Role.admin, username="hadmin")
            await s.commit()
        await admin.login("hadmin")
        r = await admin.http.put("/api/admin/packages/KBCT-1", json={
            "name": "开办餐馆一件事", "name_en": "Open a restaurant",
            "items": [seed["item"].code, seed["other_item"].code]})
        assert r.status_code == 200, r.text
        context = await browser.new_context(base_url=live.url, **PHONE)
        page = await context.new_page()
        collect_console(page, logs)
        page.set_default_timeout(15_000)
        # Nobody is online: the page goes to the call-back form, which asks for the phone's code.
        await page.goto(f"/help?item={seed['item'].code}&unit={seed['county'].code}&package=KBCT-1")
        await expect(page.locator("#item-package")).to_contain_text("开办餐馆一件事")
        await expect(page.locator("#item-package")).to_contain_text("食品经营许可（小餐饮）")
        await page.screenshot(path=str(SCREENSHOTS / "help-package.png"))
        found += await violations(page, "help with a package (zh)")
        await page.click("#help-button")
        await expect(page.locator("#callback-view")).to_be_visible()
        await expect(page.locator("#callback-code-row")).to_be_visible()
        await page.fill("#callback-phone", "13800000000")
        await page.click("#callback-submit")
        await expect(page.locator("#callback-error")).to_contain_text("6 位验证码")
        await page.click("#callback-send-code")
        hint = page.locator("#callback-code-hint")
        await expect(hint).to_contain_text("138****0000")
        await expect(page.locator("#callback-send-code")).to_be_disabled()
        code = (await hint.text_content() or "").rsplit("：", 1)[-1].strip("）")
        await page.fill("#callback-code", "000000" if code != "000000" else "111111")
        await page.click("#callback-submit")
        await expect(page.locator("#callback-error")).to_contain_text("验证码不正确")
        found += await violations(page, "call-back with code (zh)")
        await page.screenshot(path=str(SCREENSHOTS / "callback-phone-code.png"), full_page=True)
        await page.fill("#callback-code", code)
        await page.click("#callback-submit")
        await expect(page.locator("#callback-done")).to_be_visible()
        await page.click("#lang-toggle")
        found += await violations(page, "call-back done (en)")
        await page.goto(f"/help?item={seed['item'].code}&package=KBCT-1&lang=en")
        await expect(page.locator("#item-package")).to_contain_text("Open a restaurant")
        await context.close()
    async with live.state.sessions() as s:
        wo = await s.scalar(select(WorkOrder).where(WorkOrder.callback_phone == "13800000000"))
        assert wo is not None and wo.status == "callback_pending"
    assert not found, "\n".join(found)
    assert not [line for line in logs if "pageerror" in line], logs
