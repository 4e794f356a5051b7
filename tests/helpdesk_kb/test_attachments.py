"""Attachments: checked on upload, served as downloads, sent into a call through the app's hook."""

from __future__ import annotations

from typing import Any

import httpx
from helpdesk_kb.models import KbSend
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk.config import Settings
from helpdesk.workorders.models import WorkOrder
from tests.helpdesk_kb.conftest import World

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def who(username: str) -> dict[str, str]:
    return {"X-Staff": username}


async def upload(
    api: httpx.AsyncClient,
    article_id: str,
    name: str,
    data: bytes,
    ctype: str,
    user: str = "ed_scjg",
    kind: str = "blank_form",
) -> httpx.Response:
    return await api.post(
        f"/api/kb/articles/{article_id}/attachments",
        headers=who(user),
        files={"file": (name, data, ctype)},
        data={"kind": kind, "title": "名称使用承诺书"},
    )


async def test_upload_checks_size_type_and_content(
    api: httpx.AsyncClient, world: World, add_article: Any, settings: Settings
) -> None:
    article_id = await add_article("名称自主申报", "承诺书见附件。", item_ids=[world.change_item.id])
    r = await upload(api, article_id, "名称使用承诺书.pdf", PDF, "application/pdf")
    assert r.status_code == 201, r.text
    stored = list((settings.upload_dir / "kb" / article_id).iterdir())
    assert len(stored) == 1 and stored[0].name == r.json()["id"]  # never the user's file name on disk
    bad = await upload(api, article_id, "x.html", b"<script>alert(1)</script>", "text/html")
    assert bad.status_code == 415
    fake_png = await upload(api, article_id, "x.png", b"<html><script>alert(1)</script>", "image/png")
    assert fake_png.status_code == 415 and fake_png.json()["error"] == "unsupported_type"
    big = await upload(api, article_id, "big.pdf", PDF + b"0" * settings.upload_max_bytes, "application/pdf")
    assert big.status_code == 413
    assert (await upload(api, article_id, "a.pdf", PDF, "application/pdf", user="ed_wsjk")).status_code == 403


async def test_download_is_an_attachment_with_nosniff(api: httpx.AsyncClient, world: World, add_article: Any) -> None:
    article_id = await add_article("名称自主申报", "承诺书见附件。", item_ids=[world.change_item.id])
    att = (await upload(api, article_id, "名称使用承诺书.pdf", PDF, "application/pdf")).json()
    r = await api.get(att["url"], headers=who("agent"))
    assert r.status_code == 200 and r.content == PDF
    assert r.headers["content-disposition"].startswith("attachment;")
    assert "filename*=UTF-8''%E5%90%8D" in r.headers["content-disposition"]
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in r.headers["content-security-policy"]
    public = await api.get(f"/api/kb/public/attachments/{att['id']}")
    assert public.status_code == 200


async def test_sending_an_attachment_into_a_call_invokes_the_hook(
    api: httpx.AsyncClient,
    world: World,
    add_article: Any,
    work_order: WorkOrder,
    sent: list[tuple[str, Any, dict[str, Any]]],
    session: AsyncSession,
) -> None:
    article_id = await add_article("名称自主申报", "承诺书见附件。", item_ids=[world.change_item.id])
    att = (await upload(api, article_id, "名称使用承诺书（样例）.pdf", PDF, "application/pdf", kind="sample")).json()
    r = await api.post(f"/api/kb/calls/{work_order.id}/send", json={"attachment_id": att["id"]}, headers=who("agent"))
    assert r.status_code == 200, r.text
    assert r.json()["result"] == {"message_id": 1}
    assert "path" not in r.json()["sent"]["attachment"]  # the server path stays server-side
    wo_id, staff, payload = sent[0]
    assert wo_id == work_order.id and staff.username == "agent"
    assert payload["kind"] == "attachment"
    assert payload["article"] == {
        "id": article_id,
        "title": "名称自主申报",
        "url": f"/api/kb/public/articles/{article_id}",
    }
    a = payload["attachment"]
    assert (a["id"], a["name"], a["kind"], a["content_type"], a["size"]) == (
        att["id"],
        "名称使用承诺书（样例）.pdf",
        "sample",
        "application/pdf",
        len(PDF),
    )
    with open(a["path"], "rb") as fh:  # the hook can copy the file onto the work order
        assert fh.read() == PDF
    r = await api.post(f"/api/kb/calls/{work_order.id}/send", json={"article_id": article_id}, headers=who("agent"))
    assert sent[1][2]["kind"] == "article" and "attachment" not in sent[1][2]
    rows = (await session.scalars(select(KbSend).where(KbSend.work_order_id == work_order.id))).all()
    assert sorted((r.attachment_id or "") for r in rows) == sorted(["", att["id"]])


async def test_drafts_cannot_be_sent(
    api: httpx.AsyncClient, world: World, add_article: Any, work_order: WorkOrder, sent: list[Any]
) -> None:
    draft_id = await add_article("未审核的说明", "草稿", publish=False)
    r = await api.post(f"/api/kb/calls/{work_order.id}/send", json={"article_id": draft_id}, headers=who("agent"))
    assert r.status_code == 409 and sent == []
    r = await api.post(f"/api/kb/calls/{work_order.id}/send", json={}, headers=who("agent"))
    assert r.status_code == 409
