"""Staff pages in Chromium: the supervisor's work-order timeline reads as sentences (item 5), the
wall and figures pass axe in both languages and the wall reads on a phone, the console's idle and
offer states pass axe in Chinese, the KB page is checked too, and the agent's own history is
captured for the README."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from helpdesk.config import Settings
from tests.journey.a11y import violations
from tests.journey.browser import chromium, collect_console
from tests.journey.live import PASSWORD, Live, live_app
from tests.journey.live import Browser as Client
from tests.journey.test_journey_api import start_call
from tests.journey.test_ux_applicant import SCREENSHOTS, publish_guide

pytestmark = pytest.mark.browser
STEP_MS = 15_000


async def login(browser: Browser, live: Live, username: str, logs: list[str], path: str = "/console/",
                **ctx: Any) -> Page:
    context = await browser.new_context(base_url=live.url, locale="zh-CN", **ctx)
    page = await context.new_page()
    collect_console(page, logs)
    page.set_default_timeout(STEP_MS)
    await page.goto(path)
    await page.fill("#login-username", username)
    await page.fill("#login-password", PASSWORD)
    await page.click("#login-submit")
    return page


async def unresolved_call_with_article(live: Live) -> str:
    """A call in which the agent sent a KB article, wrapped up as unresolved (so it is on the wall)."""
    seed = live.seed
    async with Client(live) as sup, Client(live) as agent, Client(live) as applicant:
        await sup.login(seed["supervisor"].username)
        await publish_guide(sup, seed["item"].id, seed["department"].id)
        article = (await sup.http.get("/api/kb/search", params={"q": "企业设立登记"})).json()["hits"][0]
        a_room, _ = await start_call(live, agent, applicant)
        room = a_room["room"]
        r = await agent.http.post(f"/api/kb/calls/{room}/send", json={"article_id": article["id"]})
        assert r.status_code == 200, r.text
        await applicant.send({"type": "chat", "room": room, "text": "名称被驳回了怎么办？"})
        await agent.expect("chat")
        await applicant.send({"type": "hangup", "room": room})
        await agent.expect("call.ended")
        r = await agent.http.post(f"/api/workorders/{room}/wrapup",
                                  json={"outcome": "unresolved", "notes": "需核名后回电"})
        assert r.status_code == 200, r.text
        return str(room)


async def test_staff_pages(settings: Settings, chromium_path: str) -> None:
    logs: list[str] = []
    found: list[str] = []
    async with live_app(settings) as live, chromium(chromium_path) as browser:
        seed = live.seed
        room = await unresolved_call_with_article(live)

        sup = await login(browser, live, seed["supervisor"].username, logs, "/console/?next=supervisor",
                          viewport={"width": 1440, "height": 900})
        await expect(sup.locator("#sup-totals")).to_be_visible()
        found += await violations(sup, "wall (zh)")
        # Item 5: the drawer's timeline in sentences: no event codes, no JSON.
        await sup.locator(f'#sup-unresolved tr[data-key="{room}"] button.linkish').click()
        timeline = sup.locator("#sup-drawer-timeline")
        await expect(timeline).to_contain_text("发送知识库文章")
        await expect(timeline).to_contain_text("标题: 企业设立登记办事指南")
        text = await timeline.text_content() or ""
        assert "kb_article_sent" not in text and "{" not in text, text
        found += await violations(sup, "work-order drawer (zh)")
        await sup.click("#sup-drawer-close")
        await sup.click("#sup-tab-stats")
        await expect(sup.locator("#sup-figures thead")).to_be_visible()
        found += await violations(sup, "figures (zh)")
        await sup.click("#lang-toggle")
        await expect(sup.locator("#sup-figures thead")).to_contain_text("Service level")
        found += await violations(sup, "figures (en)")
        await sup.click("#sup-tab-wall")
        found += await violations(sup, "wall (en)")
        await sup.locator(f'#sup-unresolved tr[data-key="{room}"] button.linkish').click()
        await expect(sup.locator("#sup-drawer-timeline")).not_to_be_empty()
        found += await violations(sup, "work-order drawer (en)")
        await sup.click("#sup-drawer-close")
        kb = await sup.context.new_page()
        for lang in ("en", "zh-CN"):  # the choice made on the wall, then the other language by link
            await kb.goto(f"/console/kb.html?lang={lang}")
            await expect(kb.locator("#kb-view-search")).not_to_be_empty()
            found += await violations(kb, f"KB page ({lang})")
        await kb.close()

        await sup.context.close()  # one socket per person: the phone's session replaces it

        # The wall on a phone: readable, no sideways scrolling.
        phone = await login(browser, live, seed["supervisor"].username, logs, "/console/?next=supervisor",
                            viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
        await expect(phone.locator("#sup-totals")).to_be_visible()
        await expect(phone.locator("#sup-updated")).to_have_attribute("data-stale", "false")
        wide = await phone.evaluate("""() => [...document.querySelectorAll('.card, .tile, #sup-totals')]
          .filter((e) => e.offsetParent && e.getBoundingClientRect().right > window.innerWidth + 1)
          .map((e) => e.id || e.className)""")
        assert not wide, wide
        await phone.screenshot(path=str(SCREENSHOTS / "supervisor-wall-phone.png"))
        found += await violations(phone, "wall (zh, phone)")

        # The console, idle and ringing, in Chinese (the English states are in test_ux_call).
        agent2 = await login(browser, live, seed["agent2"].username, logs, viewport={"width": 1024, "height": 768})
        await expect(agent2.locator("#workbench")).to_be_visible()
        await agent2.click("#ready-toggle")
        await expect(agent2.locator("#agent-state")).to_have_attribute("data-state", "ready")
        found += await violations(agent2, "console idle (zh)")
        async with Client(live) as applicant:
            await applicant.open_help(seed["item"].code)
            r = await applicant.http.post("/api/help/requests", json={"item": seed["item"].code,
                                                                       "unit": seed["city"].code})
            assert r.status_code == 200, r.text
            await expect(agent2.locator("#offer-card")).to_be_visible()
            found += await violations(agent2, "console offer (zh)")
            await agent2.keyboard.press("Alt+KeyX")  # the console works from the keyboard
            await expect(agent2.locator("#offer-card")).to_be_hidden()

        # The agent's own history (README screenshot): the unresolved call with its timeline.
        agent = await login(browser, live, seed["agent"].username, logs, viewport={"width": 1024, "height": 768})
        await expect(agent.locator("#workbench")).to_be_visible()
        await agent.goto(f"/console/history.html?wo={room}")
        await expect(agent.locator("#history-timeline")).to_contain_text("发送知识库文章")
        found += await violations(agent, "history detail (zh)")
        await agent.screenshot(path=str(SCREENSHOTS / "agent-history.png"), full_page=True)
        await agent.click("#history-close")
        await expect(agent.locator("#history-rows tr")).to_have_count(1)
        await agent.screenshot(path=str(SCREENSHOTS / "agent-history-list.png"))
        found += await violations(agent, "history list (zh)")
    assert not found, "\n".join(found)
    noise = [line for line in logs if "pageerror" in line or " 401 " in line or "status of 401" in line]
    assert not noise, noise
