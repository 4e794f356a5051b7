"""Remote site inspection through the whole app, in two headless Chromium pages (fake camera): the
agent asks, the applicant declines, the agent asks again and the applicant consents, the camera reaches the
server's peer (recorded), the agent takes a snapshot (stored JPEG, its SHA-256 on the row), the
applicant reloads (the camera offers again: a second segment), the agent marks every point, ends with
"pass", and the applicant downloads the report PDF. Also the console's knowledge-base panel sending
an article and its blank form into the call."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect
from sqlalchemy import select

from helpdesk.config import Settings
from tests.journey.browser import chromium, collect_console
from tests.journey.live import PASSWORD, Browser, Live, live_app
from tests.journey.test_browser_call import STEP_MS, video_flowing, wait_for

pytestmark = pytest.mark.browser

POINTS = [
    {"key": "door", "title": "门头与门牌", "guidance": "请站在门口，拍摄门头和门牌号。",
     "compliance": "门头与申报名称一致"},
    {"key": "room", "title": "经营场所内部", "guidance": "请缓慢环拍室内一周。", "compliance": "场所面积与申报一致"},
]
CHECKLIST = {"title": "企业经营场所现场勘验", "points": POINTS, "change_note": "浏览器测试"}


async def test_remote_inspection_end_to_end(settings: Settings, chromium_path: str, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELPDESK_INSPECTION_LOOPBACK", "1")  # the server peer offers 127.0.0.1 (tests only)
    logs: list[str] = []
    async with live_app(settings) as live, chromium(chromium_path) as browser:
        assert "inspection" in live.state.components, "the inspection component is not wired into the app"
        async with Browser(live) as sup:  # a supervisor gives the seeded item its checklist
            await sup.login(live.seed["supervisor"].username)
            r = await sup.http.put(f"/api/inspections/checklists/{live.seed['item'].id}", json=CHECKLIST)
            assert r.status_code == 200, r.text
        agent_ctx = await browser.new_context(base_url=live.url)
        applicant_ctx = await browser.new_context(base_url=live.url, viewport={"width": 390, "height": 844})
        agent, applicant = await agent_ctx.new_page(), await applicant_ctx.new_page()
        for page in (agent, applicant):
            collect_console(page, logs)
            page.set_default_timeout(STEP_MS)
        try:
            await run_inspection(live, agent, applicant)
        except BaseException:
            print("\n".join(logs[-80:]))
            await agent.screenshot(path=str(tmp_path / "agent.png"), full_page=True)
            await applicant.screenshot(path=str(tmp_path / "applicant.png"), full_page=True)
            raise


async def connect_call(live: Live, agent: Page, applicant: Page) -> None:
    seed = live.seed
    await agent.goto("/console/")
    await agent.fill("#login-username", seed["agent"].username)
    await agent.fill("#login-password", PASSWORD)
    await agent.click("#login-submit")
    await expect(agent.locator("#workbench")).to_be_visible(timeout=STEP_MS)
    await agent.click("#ready-toggle")
    await expect(agent.locator("#agent-state")).to_have_attribute("data-state", "ready", timeout=STEP_MS)
    await applicant.goto(f"/help?item={seed['item'].code}&unit={seed['county'].code}")
    await expect(applicant.locator("#item-name")).to_have_text("企业设立登记", timeout=STEP_MS)
    await applicant.click("#help-button")
    await expect(agent.locator("#offer-card")).to_be_visible(timeout=STEP_MS)
    await agent.click("#offer-accept")
    for page in (agent, applicant):
        await expect(page.locator("#call-state")).to_have_attribute("data-state", "connected", timeout=STEP_MS)
    await video_flowing(agent)


def point(agent: Page, n: int) -> Any:
    return agent.locator("#inspection-root .insp-points > li").nth(n)


async def run_inspection(live: Live, agent: Page, applicant: Page) -> None:
    from helpdesk_inspection.models import EvidenceSnapshot, Inspection, InspectionReport

    comp = live.state.components["inspection"]
    await connect_call(live, agent, applicant)

    # The item is open to remote inspection: the agent asks; the applicant declines (nothing recorded).
    await expect(agent.locator("#inspection-start")).to_be_visible(timeout=STEP_MS)
    await agent.click("#inspection-start")
    await expect(applicant.locator("#inspection-consent")).to_be_visible(timeout=STEP_MS)
    await expect(applicant.locator("#inspection-consent-notice")).to_contain_text("录像", timeout=STEP_MS)
    await applicant.click("#inspection-refuse")
    await expect(agent.locator("#inspection-status")).to_contain_text("拒绝", timeout=STEP_MS)
    await expect(applicant.locator("#inspection-state")).to_contain_text("拒绝", timeout=STEP_MS)

    # The agent asks again; this time the applicant agrees.
    await expect(agent.locator("#inspection-start")).to_be_enabled(timeout=STEP_MS)
    await agent.click("#inspection-start")
    await expect(applicant.locator("#inspection-consent")).to_be_visible(timeout=STEP_MS)
    async with live.state.sessions() as s:
        rows = (await s.scalars(select(Inspection).order_by(Inspection.created_at))).all()
        assert [r.status for r in rows] == ["refused", "awaiting_consent"] and rows[0].recordings == []
        insp = rows[1]
    await applicant.click("#inspection-accept")
    await expect(applicant.locator("#inspection-consent")).to_be_hidden(timeout=STEP_MS)
    await expect(applicant.locator("#inspection-step")).to_contain_text("门头与门牌", timeout=STEP_MS)
    await expect(point(agent, 1)).to_be_visible(timeout=STEP_MS)

    # The applicant's camera reaches the server's peer, which records it; the call goes on meanwhile.
    async def frames() -> int:
        peer = comp.live.peer(insp.id)
        return peer.recorder.frames_received if peer is not None and peer.recorder.started else 0

    assert await wait_for(lambda: _at_least(frames, 20), timeout=30)
    await expect(applicant.locator("body")).to_have_attribute("data-inspection-peer", "connected", timeout=STEP_MS)
    await video_flowing(agent)

    # A snapshot of the first point: a JPEG on disk whose SHA-256 is on the row.
    await point(agent, 0).get_by_role("button", name="截图", exact=True).click()
    await expect(agent.locator("#inspection-snapshots li")).to_have_count(1, timeout=STEP_MS)
    async with live.state.sessions() as s:
        snap = (await s.scalars(select(EvidenceSnapshot))).one()
    data = (Path(live.state.settings.recordings_dir) / snap.storage_key).read_bytes()
    assert data[:3] == b"\xff\xd8\xff" and hashlib.sha256(data).hexdigest() == snap.sha256
    assert snap.point_key == "door" and snap.width > 0 and snap.height > 0

    # The applicant reloads the page: the call resumes and the camera offers again (a second segment).
    before = await frames()
    await applicant.reload()
    await expect(applicant.locator("#inspection-step")).to_contain_text("门头与门牌", timeout=STEP_MS)
    await expect(applicant.locator("body")).to_have_attribute("data-inspection-peer", "connected", timeout=STEP_MS)
    assert await wait_for(lambda: _at_least(frames, 10), timeout=30)
    assert comp.live.peer(insp.id).recorder.path.name == "recording-2.mp4", before
    await video_flowing(agent)  # the call came back too

    # Every point passes (the applicant's guidance follows the agent's step), then the agent ends: pass.
    for n in range(2):
        await point(agent, n).locator("button.insp-point").click()  # step to the point
        step = applicant.locator("#inspection-step")
        await expect(step).to_contain_text(POINTS[n]["title"], timeout=STEP_MS)
        await point(agent, n).locator("input").fill("符合要求")
        await point(agent, n).get_by_role("button", name="合格", exact=True).click()
        await expect(point(agent, n).locator(".insp-mark")).to_contain_text("合格", timeout=STEP_MS)
    await agent.get_by_role("button", name="通过", exact=True).click()  # recording finalised, report made
    await expect(agent.locator("#inspection-reports a[data-report='pdf']")).to_be_visible(timeout=STEP_MS)
    await expect(applicant.locator("#inspection-report")).to_be_visible(timeout=STEP_MS)
    await expect(applicant.locator("#inspection-state")).to_contain_text("通过", timeout=STEP_MS)

    # The applicant downloads the report (their own session's cookies).
    href = await applicant.locator("#inspection-report a").get_attribute("href")
    assert href == f"/api/inspections/{insp.id}/report.pdf"
    res = await applicant.context.request.get(href)
    assert res.status == 200 and (await res.body())[:5] == b"%PDF-"

    async with live.state.sessions() as s:
        done = await s.get(Inspection, insp.id)
        assert done is not None and done.status == "ended" and done.outcome == "pass"
        assert [Path(seg["key"]).name for seg in done.recordings] == ["recording-1.mp4", "recording-2.mp4"]
        for seg in done.recordings:
            assert seg["bytes"] > 0 and seg["frames"] > 0 and not seg["error"], seg
            assert (Path(live.state.settings.recordings_dir) / seg["key"]).stat().st_size == seg["bytes"]
        assert (await s.scalars(select(InspectionReport).where(InspectionReport.inspection_id == insp.id))).one()

    # The call is still up; the applicant's camera went back to the front.
    for page in (agent, applicant):
        await expect(page.locator("#call-state")).to_have_attribute("data-state", "connected", timeout=STEP_MS)
    await agent.click("#hangup")
    await expect(agent.locator("#wrapup-form")).to_be_visible(timeout=STEP_MS)


async def _at_least(check: Any, n: int) -> bool:
    return bool(await check() >= n)


async def test_kb_panel_sends_into_the_call(settings: Settings, chromium_path: str, tmp_path: Path) -> None:
    """The console's knowledge-base panel during a call: the item's guide is suggested; its blank form
    and the article itself, sent into the call, reach the applicant's page (the article readable there)."""
    from tests.journey.test_kb_in_call import publish_guide

    logs: list[str] = []
    async with live_app(settings) as live, chromium(chromium_path) as browser:
        async with Browser(live) as sup:
            await sup.login(live.seed["supervisor"].username)
            await publish_guide(sup, live.seed["item"].id, live.seed["department"].id)
        agent_ctx = await browser.new_context(base_url=live.url)
        applicant_ctx = await browser.new_context(base_url=live.url, viewport={"width": 390, "height": 844})
        agent, applicant = await agent_ctx.new_page(), await applicant_ctx.new_page()
        for page in (agent, applicant):
            collect_console(page, logs)
            page.set_default_timeout(STEP_MS)
        try:
            await connect_call(live, agent, applicant)
            kb = agent.locator("#kb-panel")
            await expect(kb).to_have_attribute("data-mode", "call", timeout=STEP_MS)
            hit = kb.locator(".kb-hit").filter(has_text="企业设立登记办事指南")
            await expect(hit).to_be_visible(timeout=STEP_MS)
            await hit.locator(".kb-send").click()  # the article itself
            article = applicant.locator("#file-list li[data-source='kb'] details")
            await expect(article).to_contain_text("企业设立登记办事指南", timeout=STEP_MS)
            await article.locator("summary").click()
            frame = applicant.frame_locator("#file-list li[data-source='kb'] iframe")
            await expect(frame.locator("body")).to_contain_text("名称使用承诺书", timeout=STEP_MS)
            assert await frame.locator("script").count() == 0

            await hit.locator(".kb-hit-open").click()  # its blank form
            await kb.locator(".kb-files .kb-send").first.click()
            form = applicant.locator("#file-list li[data-source='kb'] a[download]")
            await expect(form).to_have_text("名称使用承诺书.pdf", timeout=STEP_MS)
            res = await applicant.context.request.get(await form.get_attribute("href") or "")
            assert res.status == 200 and (await res.body()).startswith(b"%PDF")
            await expect(agent.locator("#file-list")).to_contain_text("名称使用承诺书.pdf", timeout=STEP_MS)
        except BaseException:
            print("\n".join(logs[-80:]))
            await agent.screenshot(path=str(tmp_path / "agent.png"), full_page=True)
            await applicant.screenshot(path=str(tmp_path / "applicant.png"), full_page=True)
            raise
