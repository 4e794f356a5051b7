"""The browser client: its node unit tests, and a real call between two headless Chromium pages."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from helpdesk_signaling.hub import MemoryHub
from helpdesk_signaling.protocol import RoomJoined

from helpdesk.clock import FakeClock
from tests.conftest import require_service

from .harness import start_stack

ROOT = Path(__file__).parents[2]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
         "--allow-loopback-in-peer-connection"]


def node() -> str:
    path = shutil.which("node")
    require_service("node", path is not None)
    assert path is not None
    return path


def test_module_imports_without_a_browser() -> None:
    script = ("import('./signaling/helpdesk_signaling/static/rtc.js')"
              ".then(m => console.log(Object.keys(m).sort().join()))")
    out = subprocess.run([node(), "--input-type=module", "-e", script], cwd=ROOT, capture_output=True,
                         text=True, timeout=30, check=True)
    exports = "CallPeer,Emitter,HelpdeskSocket,backoffDelay,defaultUrl,gradeQuality,messages"
    assert out.stdout.strip() == exports


def test_node_unit_tests() -> None:
    out = subprocess.run([node(), "--test", "tests/helpdesk_signaling/js/"], cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


async def wait_js(page: Any, expr: str, timeout: float = 15.0) -> Any:
    await page.wait_for_function(expr, timeout=timeout * 1000)
    return await page.evaluate(expr)


@pytest.mark.browser
async def test_two_pages_call_share_screen_and_recover_from_a_drop(chromium_path: str,
                                                                   clock: FakeClock) -> None:
    from playwright.async_api import async_playwright

    hub = MemoryHub()
    stack = await start_stack(hub, clock, heartbeat_s=5, max_bytes=64 * 1024)
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium_path, args=FLAGS)
            try:
                agent = await (await browser.new_context()).new_page()
                applicant = await (await browser.new_context()).new_page()
                await agent.goto(f"{stack.http}/call?member=s:2&role=agent")
                await applicant.goto(f"{stack.http}/call?member=a:1&role=applicant")
                for page in (agent, applicant):
                    await wait_js(page, "window.sock.state === 'open'")
                await hub.open_room("r1", ("a:1", "s:2"))  # as the app does on offer.accept:
                for member, role in (("a:1", "applicant"), ("s:2", "agent")):  # the polite side first
                    await hub.send(member, RoomJoined(room="r1", role=role, polite=role == "applicant",
                                                      peer={"name": "x", "role": role}))
                for page in (agent, applicant):
                    await wait_js(page, "window.call && window.call.pc.connectionState === 'connected'")
                    await wait_js(page, "window.call.stats().then(s => s.framesDecoded > 0)")
                quality = await applicant.evaluate("window.call.stats()")
                assert quality["grade"] in ("good", "fair", "poor") and quality["rtt"] is not None

                await agent.evaluate("window.call.startScreenShare().then(() => true)")
                await wait_js(applicant, "window.remoteScreen?.getVideoTracks().length === 1")
                assert await applicant.evaluate("window.remoteScreen.id !== window.call.remoteStream.id")
                await agent.evaluate("window.call.stopScreenShare()")
                await wait_js(applicant, "window.remoteScreen === null")
                await applicant.evaluate("window.call.startScreenShare().then(() => true)")  # the other way
                await wait_js(agent, "window.remoteScreen?.getVideoTracks().length === 1")
                await applicant.evaluate("window.call.stopScreenShare()")
                await wait_js(agent, "window.remoteScreen === null")

                ufrag = "window.call.pc.remoteDescription.sdp.match(/a=ice-ufrag:(\\S+)/)[1]"
                before = await applicant.evaluate(ufrag)
                await applicant.evaluate("window.sock.ws.close()")  # the applicant's socket drops
                await wait_js(agent, "['peer.dropped', 'peer.resumed'].every(t => window.seen.includes(t))")
                await wait_js(applicant, f"{ufrag} !== {before!r}")  # the agent restarted ICE
                await wait_js(applicant, "window.call.pc.connectionState === 'connected'")
                frames = await applicant.evaluate("window.call.stats().then(s => s.framesDecoded)")
                await asyncio.sleep(0.5)
                assert await applicant.evaluate("window.call.stats().then(s => s.framesDecoded)") > frames

                await applicant.reload()  # a fresh page and RTCPeerConnection against the agent's old one
                await wait_js(applicant, "window.sock?.welcome?.room?.resumed === true")
                for page in (agent, applicant):
                    await wait_js(page, "window.call.pc.connectionState === 'connected'", timeout=20)
                    await wait_js(page, "window.call.stats().then(s => s.framesDecoded > 0)")
                # the agent decodes the new page's video: its frame count keeps growing
                await agent.evaluate("window.call.stats().then(s => { window.f0 = s.framesDecoded; })")
                await wait_js(agent, "window.call.stats().then(s => s.framesDecoded > window.f0 + 10)")
            finally:
                await browser.close()
    finally:
        await stack.stop()
