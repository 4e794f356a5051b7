"""The two browser UIs (applicant page, agent console) parse, are fully translated and keep their test ids.

Static checks run everywhere; the smoke test loads both pages in headless Chromium against a tiny
stub server (real static files, canned JSON), so it needs neither the database nor the queue.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

import jinja2
import pytest

from tests.conftest import require_service

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "helpdesk" / "web" / "static"
I18N = ROOT / "helpdesk" / "web" / "i18n"
TEMPLATES = ROOT / "helpdesk" / "web" / "templates"
CONSOLE = ROOT / "agent-console"
SIGNALING = ROOT / "signaling" / "helpdesk_signaling" / "static"
HTML_FILES = [TEMPLATES / "help.html", *sorted(CONSOLE.glob("*.html"))]
JS_FILES = sorted([*STATIC.glob("*.js"), *CONSOLE.glob("*.js"), *CONSOLE.glob("supervisor/*.js")])

# Ids the browser tests rely on (documented in docs/console.md).
CALL_IDS = ["call-state", "remote-video", "remote-screen", "local-video", "screen-share", "mute", "camera",
            "hangup", "chat-input", "chat-send", "chat-log", "file-input", "file-list", "quality",
            "reconnecting-banner"]
APPLICANT_IDS = [*CALL_IDS, "help-button", "audio-only", "queue-position", "queue-wait", "leave-queue",
                 "callback-form", "callback-phone", "callback-submit", "rating-form", "rating-submit",
                 "lang-toggle"]
CONSOLE_IDS = [*CALL_IDS, "login-username", "login-password", "login-submit", "login-error", "ready-toggle",
               "agent-state", "offer-card", "offer-accept", "offer-decline", "offer-countdown", "wrapup-form",
               "wrapup-outcome", "wrapup-notes", "wrapup-submit", "kb-panel", "recent-list",
               "supervisor-link"]
SUPERVISOR_IDS = ["sup-totals", "sup-queues", "sup-agents", "sup-calls", "sup-unresolved", "sup-figures",
                  "sup-export", "sup-notifications", "sup-gate", "sup-gate-text", "sup-updated", "sup-unread",
                  "sup-charts", "sup-report", "sup-report-export", "sup-breaches", "sup-drawer", "sup-drawer-timeline",
                  "sup-drawer-chat", "sup-drawer-files", "sup-reassign-dialog", "sup-reassign-agent",
                  "sup-reassign-unit", "sup-reassign-reason", "sup-reassign-submit", "sup-group", "sup-from",
                  "sup-to", "lang-toggle", "logout"]


def catalog(lang: str) -> dict[str, str]:
    return json.loads((I18N / f"{lang}.json").read_text(encoding="utf-8"))


def ids_in(html: str) -> list[str]:
    return re.findall(r'\sid="([^"]+)"', html)


def test_every_module_parses() -> None:
    node = shutil.which("node")
    require_service("node", node is not None)
    assert node is not None
    assert JS_FILES, "no browser modules found"
    for path in JS_FILES:
        run = subprocess.run([node, "--experimental-default-type=module", "--check", str(path)],
                             capture_output=True, text=True, timeout=30, check=False)
        assert run.returncode == 0, f"{path.relative_to(ROOT)}: {run.stderr}"


def test_modules_stay_small() -> None:
    for path in [*JS_FILES, *STATIC.glob("*.css"), *CONSOLE.glob("*.css")]:
        lines = path.read_text(encoding="utf-8").count("\n")
        assert lines <= 400, f"{path.relative_to(ROOT)} has {lines} lines"


def test_catalogs_have_the_same_keys_and_placeholders() -> None:
    zh, en = catalog("zh-CN"), catalog("en")
    assert set(zh) == set(en), f"only in one catalog: {sorted(set(zh) ^ set(en))}"
    for key in zh:
        assert set(re.findall(r"\{(\w+)\}", zh[key])) == set(re.findall(r"\{(\w+)\}", en[key])), key


def used_keys() -> set[str]:
    keys: set[str] = set()
    for path in HTML_FILES:
        html = path.read_text(encoding="utf-8")
        keys |= set(re.findall(r'data-i18n(?:-placeholder|-aria-label|-title)?="([^"]+)"', html))
    for path in JS_FILES:
        src = path.read_text(encoding="utf-8")
        keys |= set(re.findall(r"\bt\('([a-z][\w.]*)'", src))
        keys |= set(re.findall(r"setText\([^,()]+(?:\([^()]*\))?,\s*'([a-z][\w.]*)'", src))
        keys |= {k for k in re.findall(r"'(sup\.[a-z_.]*[a-z_])'", src)}  # passed around as arguments
    return keys


def test_every_literal_key_is_translated() -> None:
    zh = catalog("zh-CN")
    missing = sorted(k for k in used_keys() if k not in zh)
    assert not missing, f"keys used but not in zh-CN.json: {missing}"
    # Keys built at run time: every value they can take.
    for prefix, values in {
        "state.": ["idle", "offered", "connecting", "connected", "reconnecting", "ended"],
        "agent.state.": ["offline", "ready", "offered", "busy", "wrap_up", "away"],
        "outcome.": ["resolved", "unresolved", "follow_up", "transferred", "callback"],
        "quality.": ["good", "fair", "poor", "unknown"],
        "offer.revoked.": ["timeout", "declined", "left", "taken"],
        "rating.": ["1", "2", "3", "4", "5"],
        # the supervisor view
        "sup.total.": ["waiting", "agents_ready", "agents_busy", "calls", "red", "escalated"],
        "sup.flag.": ["none", "reminded", "red", "escalated"],
        "sup.reason.": ["unclaimed", "overdue"],
        "sup.group.": ["day", "agent", "unit", "item"],
        "sup.fig.": ["offered", "answered", "abandoned", "service_level", "asa", "aht", "first_contact_resolution",
                     "resolution_rate", "rating", "inspection_pass"],
        "sup.gate.": ["login", "login_title", "forbidden", "forbidden_title", "error", "error_title"],
        "status.": ["queued", "offered", "in_call", "wrap_up", "resolved", "unresolved", "transferred",
                    "callback_pending", "abandoned", "closed"],
    }.items():
        for v in values:
            assert prefix + v in zh, prefix + v


@pytest.mark.parametrize(("path", "required"), [(TEMPLATES / "help.html", APPLICANT_IDS),
                                                (CONSOLE / "index.html", CONSOLE_IDS),
                                                (CONSOLE / "supervisor.html", SUPERVISOR_IDS)])
def test_pages_keep_their_test_ids(path: Path, required: list[str]) -> None:
    ids = ids_in(path.read_text(encoding="utf-8"))
    duplicates = {i for i in ids if ids.count(i) > 1}
    assert not duplicates, f"duplicate ids in {path.name}: {duplicates}"
    assert not set(required) - set(ids), f"{path.name} lacks {sorted(set(required) - set(ids))}"


def test_no_inner_html_for_data() -> None:
    """Only the server-sanitized guide may be inserted as HTML."""
    for path in JS_FILES:
        for line in path.read_text(encoding="utf-8").splitlines():
            if "innerHTML" in line:
                assert "guide_html" in line, f"{path.name}: {line.strip()}"


def test_template_escapes_what_it_is_given() -> None:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True)
    html = env.get_template("help.html").render(lang="en", item_code='X"><script>alert(1)</script>',
                                                handoff_token="tok", csrf_token="c")
    assert "<script>alert(1)" not in html
    assert 'data-handoff="tok"' in html and 'data-csrf="c"' in html


# ---- browser smoke test ------------------------------------------------------------------------
ITEM = {"code": "SCJG-001", "name": "企业设立登记", "name_en": "Company registration",
        "department": "市场监管", "video_help": True, "remote_inspection": False, "open_now": True,
        "agents_ready": 2, "guide_html": None}


class StubHandler(BaseHTTPRequestHandler):
    """Static files from the repository plus canned JSON for the calls a page makes on load."""

    mounts = {"/static/help/": STATIC, "/static/i18n/": I18N, "/static/signaling/": SIGNALING,
              "/console/": CONSOLE}
    types = {".js": "text/javascript", ".css": "text/css", ".json": "application/json", ".html": "text/html"}

    def log_message(self, *args: object) -> None:
        pass

    def send(self, status: int, body: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype + "; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def json(self, status: int, obj: object) -> None:
        self.send(status, json.dumps(obj).encode(), "application/json")

    def do_GET(self) -> None:
        path = urlparse(self.path).path
        if path == "/help":
            env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True)
            html = env.get_template("help.html").render(lang="zh-CN", item_code="SCJG-001", handoff_token="",
                                                        csrf_token="c")
            self.send(200, html.encode(), "text/html")
        elif path == "/api/auth/me":
            self.json(401, {"error": "unauthorized", "detail": "login required"})
        elif path == "/api/auth/session":
            self.json(200, {"staff": None})
        elif path.startswith("/api/help/items/"):
            self.json(200, ITEM)
        else:
            for prefix, folder in self.mounts.items():
                if path.startswith(prefix):
                    rel = path[len(prefix):] or "index.html"
                    f = (folder / rel).resolve()
                    if f.is_file() and f.is_relative_to(folder):
                        self.send(200, f.read_bytes(), self.types.get(f.suffix, "application/octet-stream"))
                        return
            self.json(404, {"error": "not_found", "detail": path})

    def do_POST(self) -> None:
        path = urlparse(self.path).path
        if path == "/api/help/session":
            applicant = {"id": "a1", "name": None, "phone": None}
            self.json(200, {"applicant": applicant, "item": None, "handoff": None})
        elif path == "/api/auth/login":
            self.send_response(429)
            body = json.dumps({"error": "too_many_requests", "detail": "try again in 42 s"}).encode()
            self.send_header("Retry-After", "42")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self.json(404, {"error": "not_found", "detail": path})


@pytest.fixture
def stub_server() -> object:
    server = ThreadingHTTPServer(("127.0.0.1", 0), StubHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.browser
async def test_pages_load_in_chromium(chromium_path: str, stub_server: str) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium_path, args=[
            "--no-sandbox", "--disable-gpu", "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream"])
        try:
            page = await browser.new_page(viewport={"width": 360, "height": 740})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            await page.goto(stub_server + "/help?item=SCJG-001", timeout=10_000)
            await page.wait_for_selector("#item-view:not([hidden])", timeout=10_000)
            assert await page.text_content("#item-name") == "企业设立登记"
            assert await page.text_content("#help-button") == "视频帮办"
            assert await page.text_content("#call-state") == "idle"
            await page.click("#lang-toggle")
            await page.wait_for_function(
                "document.querySelector('#help-button').textContent === 'Video help'", timeout=5_000)
            assert await page.text_content("#item-name") == "Company registration"
            assert await page.evaluate("typeof window.__helpdesk.switchCamera") == "function"
            assert not errors, errors

            console = await browser.new_page(viewport={"width": 1280, "height": 800})
            console.on("pageerror", lambda e: errors.append(str(e)))
            await console.goto(stub_server + "/console/", timeout=10_000)
            await console.wait_for_selector("#login-form", state="visible", timeout=10_000)
            await console.fill("#login-username", "agent1")
            await console.fill("#login-password", "wrong")
            await console.click("#login-submit")
            await console.wait_for_selector("#login-error:not([hidden])", timeout=5_000)
            assert "42" in (await console.text_content("#login-error") or "")
            assert await console.is_disabled("#login-submit")
            assert not errors, errors

            # The supervisor view, logged out: a note and a way to the console's login (and back).
            sup = await browser.new_page(viewport={"width": 1280, "height": 800})
            sup.on("pageerror", lambda e: errors.append(str(e)))
            await sup.goto(stub_server + "/console/supervisor.html", timeout=10_000)
            await sup.wait_for_selector("#sup-gate", state="visible", timeout=10_000)
            assert await sup.get_attribute("#sup-gate-link", "href") == "/console/?next=supervisor"
            assert await sup.is_hidden("#sup-app")
            assert await sup.get_attribute("body", "data-view") == "login"
            assert not errors, errors
        finally:
            await browser.close()
