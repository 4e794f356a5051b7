"""The whole video-help call in two real headless Chromium pages (fake camera, microphone, screen):
the applicant asks for help, the agent accepts, media flows both ways, the agent shares the
screen, the applicant sends a file, the applicant's socket drops and the call recovers, hang-up
and wrap-up leave a complete work order."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from helpdesk.config import Settings
from tests.journey.a11y import violations
from tests.journey.browser import chromium, collect_console, inbound_video
from tests.journey.live import PASSWORD, Live, live_app

pytestmark = pytest.mark.browser
STEP_MS = 20_000


async def wait_for(check: Any, timeout: float = 20.0, every: float = 0.25) -> Any:
    """Polls an async check until it returns something truthy (media needs a moment to flow)."""
    async with asyncio.timeout(timeout):
        while True:
            value = await check()
            if value:
                return value
            await asyncio.sleep(every)


async def video_flowing(page: Page, streams: int = 1, min_frames: int = 1) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        s = await inbound_video(page)
        return s if s["streams"] >= streams and s["frames"] >= min_frames else None

    result: dict[str, Any] = await wait_for(check)
    return result


async def drop_recorded(live: Live, kind: str) -> bool:
    from sqlalchemy import select

    from helpdesk.workorders.models import WorkOrderEvent

    async with live.state.sessions() as s:
        return (await s.scalar(select(WorkOrderEvent.id).where(WorkOrderEvent.kind == kind).limit(1))) is not None


async def test_video_help_call_in_two_browsers(settings: Settings, chromium_path: str, tmp_path: Path) -> None:
    settings.reconnect_grace_s = 30
    logs: list[str] = []
    async with live_app(settings) as live, chromium(chromium_path) as browser:
        agent_ctx = await browser.new_context(base_url=live.url)
        applicant_ctx = await browser.new_context(base_url=live.url, viewport={"width": 390, "height": 844})
        agent, applicant = await agent_ctx.new_page(), await applicant_ctx.new_page()
        for page in (agent, applicant):
            collect_console(page, logs)
            page.set_default_timeout(STEP_MS)
        try:
            await run_call(live, agent, applicant, tmp_path)
            # The pages' Content-Security-Policy (helpdesk/headers.py) blocked nothing they use.
            assert not [line for line in logs if "Content Security Policy" in line], logs
        except BaseException:
            print("\n".join(logs[-60:]))
            await agent.screenshot(path=str(tmp_path / "agent.png"))
            await applicant.screenshot(path=str(tmp_path / "applicant.png"))
            raise


async def run_call(live: Live, agent: Page, applicant: Page, tmp_path: Path) -> None:
    seed = live.seed
    # The agent logs in and goes ready.
    await agent.goto("/console/")
    await agent.fill("#login-username", seed["agent"].username)
    await agent.fill("#login-password", PASSWORD)
    await agent.click("#login-submit")
    await expect(agent.locator("#workbench")).to_be_visible()
    await agent.click("#ready-toggle")
    await expect(agent.locator("#agent-state")).to_have_attribute("data-state", "ready")

    # The applicant opens the item's help page and asks for video help.
    await applicant.goto(f"/help?item={seed['item'].code}&unit={seed['county'].code}")
    await expect(applicant.locator("#item-name")).to_have_text("企业设立登记")
    await applicant.click("#help-button")

    # The offer rings with the applicant's context; the agent accepts.
    await expect(agent.locator("#offer-card")).to_be_visible()
    await expect(agent.locator("#offer-context")).to_contain_text("企业设立登记")
    await agent.click("#offer-accept")
    for page in (agent, applicant):
        await expect(page.locator("#call-state")).to_have_attribute("data-state", "connected", timeout=STEP_MS)

    # Media both ways: each side decodes the other's camera.
    await video_flowing(agent)
    await video_flowing(applicant)
    # The call in Chinese has no serious or critical accessibility problem on either side (axe-core).
    found = await violations(agent, "console call (zh)") + await violations(applicant, "call (zh)")

    # The agent shares the screen: the applicant decodes a second video stream (1280x720 fake screen).
    await agent.click("#screen-share")
    screen = await video_flowing(applicant, streams=2)
    assert max(screen["widths"]) >= 1280, screen

    # The applicant sends a file: it appears on the agent's side and on the work order.
    sample = tmp_path / "承诺书.pdf"
    sample.write_bytes(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    await applicant.set_input_files("#file-input", str(sample))
    await expect(agent.locator("#file-list")).to_contain_text("承诺书.pdf")

    # The applicant's socket drops; it reconnects, the call recovers with an ICE restart.
    before = (await inbound_video(agent))["frames"]
    await applicant.evaluate("() => window.__helpdesk.socket.ws.close()")
    await wait_for(lambda: drop_recorded(live, "peer_resumed"))
    await expect(agent.locator("#reconnecting-banner")).to_be_hidden(timeout=STEP_MS)
    for page in (agent, applicant):
        await expect(page.locator("#call-state")).to_have_attribute("data-state", "connected", timeout=STEP_MS)
    await video_flowing(agent, min_frames=before + 20)

    # Hang-up, wrap-up, rating.
    await agent.click("#hangup")
    await expect(agent.locator("#wrapup-form")).to_be_visible()
    found += await violations(agent, "console wrap-up (zh)")
    await agent.select_option("#wrapup-outcome", "resolved")
    await agent.fill("#wrapup-notes", "已演示网上申报，申请人自行提交")
    await agent.click("#wrapup-submit")
    await expect(applicant.locator("#rating-form")).to_be_visible()
    found += await violations(applicant, "rating (zh)")
    assert not found, "\n".join(found)
    await applicant.click("#rating-5")
    await applicant.click("#rating-submit")
    await expect(applicant.locator("#thanks")).to_be_visible()

    from sqlalchemy import select

    from helpdesk.workorders.models import FileAttachment, WorkOrder, WorkOrderEvent

    async with live.state.sessions() as s:
        wo = (await s.scalars(select(WorkOrder))).one()
        assert wo.status == "resolved" and wo.outcome == "resolved" and wo.rating == 5
        for stamp in (wo.queued_at, wo.offered_at, wo.answered_at, wo.ended_at):
            assert stamp is not None
        assert wo.notes == "已演示网上申报，申请人自行提交"
        files = (await s.scalars(select(FileAttachment).where(FileAttachment.work_order_id == wo.id))).all()
        assert [f.filename for f in files] == ["承诺书.pdf"]
        kinds = [e.kind for e in (await s.scalars(select(WorkOrderEvent).order_by(WorkOrderEvent.id))).all()]
        assert "peer_dropped" in kinds and "peer_resumed" in kinds
