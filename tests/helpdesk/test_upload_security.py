"""Uploads on every path (files in a call, work-order attachments, KB attachments): the body is cut off
while it streams in, the type comes from the bytes, and nothing comes back as a page a browser would
run. The pages themselves (/help, /console/) carry a Content-Security-Policy and framing rules."""

from __future__ import annotations

import hashlib
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from fastapi import FastAPI
from PIL import Image

from helpdesk.accounts.models import Role
from helpdesk.applicants.models import Applicant
from helpdesk.clock import FakeClock
from helpdesk.config import Settings
from helpdesk.workorders.models import WorkOrderStatus
from tests.helpdesk.factories import (
    PASSWORD,
    api_app,
    client_for,
    make_department,
    make_item,
    make_staff,
    make_unit,
    make_work_order,
)


def picture(fmt: str = "PNG", exif: Image.Exif | None = None) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 40, 40)).save(out, fmt, **({"exif": exif} if exif is not None else {}))
    return out.getvalue()


PNG = picture()
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>'
HTML = b"<!doctype html><html><script>alert(document.cookie)</script></html>"
LIMIT = 200_000


@dataclass
class Call:
    app: FastAPI
    applicant: httpx.AsyncClient
    agent: httpx.AsyncClient
    supervisor: httpx.AsyncClient
    work_order: str
    article: str


@pytest.fixture
async def call(settings: Settings, clock: FakeClock) -> AsyncIterator[Call]:
    """A call in progress between an applicant and an agent, and a draft KB article of the supervisor."""
    small = settings.model_copy(update={"upload_max_bytes": LIMIT})
    async with api_app(small, clock) as app:
        state = app.state.helpdesk
        async with state.sessions() as s:
            unit = await make_unit(s)
            dept = await make_department(s)
            item = await make_item(s, department=dept, units=[unit])
            agent = await make_staff(s, unit=unit, username="up.agent")
            await make_staff(s, unit=unit, role=Role.supervisor, username="up.super")
            await s.commit()
            agent_id, unit_id, item_id, dept_id = agent.id, unit.id, item.id, dept.id
        async with client_for(app) as applicant, client_for(app) as agent_c, client_for(app) as sup:
            applicant_id = (await applicant.post("/api/help/session", json={})).json()["applicant"]["id"]
            for client, username in ((agent_c, "up.agent"), (sup, "up.super")):
                r = await client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
                assert r.status_code == 200
            async with state.sessions() as s:
                from helpdesk.org.models import OrgUnit, ServiceItem

                wo = await make_work_order(s, unit=await s.get(OrgUnit, unit_id),
                                           item=await s.get(ServiceItem, item_id),
                                           applicant=await s.get(Applicant, applicant_id), agent_id=agent_id,
                                           status=WorkOrderStatus.unresolved)
                wo_id = wo.id
                await s.commit()
            await state.components["journey"].hub.open_room(wo_id, (f"a:{applicant_id}", f"s:{agent_id}"),
                                                            {"work_order": wo_id})
            r = await sup.post("/api/kb/articles", json={"title": "指南", "body": "正文", "item_ids": [item_id],
                                                         "department_ids": [dept_id], "tags": []})
            assert r.status_code == 201, r.text
            yield Call(app, applicant, agent_c, sup, wo_id, r.json()["id"])


def stored_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def upload_routes(c: Call) -> list[tuple[httpx.AsyncClient, str]]:
    return [(c.applicant, f"/api/calls/{c.work_order}/files"),
            (c.agent, f"/api/workorders/{c.work_order}/attachments"),
            (c.supervisor, f"/api/kb/articles/{c.article}/attachments")]


@pytest.mark.parametrize("name, data, declared", [
    ("photo.png", SVG, "image/png"),  # an SVG (script inside) disguised as a PNG
    ("photo.svg", SVG, "image/svg+xml"),
    ("photo.jpg", HTML, "image/jpeg"),  # a page disguised as a JPEG
    ("page.html", HTML, "text/html"),
    ("setup.png", b"MZ\x90\x00" + b"\x00" * 100, "image/png"),
])
async def test_disguised_files_are_refused_on_every_upload_path(call: Call, name: str, data: bytes,
                                                                 declared: str) -> None:
    for client, url in upload_routes(call):
        r = await client.post(url, files={"file": (name, data, declared)})
        assert r.status_code == 415, (url, r.status_code, r.text)


async def test_bodies_are_cut_off_while_streaming(call: Call, settings: Settings) -> None:
    """Past the limit (plus the multipart envelope) the app answers 413 before the route runs, with or
    without a Content-Length, and keeps nothing."""
    big = b"%PDF-1.4\n" + b"0" * (LIMIT + 128 * 1024)
    for client, url in upload_routes(call):
        r = await client.post(url, files={"file": ("big.pdf", big, "application/pdf")})
        assert r.status_code == 413, url  # FastAPI's limiter, before any route
        assert r.json()["error"] == "too_large" and r.json()["request_id"], (url, r.text)

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        yield (b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n'
               b"Content-Type: application/pdf\r\n\r\n%PDF-1.4\n")
        for _ in range(64):
            yield b"0" * 8192
        yield b"\r\n--xyz--\r\n"

    r = await call.applicant.post(f"/api/calls/{call.work_order}/files", content=chunks(),
                                  headers={"Content-Type": "multipart/form-data; boundary=xyz"})
    assert r.status_code == 413 and r.json()["error"] == "too_large"
    assert stored_files(settings.upload_dir) == []
    # Just under the limit the route's own check still counts the file itself.
    r = await call.applicant.post(f"/api/calls/{call.work_order}/files",
                                  files={"file": ("a.pdf", b"%PDF-1.4\n" + b"0" * LIMIT, "application/pdf")})
    assert (r.status_code, r.json()["error"]) == (413, "too_large")


async def test_text_files_download_as_attachments_never_as_pages(call: Call) -> None:
    """HTML inside a .txt passes as text/plain; it comes back as an attachment, nosniff, sandboxed."""
    text = HTML + "材料清单".encode() * 3000  # > 8 KiB: the sniffed head ends inside a character
    r = await call.applicant.post(f"/api/calls/{call.work_order}/files",
                                  files={"file": ("清单.txt", text, "text/html")})
    assert r.status_code == 200, r.text
    assert r.json()["content_type"] == "text/plain"
    got = await call.agent.get(r.json()["url"])
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/plain")
    assert got.headers["content-disposition"].startswith("attachment")
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["content-security-policy"] == "default-src 'none'; sandbox"

    r = await call.supervisor.post(f"/api/kb/articles/{call.article}/attachments",
                                   files={"file": ("清单.txt", HTML, "text/plain")})
    assert r.status_code == 201, r.text
    got = await call.supervisor.get(f"/api/kb/attachments/{r.json()['id']}?inline=true")
    assert got.headers["content-disposition"].startswith("attachment")
    assert got.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in got.headers["content-security-policy"]


async def test_images_show_inline_but_sandboxed(call: Call) -> None:
    r = await call.applicant.post(f"/api/calls/{call.work_order}/files",
                                  files={"file": ("执照.png", PNG, "image/png")})
    got = await call.agent.get(r.json()["url"])
    assert got.headers["content-type"] == "image/png"
    assert got.headers["content-disposition"].startswith("inline")
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["content-security-policy"] == "default-src 'none'; sandbox"


SCRIPT = b"<html><body><script>alert(document.cookie)</script></body></html>"
PDF_HTML = b"%PDF-1.4\n" + SCRIPT + b"\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.mark.parametrize("sent, data, stored_name, ctype", [
    ("evil.html", PDF_HTML, "evil.pdf", "application/pdf"),  # a PDF/HTML polyglot named as a page
    ("run.exe", PDF_HTML, "run.pdf", "application/pdf"),
    ("evil.svg", PNG, "evil.png", "image/png"),
    ("poly.html", picture("JPEG") + SCRIPT, "poly.jpg", "image/jpeg"),  # a JPEG polyglot
    ("photo\u202egnp.exe", PNG, "photognp.png", "image/png"),  # displays as "photoexe.png"
    ("ｐｈｏｔｏ\u200b.ＰＮＧ", PNG, "photo.PNG", "image/png"),  # full-width and zero-width folded
    ("扫描件.jpeg", picture("JPEG"), "扫描件.jpeg", "image/jpeg"),  # a name that fits is kept
], ids=["pdf-html-polyglot", "run.exe", "evil.svg", "jpeg-polyglot", "bidi-override", "full-width", "fits"])
async def test_names_are_fitted_to_the_content(call: Call, sent: str, data: bytes, stored_name: str,
                                               ctype: str) -> None:
    """The extension comes from the sniffed type; a page-like name never reaches the agent's browser."""
    for client, url in upload_routes(call)[:2]:
        r = await client.post(url, files={"file": (sent, data, "text/html")})
        assert r.status_code in (200, 201), (url, r.text)
        body = r.json()
        assert (body.get("name") or body.get("filename"), body["content_type"]) == (stored_name, ctype), url
        file_id = body["id"]
        got = await call.agent.get(f"/api/files/{file_id}")
        assert got.status_code == 200, got.text
        disposition = got.headers["content-disposition"]
        assert f'filename="{stored_name}"' in disposition or f"utf-8''{quote(stored_name)}" in disposition
        assert got.headers["content-type"].startswith(ctype)
        if ctype.startswith("image/"):  # re-encoded: shown inline, nothing but pixels
            assert b"<script" not in got.content and disposition.startswith("inline")
        else:  # a PDF keeps its bytes and downloads under a .pdf name
            assert disposition.startswith("attachment")


async def test_run_exe_itself_is_refused_with_a_clear_message(call: Call) -> None:
    exe = b"MZ\x90\x00" + b"\x00" * 200
    r = await call.applicant.post(f"/api/calls/{call.work_order}/files",
                                  files={"file": ("run.exe", exe, "application/octet-stream")})
    assert (r.status_code, r.json()["error"]) == (415, "unsupported_type")
    assert "not accepted" in r.json()["detail"]


async def test_pictures_lose_their_exif_location_and_hidden_payload(call: Call) -> None:
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (39.0, 54.0, 0.0), 3: "E", 4: (116.0, 23.0, 0.0)}  # GPSInfo: Beijing
    exif[0x010F] = "PhoneMaker"
    sent = picture("JPEG", exif) + SCRIPT
    assert Image.open(io.BytesIO(sent)).getexif().get_ifd(0x8825)
    r = await call.applicant.post(f"/api/calls/{call.work_order}/files",
                                  files={"file": ("现场.jpg", sent, "image/jpeg")})
    assert r.status_code == 200, r.text
    got = await call.agent.get(r.json()["url"])
    assert got.headers["content-disposition"].startswith("inline")
    assert b"<script" not in got.content and b"PhoneMaker" not in got.content
    shown = Image.open(io.BytesIO(got.content))
    assert shown.size == (32, 24) and not shown.getexif().get_ifd(0x8825) and not shown.getexif()
    assert r.json()["sha256"] == hashlib.sha256(got.content).hexdigest()  # the hash is of what is served


async def test_a_picture_that_does_not_decode_is_refused(call: Call) -> None:
    broken = bytes.fromhex("89504e470d0a1a0a0000000d49484452") + b"\x00" * 64
    r = await call.applicant.post(f"/api/calls/{call.work_order}/files", files={"file": ("a.png", broken, "image/png")})
    assert (r.status_code, r.json()["error"]) == (415, "unreadable_image")


# ---- the pages' headers -----------------------------------------------------------------------------
async def page_headers(settings: Settings, clock: FakeClock, path: str) -> httpx.Headers:
    async with api_app(settings, clock) as app, client_for(app) as c:
        r = await c.get(path)
        assert r.status_code == 200, (path, r.status_code)
        return r.headers


@pytest.mark.parametrize("path", ["/help?item=X", "/console/", "/console/supervisor.html"])
async def test_pages_carry_a_policy(settings: Settings, clock: FakeClock, path: str) -> None:
    h = await page_headers(settings, clock, path)
    csp = {d.split(" ", 1)[0]: d for d in (p.strip() for p in h["content-security-policy"].split(";"))}
    assert csp["default-src"] == "default-src 'self'"
    assert csp["script-src"] == "script-src 'self'"  # no inline script, no eval
    assert "mediastream:" in csp["media-src"] and "blob:" in csp["media-src"]
    assert csp["connect-src"] == "connect-src 'self'"  # fetch and the same-origin WebSocket
    assert csp["object-src"] == "object-src 'none'"
    assert csp["frame-ancestors"] == "frame-ancestors 'self'"
    assert h["x-frame-options"] == "SAMEORIGIN"
    assert h["referrer-policy"] == "same-origin"  # the help page's URL may carry a hand-off token
    assert h["x-content-type-options"] == "nosniff"


async def test_frame_ancestors_come_from_the_settings(settings: Settings, clock: FakeClock) -> None:
    webview = settings.model_copy(update={"frame_ancestors": ["'self'", "https://app.example.gov.cn"]})
    h = await page_headers(webview, clock, "/help")
    assert "frame-ancestors 'self' https://app.example.gov.cn" in h["content-security-policy"]
    assert "x-frame-options" not in h  # it cannot name another origin; the CSP decides
    with pytest.raises(ValueError, match="FRAME_ANCESTORS"):
        Settings(frame_ancestors=["https://x.example; script-src *"])


async def test_api_answers_and_docs_get_only_what_fits(settings: Settings, clock: FakeClock) -> None:
    h = await page_headers(settings, clock, "/api/items")
    assert h["x-content-type-options"] == "nosniff" and "content-security-policy" not in h
    h = await page_headers(settings, clock, "/docs")  # Swagger UI comes from a CDN: framing rule only
    assert h["content-security-policy"] == "frame-ancestors 'self'"


async def test_the_help_page_carries_the_token_it_sets(settings: Settings, clock: FakeClock) -> None:
    """A web view that hides cookies from scripts still has the token: it is in the page."""
    async with (api_app(settings, clock) as app,
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c):
        r = await c.get("/help")
        token = c.cookies["hd_csrf"]
        assert f'data-csrf="{token}"' in r.text
        assert (await c.post("/api/help/session", json={})).status_code == 403  # login CSRF closed
        ok = await c.post("/api/help/session", json={}, headers={"X-CSRF-Token": token})
        assert ok.status_code == 200
