"""Headless Chromium (Debian's, driven by Playwright) with a fake camera, microphone and screen."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from playwright.async_api import Browser, Page, async_playwright, expect

# Page assertions wait this long (Playwright's default is 5 s): a call reconnecting after a reload on
# a loaded 2-core CI machine can take longer, and a slow pass is not a failure.
expect.set_options(timeout=20_000)

CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
    "--allow-loopback-in-peer-connection", "--autoplay-policy=no-user-gesture-required",
    # The pages follow the browser's language: by default a Chinese browser, like most applicants';
    # a test of the English pages gives its context locale="en-US".
    "--accept-lang=zh-CN,zh",
]

# Sums the inbound video of the page's call: how many streams decode frames, and their sizes.
INBOUND_VIDEO_JS = """
async () => {
  const peer = window.__helpdesk && window.__helpdesk.peer;
  const pc = peer && (peer.pc || peer.connection);
  if (!pc) return {streams: 0, frames: 0, widths: [], state: 'none'};
  const stats = await pc.getStats();
  let streams = 0, frames = 0; const widths = [];
  stats.forEach(r => {
    if (r.type === 'inbound-rtp' && r.kind === 'video' && (r.framesDecoded || 0) > 0) {
      streams += 1; frames += r.framesDecoded; widths.push(r.frameWidth || 0);
    }
  });
  return {streams, frames, widths, state: pc.connectionState};
}
"""


@asynccontextmanager
async def chromium(executable: str) -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, timeout=30_000)
        try:
            yield browser
        finally:
            await browser.close()


async def inbound_video(page: Page) -> dict[str, Any]:
    result: dict[str, Any] = await page.evaluate(INBOUND_VIDEO_JS)
    return result


def collect_console(page: Page, sink: list[str]) -> None:
    """Keeps the page's console errors so a failing test shows what the page saw."""
    page.on("console", lambda m: sink.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: sink.append(f"pageerror: {e}"))
