"""A headless Chromium fake camera → the inspection peer (aiortc) → a playable recording."""

from __future__ import annotations

import asyncio
import hashlib
import io
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import av
import pytest
from helpdesk_inspection.peer import InspectionPeer, include_loopback_candidates
from helpdesk_inspection.recorder import Recorder

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--allow-loopback-in-peer-connection",
]

PAGE = b"""<!doctype html><meta charset="utf-8"><title>inspection camera</title>
<script>
window.cands = []; window.gathered = false;
window.makeOffer = async () => {
  const stream = await navigator.mediaDevices.getUserMedia({video: {facingMode: 'environment'}});
  const pc = window.pc = new RTCPeerConnection();
  pc.onicecandidate = (e) => { if (e.candidate) cands.push(e.candidate.toJSON()); else gathered = true; };
  for (const t of stream.getVideoTracks()) pc.addTransceiver(t, {direction: 'sendonly'});
  await pc.setLocalDescription(await pc.createOffer());
  return {type: pc.localDescription.type, sdp: pc.localDescription.sdp};
};
</script>"""


class _Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def page_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture
def loopback() -> Iterator[None]:
    include_loopback_candidates(True)
    yield
    include_loopback_candidates(False)


async def test_chromium_fake_camera_is_recorded(
    chromium_path: str, page_url: str, loopback: None, tmp_path: Path
) -> None:
    from playwright.async_api import async_playwright

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    peer = InspectionPeer(Recorder(tmp_path / "chromium.mp4"), send)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS, timeout=30_000)
        try:
            page = await browser.new_page()
            page.set_default_timeout(15_000)
            await page.goto(page_url)
            offer = await page.evaluate("makeOffer()")
            await asyncio.wait_for(peer.handle_signal({"description": offer}), 15)
            answer = sent[0]["description"]
            await page.evaluate("(a) => pc.setRemoteDescription(a)", answer)
            await page.wait_for_function("gathered", timeout=10_000)
            for cand in await page.evaluate("cands"):
                await peer.handle_signal({"candidate": cand})
            await peer.handle_signal({"candidate": None})
            await asyncio.wait_for(peer.connected.wait(), 20)
            await peer.recorder.wait_first_frame(within_s=15)
            await asyncio.sleep(2.5)
            snap = await peer.recorder.snapshot()
        finally:
            result = await asyncio.wait_for(peer.close(), 30)
            await browser.close()

    assert result is not None and result.error is None
    with av.open(str(result.path)) as container:
        frames = list(container.decode(video=0))
        assert container.duration and container.duration > 0
    assert len(frames) > 10 and len(frames) == result.frames_written
    assert (frames[0].width, frames[0].height) == (640, 480)  # Chromium's fake camera
    assert snap.sha256 == hashlib.sha256(snap.jpeg).hexdigest()
    with av.open(io.BytesIO(snap.jpeg)) as img:
        decoded = next(img.decode(video=0))
        assert decoded.width == snap.width and decoded.height == snap.height
