"""The admin pages' 系统对接 tab in a real Chromium at tablet size: a webhook subscription created
(secret shown once), a dead letter replayed from the delivery log, a package saved, a message
template reworded; axe clean in both languages; hidden from a unit admin."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from playwright.async_api import expect
from sqlalchemy import select

from helpdesk.accounts.models import Role
from helpdesk.config import Settings
from helpdesk.integration.models import EventDelivery, MessageTemplate, ServicePackage
from tests.conftest import CHROMIUM, free_port, require_service
from tests.helpdesk.factories import PASSWORD, make_staff
from tests.journey.a11y import violations
from tests.journey.browser import chromium, collect_console
from tests.journey.live import Browser as Client
from tests.journey.live import live_app

pytestmark = pytest.mark.browser
SCREENSHOTS = Path(os.environ.get("HELPDESK_SCREENSHOTS_DIR") or tempfile.gettempdir())
TABLET = {"viewport": {"width": 1024, "height": 768}, "locale": "zh-CN"}


async def test_integration_tab(settings: Settings) -> None:
    require_service("Chromium", Path(CHROMIUM).exists())
    settings.webhook_max_attempts, settings.outbox_poll_s = 1, 0.1
    found: list[str] = []
    logs: list[str] = []
    async with live_app(settings) as live, Client(live) as partner, chromium(CHROMIUM) as browser:
        seed = live.seed
        async with live.state.sessions() as s:
            await make_staff(s, unit=seed["city"], role=Role.admin, username="iadmin")
            await s.commit()
        context = await browser.new_context(base_url=live.url, **TABLET)
        page = await context.new_page()
        collect_console(page, logs)
        page.set_default_timeout(15_000)
        await page.goto("/console/admin/#integration")
        await page.fill("#login-username", "iadmin")
        await page.fill("#login-password", PASSWORD)
        await page.click("#login-submit")
        await page.click('.tab[data-panel="integration"]')
        await page.fill("#hook-name", "12345 热线")
        await page.fill("#hook-url", f"http://127.0.0.1:{free_port()}/nobody-listens")
        await page.click("#hook-form button[type=submit]")
        await expect(page.locator("#hook-created")).to_contain_text("只显示这一次")
        await expect(page.locator("#hook-table tbody tr")).to_have_count(1)
        # A call-back makes events; nobody listens, so after one attempt each is a dead letter.
        await partner.open_help(seed["other_item"].code)
        code = (await partner.http.post("/api/help/phone-codes", json={"phone": "13800000000"})).json()
        r = await partner.http.post("/api/help/callbacks", json={"item": seed["other_item"].code,
                                                                  "phone": "13800000000", "code": code["dev_code"]})
        assert r.status_code == 200, r.text
        await page.select_option("#dlv-status", "dead")
        dead = page.locator("#dlv-table tbody tr", has_text="callback.scheduled")
        for _ in range(50):
            await page.click("#dlv-refresh")
            if await dead.count():
                break
            await page.wait_for_timeout(200)
        await expect(dead).to_have_count(1)
        found += await violations(page, "integration tab (zh)")
        await page.screenshot(path=str(SCREENSHOTS / "admin-integration.png"), full_page=True)
        await dead.get_by_role("button").click()
        await expect(page.locator("#toast")).to_contain_text("重新排队")
        await page.fill("#pkg-code", "KBCT-1")
        await page.fill("#pkg-name", "开办餐馆一件事")
        await page.fill("#pkg-items", f"{seed['item'].code} {seed['other_item'].code}")
        await page.click("#pkg-form button[type=submit]")
        await expect(page.locator("#pkg-table tbody tr")).to_have_count(1)
        area = page.locator("#tpl-work_order_result-zh-CN")
        await area.fill("工单{number}：{outcome}")
        await area.locator("xpath=following-sibling::button").click()
        await expect(page.locator("#toast")).to_contain_text("已保存")
        await page.click(".lang-toggle >> nth=-1")
        await expect(page.locator('.tab[data-panel="integration"]')).to_have_text("Integration")
        found += await violations(page, "integration tab (en)")
        await context.close()
    async with live.state.sessions() as s:
        statuses = (await s.scalars(select(EventDelivery.status))).all()
        assert "dead" in statuses and len(statuses) == 2  # created + callback.scheduled; one was replayed
        assert (await s.scalar(select(ServicePackage.name))) == "开办餐馆一件事"
        assert (await s.scalar(select(MessageTemplate.body))) == "工单{number}：{outcome}"
    assert not found, "\n".join(found)
    assert not [line for line in logs if "pageerror" in line], logs
