"""inspection.js in headless Chromium on both sides: the agent starts, the applicant consents and
streams the rear camera to the server peer, the agent snapshots, marks and ends from its panel."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.responses import HTMLResponse
from helpdesk_inspection.component import InspectionComponent
from helpdesk_inspection.models import EvidenceSnapshot, Inspection
from playwright.async_api import Error as PlaywrightError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from helpdesk.clock import FakeClock
from helpdesk.config import Settings

from .conftest import World
from .test_browser_recording import CHROMIUM_ARGS
from .test_routes import make_app

pytestmark = pytest.mark.browser

PAGE = """<!doctype html><meta charset="utf-8"><body><div id="insp"></div>
<script type="module">
import {inspectionUI} from '/static/inspection/inspection.js';
window.outbox = []; window.cameraEvents = [];
window.ui = inspectionUI({role: new URLSearchParams(location.search).get('role'),
                          root: document.getElementById('insp'), send: (m) => window.outbox.push(m),
                          onCamera: (s) => window.cameraEvents.push(s ? s.getVideoTracks().length : null)});
window.ready = true;
</script>"""


async def serve(app: Any, stack: contextlib.AsyncExitStack) -> str:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    task = asyncio.create_task(server.serve())

    async def stop() -> None:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(task, 10)

    stack.push_async_callback(stop)
    for _ in range(200):
        if server.started:
            break
        await asyncio.sleep(0.05)
    return f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"


async def test_both_uis_run_an_inspection(
    chromium_path: str,
    settings: Settings,
    clock: FakeClock,
    world: World,
    db_sessions: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    from playwright.async_api import async_playwright

    sent: list[tuple[str, dict[str, Any]]] = []
    me, agent_id = f"a:{world.applicant_id}", f"s:{world.agent.id}"
    async with contextlib.AsyncExitStack() as stack:
        app = await make_app(settings, clock, db_sessions, world, sent, stack)
        component: InspectionComponent = app.state.component
        app.add_api_route("/page", lambda: HTMLResponse(PAGE), methods=["GET"])
        base = await serve(app, stack)

        pw = await stack.enter_async_context(async_playwright())
        browser = await pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS, timeout=30_000)
        stack.push_async_callback(browser.close)
        pages = {}
        for member, role, cookie, value in (
            (me, "applicant", "test_applicant", world.applicant_id),
            (agent_id, "agent", "test_staff", str(world.agent.id)),
        ):
            context = await browser.new_context(
                permissions=["geolocation"], geolocation={"latitude": 38.87, "longitude": 115.46}
            )
            await context.add_cookies([{"name": cookie, "value": value, "url": base}])
            page = await context.new_page()
            page.set_default_timeout(15_000)
            await page.goto(f"{base}/page?role={role}")
            await page.wait_for_function("window.ready === true")
            pages[member] = page
        applicant, agent = pages[me], pages[agent_id]
        delivered = 0

        async def pump() -> None:  # stands in for the app's WebSocket (messages are lost on a reload)
            nonlocal delivered
            while True:
                with contextlib.suppress(PlaywrightError):
                    for msg in await applicant.evaluate("window.outbox ? outbox.splice(0) : []"):
                        await component.handle_client_message(me, msg)
                while delivered < len(sent):
                    who, msg = sent[delivered]
                    delivered += 1
                    if who in pages:
                        with contextlib.suppress(PlaywrightError):
                            await pages[who].evaluate("(m) => window.ui && ui.onMessage(m)", msg)
                await asyncio.sleep(0.05)

        pumping = asyncio.create_task(pump())
        stack.callback(pumping.cancel)

        await agent.evaluate("(wo) => ui.start(wo, 'r1')", world.work_order)
        await agent.wait_for_selector("text=等待申请人同意录像")
        await applicant.get_by_role("button", name="同意并开始").click()
        await applicant.wait_for_selector("text=加工场所布局")
        await agent.wait_for_selector("li.current >> text=加工场所布局")
        insp_id = await agent.evaluate("ui.state.id")
        for _ in range(200):
            peer = component.live.peer(insp_id)
            if peer is not None and peer.recorder.frames_received > 20:
                break
            await asyncio.sleep(0.1)
        else:
            pytest.fail("no video reached the inspection peer")

        # The applicant's page reloads mid-inspection: resume() re-offers, a second segment starts.
        old_peer = component.live.peer(insp_id)
        await applicant.reload()
        await applicant.wait_for_function("window.ready === true")
        assert await applicant.evaluate("(wo) => ui.resume(wo)", world.work_order) is True
        await applicant.wait_for_selector("text=加工场所布局")
        for _ in range(200):
            peer = component.live.peer(insp_id)
            if peer is not None and peer is not old_peer and peer.recorder.frames_received > 20:
                break
            await asyncio.sleep(0.1)
        else:
            pytest.fail("the resumed camera did not reach the inspection peer")

        first = agent.locator("ol.insp-points > li").nth(0)
        await first.get_by_role("button", name="截图").click()
        await agent.wait_for_selector("text=已截图 K1")
        for n in range(3):
            await agent.locator("ol.insp-points > li").nth(n).get_by_role("button", name="合格", exact=True).click()
            await agent.wait_for_selector(f"ol.insp-points > li:nth-child({n + 1}) >> text=[合格]")
        await agent.locator("ol.insp-points > li").nth(2).locator("button.insp-point").click()  # step to point 3
        await applicant.wait_for_selector("text=拍摄消毒柜")
        await agent.get_by_role("button", name="通过", exact=True).click()
        await applicant.wait_for_selector("text=勘验结束：通过")
        await agent.wait_for_selector("text=下载报告（PDF）")
        assert await applicant.evaluate("cameraEvents") == [1, None]  # since the reload: shown, restored
        async with httpx.AsyncClient(base_url=base, cookies={"test_applicant": world.applicant_id}) as api:
            pdf = await api.get(f"/api/inspections/{insp_id}/report.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    async with db_sessions() as s:
        insp = await s.get(Inspection, insp_id)
        shot = (await s.execute(select(EvidenceSnapshot))).scalar_one()
    assert insp is not None and insp.outcome is not None and insp.outcome.value == "pass"
    assert insp.location is not None and insp.location["lat"] == pytest.approx(38.87)
    assert [r["key"].split("/")[1] for r in insp.recordings] == ["recording-1.mp4", "recording-2.mp4"]
    assert all(r["frames"] > 10 for r in insp.recordings)
    data = (settings.recordings_dir / shot.storage_key).read_bytes()
    assert hashlib.sha256(data).hexdigest() == shot.sha256
    assert (shot.width, shot.height) == (insp.recordings[1]["width"], insp.recordings[1]["height"])
