"""Guidance tools in real headless Chromium pages (fake camera, microphone, screen): marks drawn on one
side land at the same spot of the picture on the other side, whatever the element sizes (#19)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from helpdesk.config import Settings
from tests.journey.browser import chromium, collect_console, inbound_video
from tests.journey.live import PASSWORD, Live, live_app

pytestmark = pytest.mark.browser
STEP_MS = 20_000
# HELPDESK_SCREENSHOTS=1 refreshes the pictures in docs/screenshots/ (otherwise they go to tmp_path).
DOCS_SHOTS = Path(__file__).parents[2] / "docs" / "screenshots"


def shots_dir(tmp_path: Path) -> Path:
    return DOCS_SHOTS if os.environ.get("HELPDESK_SCREENSHOTS") else tmp_path

# Client coordinates of a normalised picture point of a video element (object-fit and mirroring).
CLIENT_POINT_JS = """async ([sel, x, y]) => {
  const a = await import('/static/help/annotate.js');
  const v = document.querySelector(sel);
  const r = v.getBoundingClientRect(), box = a.frameBox(v);
  const [px, py] = a.denormalise(box, [x, y], a.isMirrored(v));
  return [r.left + px * r.width / v.clientWidth, r.top + py * r.height / v.clientHeight];
}"""
# The colour of an overlay canvas at a normalised picture point of the video under it.
PIXEL_JS = """async ([owner, target, x, y]) => {
  const a = await import('/static/help/annotate.js');
  const c = document.querySelector(`canvas.annotate-overlay[data-owner="${owner}"][data-target="${target}"]`);
  const v = c.previousElementSibling;
  const [px, py] = a.denormalise(a.frameBox(v), [x, y], a.isMirrored(v));
  const k = c.width / v.clientWidth;
  return Array.from(c.getContext('2d').getImageData(Math.round(px * k), Math.round(py * k), 1, 1).data);
}"""


async def wait_for(check: Any, timeout: float = 20.0, every: float = 0.25) -> Any:
    async with asyncio.timeout(timeout):
        while True:
            value = await check()
            if value:
                return value
            await asyncio.sleep(every)


async def video_flowing(page: Page, streams: int = 1) -> None:
    async def check() -> bool:
        s = await inbound_video(page)
        return bool(s["streams"] >= streams and s["frames"] >= 1)

    await wait_for(check)


async def login(page: Page, username: str) -> None:
    await page.goto("/console/")
    await page.fill("#login-username", username)
    await page.fill("#login-password", PASSWORD)
    await page.click("#login-submit")
    await expect(page.locator("#workbench")).to_be_visible()


async def start_call(live: Live, agent: Page, applicant: Page) -> None:
    seed = live.seed
    await login(agent, seed["agent"].username)
    await agent.click("#ready-toggle")
    await expect(agent.locator("#agent-state")).to_have_attribute("data-state", "ready")
    await applicant.goto(f"/help?item={seed['item'].code}&unit={seed['county'].code}")
    await applicant.click("#help-button")
    await expect(agent.locator("#offer-card")).to_be_visible()
    await agent.click("#offer-accept")
    for page in (agent, applicant):
        await expect(page.locator("#call-state")).to_have_attribute("data-state", "connected")
    await video_flowing(agent)
    await video_flowing(applicant)


async def drag(page: Page, selector: str, points: list[tuple[float, float]]) -> None:
    """Press, move through the normalised points and release, over `selector`."""
    xy = [await page.evaluate(CLIENT_POINT_JS, [selector, x, y]) for x, y in points]
    await page.mouse.move(*xy[0])
    await page.mouse.down()
    for p in xy[1:]:
        await page.mouse.move(*p, steps=4)
    await page.mouse.up()


async def marks(page: Page, owner: str, target: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = await page.evaluate(
        "([o, t]) => window.__helpdesk.guidance?.marks(o, t) ?? []", [owner, target])
    return result


async def test_marks_land_on_the_same_spot_of_the_picture_on_both_sides(settings: Settings, chromium_path: str,
                                                                         tmp_path: Path) -> None:
    logs: list[str] = []
    async with live_app(settings) as live, chromium(chromium_path) as browser:
        agent_ctx = await browser.new_context(base_url=live.url, viewport={"width": 1180, "height": 820})
        applicant_ctx = await browser.new_context(base_url=live.url, viewport={"width": 390, "height": 844})
        agent, applicant = await agent_ctx.new_page(), await applicant_ctx.new_page()
        for page in (agent, applicant):
            collect_console(page, logs)
            page.set_default_timeout(STEP_MS)
        try:
            await start_call(live, agent, applicant)
            a_member = await applicant.evaluate("() => window.__helpdesk.peer.peer ?? ''")
            me = await applicant.evaluate("() => window.__helpdesk.guidance && 1")
            assert a_member.startswith("s:") and me == 1, a_member
            applicant_id = await agent.evaluate("() => window.__helpdesk.peer.peer")
            # The agent pins an arrow on the applicant's camera (the big remote video on a tablet):
            await agent.click("[data-guide=pin]")
            await agent.click("[data-guide=arrow]")
            await drag(agent, "#remote-video", [(0.25, 0.5), (0.7, 0.3)])
            # ... it lands on the applicant's own camera preview (small, mirrored, on a phone) at the
            # same normalised picture position, drawn in the agent's colour.
            got = await wait_for(lambda: marks(applicant, applicant_id, "camera"))
            assert got[0]["kind"] == "arrow" and got[0]["pinned"] and got[0]["by"] == "agent", got
            (x0, y0), (x1, y1) = got[0]["points"]
            assert abs(x0 - 0.25) < 0.02 and abs(y0 - 0.5) < 0.02 and abs(x1 - 0.7) < 0.02 and abs(y1 - 0.3) < 0.02
            seen: list[list[int]] = []

            async def red_at_the_tip() -> bool:  # painted on the next frame after the mark arrives
                seen.append(await applicant.evaluate(PIXEL_JS, [applicant_id, "camera", 0.7, 0.3]))
                return seen[-1][0] > 180 and seen[-1][1] < 80 and seen[-1][3] > 0  # the agent's red, opaque

            with contextlib.suppress(TimeoutError):
                await wait_for(red_at_the_tip, timeout=10, every=0.1)
            assert seen[-1][0] > 180 and seen[-1][1] < 80 and seen[-1][3] > 0, seen[-3:]
            # The applicant circles a spot on the agent's shared screen (a pointer first: the live cursor).
            await agent.click("#screen-share")
            await video_flowing(applicant, streams=2)
            await expect(applicant.locator("#remote-screen")).to_be_visible()
            # With the call's data channel open, marks go peer to peer: nothing through the socket.
            for page in (agent, applicant):
                await page.wait_for_function("window.__helpdesk.peer.channel?.readyState === 'open'")
            await applicant.evaluate("""() => { const s = window.__helpdesk.socket, send = s.send.bind(s);
              window.__sent = []; s.send = (m) => { window.__sent.push(m.type); return send(m); }; }""")
            await applicant.click("[data-guide=circle]")
            await drag(applicant, "#remote-screen", [(0.5, 0.5), (0.6, 0.5)])
            got = await wait_for(lambda: marks(agent, a_member, "screen"))
            assert got[0]["kind"] == "circle" and got[0]["by"] == "applicant" and not got[0]["pinned"]
            assert [round(v, 2) for v in got[0]["points"][0]] == [0.5, 0.5], got
            assert "annotate" not in await applicant.evaluate("window.__sent"), "sent through the socket"
            await agent.screenshot(path=str(shots_dir(tmp_path) / "annotation-agent.png"))
            await applicant.screenshot(path=str(shots_dir(tmp_path) / "annotation-applicant.png"))
            # Unpinned marks fade after a few seconds; the pinned arrow stays until cleared.
            await wait_for(lambda: agent.evaluate(
                "([o]) => window.__helpdesk.guidance.marks(o, 'screen').length === 0", [a_member]), timeout=8)
            assert len(await marks(applicant, applicant_id, "camera")) == 1
            await applicant.click("[data-guide=clear]")
            await wait_for(lambda: agent.evaluate(
                "([o]) => window.__helpdesk.guidance.marks(o, 'camera').length === 0", [applicant_id]))
            assert await marks(applicant, applicant_id, "camera") == []
            # Keyboard only: with the pointer tool on, the overlay takes focus; arrows move, Enter points.
            await agent.click("[data-guide=pointer]")
            await agent.focus(f'canvas.annotate-overlay[data-owner="{applicant_id}"][data-target="camera"]')
            for _ in range(5):
                await agent.keyboard.press("ArrowRight")
            await agent.keyboard.press("Enter")
            got = await wait_for(lambda: marks(applicant, applicant_id, "camera"))
            assert got[0]["kind"] == "pointer" and got[0]["points"] == [[0.6, 0.5]], got
            # A malformed mark sent through the socket is refused by the server, not relayed.
            reply = await applicant.evaluate("""() => new Promise((done) => {
              const s = window.__helpdesk.socket, off = s.on('error', (e) => { off(); done(e); });
              s.send({type: 'annotate', room: window.__helpdesk.peer.room,
                      mark: {kind: 'arrow', points: [[0.1, 1.5], [0.2, 0.2]]}});
            })""")
            assert reply["code"] == "invalid_message" and reply["ref"] == "annotate", reply
        except BaseException:
            print("\n".join(logs[-60:]))
            await agent.screenshot(path=str(tmp_path / "agent.png"))
            await applicant.screenshot(path=str(tmp_path / "applicant.png"))
            raise
