"""A whole call as an English-speaking applicant on a phone and an agent on a tablet (1024×768),
in two real Chromium pages: the browser's language is used, English names and labels everywhere,
audio only by hand and by itself on a starved link (announced to both sides, reversible), files
and chat survive a reload, hang-up asks first, wrap-up confirms, the agent opens the work order
from their own history and saves it as knowledge; axe finds nothing serious on the way, and no
page logs a 401 or 409."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from helpdesk.config import Settings
from helpdesk.org.models import Department, OrgUnit, ServiceItem
from tests.journey.a11y import violations
from tests.journey.browser import chromium, collect_console
from tests.journey.live import PASSWORD, Live, live_app
from tests.journey.test_ux_applicant import SCREENSHOTS

pytestmark = pytest.mark.browser
STEP_MS = 20_000
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
CAP_VIDEO_JS = """(kbps) => {
  const pc = window.__helpdesk.peer.pc;
  return Promise.all(pc.getSenders().filter((s) => s.track && s.track.kind === 'video').map((s) => {
    const p = s.getParameters();
    p.encodings = (p.encodings && p.encodings.length ? p.encodings : [{}]).map((e) => {
      const out = { ...e };
      if (kbps) out.maxBitrate = kbps * 1000; else delete out.maxBitrate;
      return out;
    });
    return s.setParameters(p);
  }));
}"""


async def english_names(live: Live) -> None:
    async with live.state.sessions() as s:
        (await s.get(ServiceItem, live.seed["item"].id)).name_en = "Company registration"  # type: ignore[union-attr]
        (await s.get(OrgUnit, live.seed["county"].id)).name_en = "Lianchi District"  # type: ignore[union-attr]
        (await s.get(Department, live.seed["department"].id)).name_en = "Market Regulation"  # type: ignore[union-attr]
        await s.commit()


async def test_call_in_english_on_phone_and_tablet(settings: Settings, chromium_path: str, tmp_path: Path) -> None:
    settings.reconnect_grace_s = 30
    logs: list[str] = []
    async with live_app(settings) as live, chromium(chromium_path) as browser:
        await english_names(live)
        agent_ctx = await browser.new_context(base_url=live.url, viewport={"width": 1024, "height": 768},
                                              locale="zh-CN")
        applicant_ctx = await browser.new_context(base_url=live.url, viewport={"width": 390, "height": 844},
                                                  locale="en-US", is_mobile=True, has_touch=True)
        agent, applicant = await agent_ctx.new_page(), await applicant_ctx.new_page()
        for page in (agent, applicant):
            collect_console(page, logs)
            page.set_default_timeout(STEP_MS)
        try:
            found = await run_call(live, agent, applicant, tmp_path)
            assert not found, "\n".join(found)
            noise = [line for line in logs if re.search(r"\b(401|409)\b", line)]
            assert not noise, noise
        except BaseException:
            print("\n".join(logs[-60:]))
            await agent.screenshot(path=str(tmp_path / "agent.png"))
            await applicant.screenshot(path=str(tmp_path / "applicant.png"))
            raise


async def run_call(live: Live, agent: Page, applicant: Page, tmp_path: Path) -> list[str]:
    seed, found = live.seed, []
    await agent.goto("/console/")
    await agent.fill("#login-username", seed["agent"].username)
    await agent.fill("#login-password", PASSWORD)
    await agent.click("#login-submit")
    await expect(agent.locator("#workbench")).to_be_visible()
    await agent.click("#lang-toggle")  # the agent chooses English
    await expect(agent.locator("#ready-toggle")).to_have_text(re.compile("ready", re.I))
    await agent.click("#ready-toggle")
    await expect(agent.locator("#agent-state")).to_have_attribute("data-state", "ready")
    found += await violations(agent, "console idle (en)")

    # Item 2: an English browser gets English without touching anything; item 4: English names.
    await applicant.goto(f"/help?item={seed['item'].code}&unit={seed['county'].code}")
    await expect(applicant.locator("#help-button")).to_have_text("Video help")
    await expect(applicant.locator("#item-name")).to_have_text("Company registration")
    await expect(applicant.locator("#item-dept")).to_contain_text("Market Regulation")
    found += await violations(applicant, "help (en)")
    await applicant.click("#help-button")
    await expect(agent.locator("#offer-card")).to_be_visible()
    await expect(agent.locator("#offer-context")).to_contain_text("Company registration")
    await expect(agent.locator("#offer-context")).to_contain_text("Lianchi District")
    found += await violations(agent, "console offer (en)")
    await agent.click("#offer-accept")
    for page in (agent, applicant):
        await expect(page.locator("#call-state")).to_have_attribute("data-state", "connected")
    # Item 4: the video labels are English too (no 申请人 over the applicant's video).
    await expect(agent.locator("#peer-name")).to_have_text("Applicant")
    await expect(agent.locator("#remote-video")).to_have_attribute("aria-label", "The applicant's video")
    await expect(applicant.locator("#peer-name")).to_have_text("王帮办")
    await tablet_fits(agent)
    await agent.screenshot(path=str(SCREENSHOTS / "console-tablet.png"))
    found += await violations(agent, "console call (en)")
    found += await violations(applicant, "call (en)")

    await weak_network(agent, applicant)
    await files_survive_reload(agent, applicant, tmp_path)
    found += await violations(applicant, "call after reload (en)")

    # Item 8: hang-up asks first ("keep talking" keeps the call).
    await applicant.click("#hangup")
    await expect(applicant.locator("#hangup-confirm")).to_be_visible()
    found += await violations(applicant, "hang-up confirmation (en)")
    await applicant.click("#hangup-no")
    await expect(applicant.locator("#hangup-confirm")).to_be_hidden()
    await expect(applicant.locator("#call-state")).to_have_attribute("data-state", "connected")
    await applicant.click("#hangup")
    await applicant.click("#hangup-yes")
    await expect(applicant.locator("#rating-form")).to_be_visible()
    found += await violations(applicant, "rating (en)")

    # Item 8: the wrap-up header never reads "Work order (…)"; submitting says so.
    await expect(agent.locator("#wrapup-form")).to_be_visible()
    header = await agent.locator("#wrapup-info").text_content() or ""
    assert not re.search(r"order\s+\(", header) and "（" not in header, header
    await expect(agent.locator("#wrapup-info")).to_contain_text("VH")
    found += await violations(agent, "console wrap-up (en)")
    await agent.select_option("#wrapup-outcome", "resolved")
    await agent.fill("#wrapup-notes", "Showed the online filing; the applicant submitted it.")
    await agent.click("#wrapup-submit")
    await expect(agent.locator("#toast")).to_contain_text("wrapped up")
    await applicant.click("#rating-5")
    await applicant.click("#rating-submit")
    await expect(applicant.locator("#thanks")).to_be_visible()

    found += await own_history(agent)
    return found


async def tablet_fits(agent: Page) -> None:
    """Item 5 of the build list: on 1024×768 the call needs no sideways scrolling and every control
    of the call is on the first screen."""
    assert await agent.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    for sel in ("#hangup", "#mute", "#transfer", "#chat-input", "#chat-send"):
        box = await agent.locator(sel).bounding_box()
        assert box and box["y"] >= 0 and box["y"] + box["height"] <= 768 and box["x"] + box["width"] <= 1024, (sel, box)


async def weak_network(agent: Page, applicant: Page) -> None:
    # By hand: the applicant's "voice only" stops video both ways; both sides are told; reversible.
    await applicant.click("#audio-only-toggle")
    await expect(applicant.locator("#weak-network")).to_be_visible()
    await expect(agent.locator("#weak-network")).to_be_visible()
    await applicant.click("#audio-only-toggle")
    await expect(applicant.locator("#weak-network")).to_be_hidden()
    await expect(agent.locator("#weak-network")).to_be_hidden()
    # By itself: the agent's video is starved to 15 kbps; the applicant's page measures it (getStats)
    # and switches to voice only, and both sides say so; then the link recovers and video comes back.
    await agent.evaluate(CAP_VIDEO_JS, 15)
    await expect(applicant.locator("#weak-network")).to_contain_text("slow", timeout=45_000)
    await expect(agent.locator("#weak-network")).to_be_visible()
    await agent.evaluate(CAP_VIDEO_JS, 0)
    await expect(applicant.locator("#audio-only-toggle")).to_have_attribute("aria-pressed", "true")
    await applicant.click("#audio-only-toggle")
    await expect(applicant.locator("#weak-network")).to_be_hidden()
    await expect(agent.locator("#weak-network")).to_be_hidden()


async def files_survive_reload(agent: Page, applicant: Page, tmp_path: Path) -> None:
    """Item 1: after a reload the applicant has the forms the agent sent, and can fetch them again."""
    form = tmp_path / "application-form.pdf"
    form.write_bytes(PDF)
    await agent.set_input_files("#file-input", str(form))
    await expect(applicant.locator("#file-list")).to_contain_text("application-form.pdf")
    await agent.fill("#chat-input", "Please fill in page 2.")
    await agent.click("#chat-send")
    await expect(applicant.locator("#chat-log")).to_contain_text("Please fill in page 2.")
    await applicant.reload()
    await expect(applicant.locator("#call-state")).to_have_attribute("data-state", "connected")
    link = applicant.locator("#file-list a[download]")
    await expect(link).to_have_text("application-form.pdf")
    await expect(applicant.locator("#chat-log")).to_contain_text("Please fill in page 2.")
    await expect(applicant.locator("#help-button")).to_have_text("Video help")  # still English
    got = await applicant.request.get(await link.get_attribute("href") or "")
    assert got.status == 200 and await got.body() == PDF


async def own_history(agent: Page) -> list[str]:
    """Item 6: the agent opens their own work order from 'my recent work orders'."""
    link = agent.locator("#recent-list a.num").first
    await expect(link).to_contain_text("VH")
    number = (await link.text_content() or "").strip()
    async with agent.context.expect_page() as opened:
        await link.click()
    page = await opened.value
    page.set_default_timeout(STEP_MS)
    await expect(page.locator("#history-detail")).to_be_visible()
    await expect(page.locator("#history-detail-title")).to_contain_text(number)
    timeline = page.locator("#history-timeline")
    await expect(timeline).to_contain_text("Applicant asked for help")
    text = await timeline.text_content() or ""
    assert "{" not in text and "_" not in text, text  # sentences, never event codes or JSON
    await expect(page.locator("#history-chat")).to_contain_text("Please fill in page 2.")
    await expect(page.locator("#history-files")).to_contain_text("application-form.pdf")
    found = await violations(page, "history detail (en)")
    await page.click("#history-draft")
    await expect(page.locator("#history-draft-status a")).to_be_visible()
    # The list: search by number, filter by outcome.
    await page.click("#history-close")
    await page.fill("#history-q", number)
    await page.click("#history-submit")
    await expect(page.locator("#history-rows tr")).to_have_count(1)
    await page.select_option("#history-outcome", "unresolved")
    await page.click("#history-submit")
    await expect(page.locator("#history-rows tr")).to_have_count(0)
    found += await violations(page, "history list (en)")
    await page.close()
    return found
