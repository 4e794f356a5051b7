"""docs/admin.md's path, exactly, in real headless Chromium: an empty database, the first admin from
`helpdesk createuser`, units and items imported from the sample files in the admin pages, two agents
created in the browser, opening hours set, and the help page of an imported item reaches an agent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import uvicorn
from playwright.async_api import Page, expect

from helpdesk.app import create_app
from helpdesk.cli import WS_IMPL
from helpdesk.config import Settings
from tests.conftest import free_port
from tests.helpdesk.test_cli import run as run_cli
from tests.journey.a11y import violations
from tests.journey.browser import chromium, collect_console

pytestmark = pytest.mark.browser
SAMPLES = Path(__file__).parents[3] / "helpdesk" / "admin" / "samples"
STEP_MS = 20_000
ADMIN_PASSWORD = "first admin password"
AGENT_PASSWORD = "wang's own password"


@asynccontextmanager
async def serve(settings: Settings) -> AsyncIterator[str]:
    """The real app under uvicorn on the database the CLI made (no test seeding)."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning",
                                           ws=WS_IMPL, lifespan="on"))
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(15):
        while not server.started:
            await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)


async def import_sample(admin: Page, kind: str, expected: str) -> None:
    await admin.click('.tab[data-panel="import"]')
    await admin.select_option("#imp-kind", kind)
    await admin.set_input_files("#imp-file", str(SAMPLES / f"{kind}.csv"))
    await admin.click("#imp-preview")
    await expect(admin.locator("#imp-status")).to_contain_text(expected)
    await admin.click("#imp-apply")
    await expect(admin.locator("#imp-status")).to_contain_text("已导入")


async def create_agent(admin: Page, username: str, name: str, unit: str) -> str:
    """Creates the agent in the staff form and reads the one-time password it shows once."""
    await admin.click('.tab[data-panel="staff"]')
    await admin.click("#staff-new")
    await admin.fill("#staff-username", username)
    await admin.fill("#staff-display", name)
    await admin.select_option("#staff-unit", label=unit)
    await admin.fill("#staff-skills", "SCJG")
    await admin.click("#staff-save")
    notice = admin.locator("#staff-password")
    await expect(notice).to_contain_text(username)
    text = await notice.text_content() or ""
    return text.split("：", 1)[1].split("（", 1)[0].strip()


async def test_a_bureau_sets_itself_up_from_an_empty_database(tmp_path: Path, chromium_path: str) -> None:
    # 1-2. helpdesk db upgrade; helpdesk createuser (the first admin, and the top unit of the tree)
    assert run_cli(tmp_path, "db", "upgrade").returncode == 0
    r = run_cli(tmp_path, "createuser", "boss", "--role", "admin", "--unit", "130000", "--unit-name", "河北省",
                "--password-stdin", stdin=ADMIN_PASSWORD + "\n")
    assert r.returncode == 0, r.stderr
    var = tmp_path / "var"
    settings = Settings(dev_mode=True, database_url=f"sqlite+aiosqlite:///{var}/cli.db", redis_url=None,
                        upload_dir=var / "uploads", kb_index_dir=var / "kb-index", recordings_dir=var / "rec")
    console: list[str] = []
    found: list[str] = []
    async with serve(settings) as url, chromium(chromium_path) as browser:
        admin = await (await browser.new_context(base_url=url, viewport={"width": 1024, "height": 768})).new_page()
        agent = await (await browser.new_context(base_url=url)).new_page()
        applicant = await (await browser.new_context(base_url=url, viewport={"width": 390, "height": 844})).new_page()
        for page in (admin, agent, applicant):
            page.set_default_timeout(STEP_MS)
            collect_console(page, console)
        try:
            # 3. the admin pages: log in, import the sample units and items
            await admin.goto("/console/admin/")
            await admin.fill("#login-username", "boss")
            await admin.fill("#login-password", ADMIN_PASSWORD)
            await admin.click("#login-submit")
            await expect(admin.locator("#app")).to_be_visible()
            await import_sample(admin, "units", "将新增 11")
            await import_sample(admin, "items", "将新增 35")
            await admin.screenshot(path=str(tmp_path / "admin-import.png"))
            # 4. two agents, created in the browser
            wang = await create_agent(admin, "wang", "王帮办", "\u3000\u3000莲池区 (130606)")
            await create_agent(admin, "li", "李帮办", "\u3000保定市行政审批局 (130600)")
            # 5. open hours: 莲池区 open around the clock for the test (any day, any hour)
            await admin.click('.tab[data-panel="org"]')
            await admin.click('.tree-node[data-code="130606"]')
            for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"):
                await admin.fill(f"#hours-{day}", "00:00-24:00")
            await admin.click("#org-save")
            await expect(admin.locator("#toast")).to_contain_text("已保存")
            await admin.screenshot(path=str(tmp_path / "admin-org.png"))
            # 5b. the year's holidays from the State Council notice, and an integration token, listed
            await admin.click('.tab[data-panel="holidays"]')
            await admin.fill("#hol-year", "2026")
            await admin.click("#hol-load")
            await expect(admin.locator("#hol-table")).to_contain_text("春节")
            await admin.click('.tab[data-panel="tokens"]')
            await admin.fill("#tok-name", "审批系统")
            await admin.fill("#tok-scopes", "workorders:read")
            await admin.click("#tok-form button[type=submit]")
            await expect(admin.locator("#tok-table")).to_contain_text("审批系统")
            # Every admin tab is clean under axe, in Chinese and in English.
            for lang in ("zh", "en"):
                for tab in ("org", "items", "staff", "holidays", "tokens", "import", "integration"):
                    await admin.click(f'.tab[data-panel="{tab}"]')
                    await expect(admin.locator(f"#panel-{tab}")).to_be_visible()
                    found += await violations(admin, f"admin {tab} ({lang})")
                await admin.click(".lang-toggle >> nth=-1")
            await admin.click('.tab[data-panel="org"]')
            # 6. the agent's first login: the one-time password must be replaced
            await agent.goto("/console/")
            await agent.fill("#login-username", "wang")
            await agent.fill("#login-password", wang)
            await agent.click("#login-submit")
            await expect(agent.locator("#password-form")).to_be_visible()
            await agent.fill("#password-current", wang)
            await agent.fill("#password-new", AGENT_PASSWORD)
            await agent.click("#password-submit")
            await expect(agent.locator("#workbench")).to_be_visible()
            await agent.click("#ready-toggle")
            await expect(agent.locator("#agent-state")).to_have_attribute("data-state", "ready")
            # 7. the help page of an imported item reaches the agent
            await applicant.goto("/help?item=SCJG-001&unit=130606")
            await expect(applicant.locator("#item-name")).to_have_text("企业设立登记")
            await applicant.click("#help-button")
            await expect(agent.locator("#offer-card")).to_be_visible()
            await expect(agent.locator("#offer-context")).to_contain_text("企业设立登记")
            await agent.click("#offer-accept")
            for page in (agent, applicant):
                await expect(page.locator("#call-state")).to_have_attribute("data-state", "connected")
        except Exception:
            for i, page in enumerate((admin, agent, applicant)):
                await page.screenshot(path=str(tmp_path / f"failed-{i}.png"))
            raise
    assert not found, "\n".join(found)
    assert not [m for m in console if "pageerror" in m], console
