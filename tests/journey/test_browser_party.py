"""Calls of three in three headless Chromium contexts (fake media), every leg relay-only through coturn
(host candidates blocked: each page's RTCPeerConnection gets iceTransportPolicy "relay", so only the
app's TURN credentials can connect it). A supervisor monitors receive-only and joins; a consult adds
and removes a colleague; a conference transfer keeps the first agent in the call (#19)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Page, expect

from helpdesk.config import Settings
from tests.journey.browser import chromium, collect_console
from tests.journey.test_browser_guidance import login, shots_dir, start_call, wait_for
from tests.journey.test_turn import Turn, app_with_turn, tail, turnserver  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser
STEP_MS = 25_000

# Every peer connection of the page, forced relay-only (the test's stand-in for a network that blocks
# host candidates): the app's own code runs unchanged on top.
RELAY_ONLY_JS = """(() => {
  const P = window.RTCPeerConnection;
  window.__pcs = [];
  window.RTCPeerConnection = class extends P {
    constructor(cfg = {}, ...rest) { super({...cfg, iceTransportPolicy: 'relay'}, ...rest); window.__pcs.push(this); }
  };
})();"""
# Per open connection: state, the selected pair's candidate types, inbound video decoding, tracks sent.
LEGS_JS = """async () => {
  const out = [];
  for (const pc of window.__pcs || []) {
    if (pc.connectionState === 'closed') continue;
    const stats = await pc.getStats(); const by = {}; let pair = null, streams = 0, frames = 0;
    stats.forEach((r) => { by[r.id] = r; });
    stats.forEach((r) => {
      if (r.type === 'transport' && r.selectedCandidatePairId) pair = by[r.selectedCandidatePairId];
      if (r.type === 'inbound-rtp' && r.kind === 'video' && (r.framesDecoded || 0) > 0) {
        streams += 1; frames += r.framesDecoded; }
    });
    out.push({state: pc.connectionState, local: pair ? by[pair.localCandidateId].candidateType : null,
              remote: pair ? by[pair.remoteCandidateId].candidateType : null, streams, frames,
              sending: pc.getSenders().filter((s) => s.track).length});
  }
  return out;
}"""


async def legs(page: Page) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = await page.evaluate(LEGS_JS)
    return result


async def connected_legs(page: Page, n: int, receiving: int | None = None) -> list[dict[str, Any]]:
    """Waits for `n` open connections, each connected through a relay, `receiving` of them (all by
    default; the agent's leg to a watching supervisor receives nothing) decoding video."""
    async def check() -> list[dict[str, Any]] | None:
        found = await legs(page)
        ok = len(found) == n and all(
            leg["state"] == "connected" and leg["local"] == "relay" and leg["remote"] == "relay" for leg in found)
        decoding = sum(1 for leg in found if leg["streams"] >= 1)
        return found if ok and decoding >= (n if receiving is None else receiving) else None

    result: list[dict[str, Any]] = await wait_for(check, timeout=30)
    return result


async def contexts(browser: Any, url: str, logs: list[str]) -> list[tuple[BrowserContext, Page]]:
    out = []
    for viewport in ({"width": 1180, "height": 820}, {"width": 390, "height": 844}, {"width": 1180, "height": 820}):
        ctx = await browser.new_context(base_url=url, viewport=viewport)
        await ctx.add_init_script(RELAY_ONLY_JS)
        page = await ctx.new_page()
        page.set_default_timeout(STEP_MS)
        collect_console(page, logs)
        out.append((ctx, page))
    return out


async def test_supervisor_monitors_receive_only_then_joins(settings: Settings, turnserver: Turn,  # noqa: F811
                                                           chromium_path: str, tmp_path: Path) -> None:
    logs: list[str] = []
    async with app_with_turn(settings, turnserver) as live, chromium(chromium_path) as browser:
        (_, agent), (_, applicant), (_, boss) = await contexts(browser, live.url, logs)
        try:
            await start_call(live, agent, applicant)
            await connected_legs(agent, 1)
            await login(boss, live.seed["supervisor"].username)
            await boss.goto("/console/supervisor.html")
            # The monitor's HTTP answer reaches the page after the agent's page has offered (as on a
            # loaded machine, where CI first saw it): the page must keep that early offer.
            await boss.route("**/api/calls/*/monitor", _late_answer)
            await boss.locator("[data-monitor]").first.click()
            # The supervisor decodes the agent's camera and the applicant's (forwarded by the agent's
            # page) over one relay-only leg, and sends nothing.
            sup = await wait_for(lambda: _monitor_ok(boss), timeout=30)
            assert sup["sending"] == 0 and sup["streams"] == 2, sup
            await expect(agent.locator(".guide-status")).to_contain_text("赵主管")
            await expect(applicant.locator(".guide-status")).to_contain_text("赵主管")  # the setting is on
            # Nobody else receives anything from the supervisor: the applicant has its one leg (to the
            # agent), the agent's leg to the supervisor receives no video.
            assert len(await legs(applicant)) == 1
            agent_legs = await connected_legs(agent, 2, receiving=1)
            assert sorted(leg["streams"] for leg in agent_legs) == [0, 1], agent_legs
            await boss.screenshot(path=str(shots_dir(tmp_path) / "monitoring-supervisor.png"))
            # The supervisor joins: a call of three, one relay leg per pair, everyone sees everyone.
            await boss.click("#sup-monitor-join")
            for page in (agent, applicant, boss):
                found = await connected_legs(page, 2)
                assert all(leg["streams"] >= 1 for leg in found), found
            await expect(applicant.locator(".guide-tiles video")).to_have_count(1)
            await applicant.screenshot(path=str(shots_dir(tmp_path) / "three-party-applicant.png"))
            # The supervisor hangs up: they leave, the call goes on between the other two.
            await boss.click("#sup-monitor-stop")
            await expect(applicant.locator(".guide-tiles video")).to_have_count(0)
            await connected_legs(applicant, 1)
            for page in (agent, applicant):
                await expect(page.locator("#call-state")).to_have_attribute("data-state", "connected")
        except BaseException:
            print("\n".join(logs[-80:]))
            print(f"---- turnserver log ----\n{tail(turnserver.log)}")
            for name, page in (("agent", agent), ("applicant", applicant), ("boss", boss)):
                await page.screenshot(path=str(tmp_path / f"{name}.png"))
                print(name, await legs(page))
                print(name, await page.evaluate("""() => (window.__pcs || []).map((pc) => [pc.signalingState,
                  pc.localDescription && pc.localDescription.type, pc.remoteDescription && pc.remoteDescription.type,
                  pc.iceGatheringState, pc.iceConnectionState, JSON.stringify(pc.getConfiguration().iceServers),
                  (pc.localDescription?.sdp || '').split('\\r\\n').filter((l) => l.startsWith('a=cand')).length,
                  (pc.remoteDescription?.sdp || '').split('\\r\\n').filter((l) => l.startsWith('a=cand')).length,
                  pc.getTransceivers().map((t) => t.mid + ':' + t.direction + ':' + t.currentDirection).join(' ')])"""))
            raise


async def _late_answer(route: Any) -> None:
    response = await route.fetch()
    await asyncio.sleep(2)
    await route.fulfill(response=response)


async def _monitor_ok(boss: Page) -> dict[str, Any] | None:
    found = await legs(boss)
    if len(found) == 1 and found[0]["state"] == "connected" and found[0]["streams"] == 2:
        assert (found[0]["local"], found[0]["remote"]) == ("relay", "relay"), found
        return found[0]
    return None


async def test_consult_adds_and_removes_a_colleague(settings: Settings, turnserver: Turn,  # noqa: F811
                                               chromium_path: str, tmp_path: Path) -> None:
    logs: list[str] = []
    seed = None
    async with app_with_turn(settings, turnserver) as live, chromium(chromium_path) as browser:
        seed = live.seed
        (_, agent), (_, applicant), (_, colleague) = await contexts(browser, live.url, logs)
        try:
            await start_call(live, agent, applicant)
            await login(colleague, seed["agent2"].username)
            # Consult: the agent brings in a named colleague (online, not ready for the queue).
            await agent.click("#consult-open")  # the consult tools are folded away by default
            await agent.fill("#consult-staff", str(seed["agent2"].id))
            await agent.click("[data-guide=consult]")
            for page in (agent, applicant, colleague):
                found = await connected_legs(page, 2)
                assert all(leg["streams"] >= 1 for leg in found), found
            await expect(colleague.locator("#call-state")).to_have_attribute("data-state", "connected")
            # ... and leaves the applicant with them: the colleague becomes the applicant's big picture.
            await agent.click("[data-guide=leave]")
            await expect(agent.locator("#call-state")).to_have_attribute("data-state", "ended")
            await connected_legs(applicant, 1)
            await expect(applicant.locator(".guide-tiles video")).to_have_count(0)
            await expect(applicant.locator("#peer-name")).to_have_text("李帮办")
            await colleague.click("#hangup")
            await expect(applicant.locator("#call-state")).to_have_attribute("data-state", "ended")
        except BaseException:
            print("\n".join(logs[-80:]))
            for name, page in (("agent", agent), ("applicant", applicant), ("colleague", colleague)):
                await page.screenshot(path=str(tmp_path / f"consult-{name}.png"))
            raise
    await asyncio.sleep(0)


async def test_conference_transfer_keeps_the_helper_in_the_call(settings: Settings, turnserver: Turn,  # noqa: F811
                                                                 chromium_path: str, tmp_path: Path) -> None:
    logs: list[str] = []
    async with app_with_turn(settings, turnserver) as live, chromium(chromium_path) as browser:
        seed = live.seed
        (_, helper), (_, applicant), (_, city) = await contexts(browser, live.url, logs)
        try:
            await start_call(live, helper, applicant)
            await login(city, seed["agent2"].username)
            await city.click("#ready-toggle")
            await expect(city.locator("#agent-state")).to_have_attribute("data-state", "ready")
            # The agent who opened the call transfers it to the city desk and stays on.
            await helper.click("#transfer")
            await helper.select_option("#transfer-unit", str(seed["city"].id))
            await helper.fill("#transfer-note", "字号需市局核名，我继续陪同申请人")
            await helper.check("#transfer-conference")
            await helper.click("#transfer-submit")
            await expect(city.locator("#offer-card")).to_be_visible()
            await city.click("#offer-accept")
            for page in (helper, applicant, city):
                await expect(page.locator("#call-state")).to_have_attribute("data-state", "connected")
                found = await connected_legs(page, 2)
                assert all(leg["streams"] >= 1 for leg in found), found
            await expect(applicant.locator(".guide-tiles figcaption")).to_have_text(["王帮办"])
        except BaseException:
            print("\n".join(logs[-80:]))
            for name, page in (("helper", helper), ("applicant", applicant), ("city", city)):
                await page.screenshot(path=str(tmp_path / f"conference-{name}.png"))
                print(name, await legs(page))
            raise
