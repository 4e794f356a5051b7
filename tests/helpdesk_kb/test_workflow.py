"""Versions, the review workflow and its permissions, through the HTTP API."""

from __future__ import annotations

from typing import Any

import httpx
from helpdesk_kb.component import Kb

from helpdesk.clock import FakeClock
from tests.helpdesk_kb.conftest import World


def who(username: str) -> dict[str, str]:
    return {"X-Staff": username}


async def new_article(api: httpx.AsyncClient, user: str, **body: Any) -> dict[str, Any]:
    r = await api.post("/api/kb/articles", json=body, headers=who(user))
    assert r.status_code == 201, r.text
    return dict(r.json())


async def test_versions_keep_every_edit_and_the_live_one(
    api: httpx.AsyncClient, world: World, kb: Kb, clock: FakeClock
) -> None:
    a = await new_article(
        api,
        "ed_scjg",
        title="企业变更登记材料清单",
        body="需要**变更登记申请书**。",
        item_ids=[world.change_item.id],
    )
    assert a["department_ids"] == [world.scjg.id]  # from the item's department
    assert (await api.post(f"/api/kb/articles/{a['id']}/submit", headers=who("ed_scjg"))).status_code == 200
    r = await api.post(f"/api/kb/articles/{a['id']}/publish", json={"comment": "ok"}, headers=who("ed_scjg"))
    assert r.status_code == 200 and r.json()["published_version"] == 1
    clock.advance(3600)
    r = await api.put(
        f"/api/kb/articles/{a['id']}",
        headers=who("ed_scjg"),
        json={
            "title": "企业变更登记材料清单（2027版）",
            "body": "另需章程修正案。",
            "item_ids": [world.change_item.id],
            "note": "新增章程修正案",
        },
    )
    assert r.json()["status"] == "draft" and r.json()["version"] == 2
    # Agents and search still see version 1 until version 2 is published.
    agent_view = (await api.get(f"/api/kb/articles/{a['id']}", headers=who("agent"))).json()
    assert agent_view["title"] == "企业变更登记材料清单" and agent_view["version"] == 1
    assert (await kb.search("章程修正案")).total == 0
    versions = (await api.get(f"/api/kb/articles/{a['id']}/versions", headers=who("ed_scjg"))).json()
    assert [v["version"] for v in versions] == [2, 1]
    assert versions[0]["note"] == "新增章程修正案" and versions[0]["author_id"] == world.editor_scjg.id
    v1 = (await api.get(f"/api/kb/articles/{a['id']}/versions/1", headers=who("ed_scjg"))).json()
    assert v1["body"] == "需要**变更登记申请书**。"
    assert (await api.get(f"/api/kb/articles/{a['id']}/versions", headers=who("agent"))).status_code == 403
    await api.post(f"/api/kb/articles/{a['id']}/publish", headers=who("super"))
    assert (await kb.search("章程修正案")).total == 1


async def test_an_editor_cannot_publish_another_departments_article(api: httpx.AsyncClient, world: World) -> None:
    a = await new_article(
        api,
        "ed_wsjk",
        title="公共场所卫生许可办理指南",
        body="提交卫生检测报告。",
        item_ids=[world.hygiene_item.id],
    )
    await api.post(f"/api/kb/articles/{a['id']}/submit", headers=who("ed_wsjk"))
    for user in ("ed_scjg", "agent"):
        r = await api.post(f"/api/kb/articles/{a['id']}/publish", headers=who(user))
        assert r.status_code == 403, user
        assert r.json()["error"] == "forbidden"
        assert (
            await api.put(
                f"/api/kb/articles/{a['id']}",
                headers=who(user),
                json={"title": "改", "item_ids": [world.hygiene_item.id]},
            )
        ).status_code == 403
    r = await api.post(f"/api/kb/articles/{a['id']}/publish", headers=who("ed_wsjk"))
    assert r.status_code == 200 and r.json()["status"] == "published"


async def test_supervisor_reviews_any_department_and_reject_returns_a_draft(
    api: httpx.AsyncClient, world: World
) -> None:
    a = await new_article(
        api, "agent", title="食品经营许可现场勘验要点", body="操作间面积。", item_ids=[world.food_item.id]
    )
    assert (await api.post(f"/api/kb/articles/{a['id']}/submit", headers=who("agent"))).status_code == 200
    r = await api.post(f"/api/kb/articles/{a['id']}/reject", json={"comment": "请补充防鼠设施"}, headers=who("super"))
    assert r.json()["status"] == "draft" and r.json()["review_comment"] == "请补充防鼠设施"
    # The author may edit their own draft; then the supervisor publishes it.
    r = await api.put(
        f"/api/kb/articles/{a['id']}",
        headers=who("agent"),
        json={"title": a["title"], "body": "操作间面积；防鼠设施。", "item_ids": [world.food_item.id]},
    )
    assert r.status_code == 200
    assert (await api.post(f"/api/kb/articles/{a['id']}/publish", headers=who("super"))).status_code == 200
    # Publishing twice is a conflict, not a crash.
    assert (await api.post(f"/api/kb/articles/{a['id']}/publish", headers=who("super"))).status_code == 409
    r = await api.post(f"/api/kb/articles/{a['id']}/archive", headers=who("super"))
    assert r.json()["status"] == "archived"
    assert (await api.get(f"/api/kb/articles/{a['id']}", headers=who("ed_wsjk"))).status_code == 404


async def test_search_endpoint_hides_drafts_from_agents(api: httpx.AsyncClient, world: World) -> None:
    await new_article(api, "ed_scjg", title="名称自主申报草稿", body="草稿正文", item_ids=[world.change_item.id])
    r = await api.get("/api/kb/search", params={"q": "名称自主申报", "status": "draft"}, headers=who("agent"))
    assert r.status_code == 403
    r = await api.get("/api/kb/search", params={"q": "名称自主申报", "status": "draft"}, headers=who("ed_scjg"))
    assert r.json()["total"] == 1


async def test_article_list_shows_agents_only_what_is_published(api: httpx.AsyncClient, world: World) -> None:
    live = await new_article(api, "ed_scjg", title="企业设立登记指南", body="v1", item_ids=[world.change_item.id])
    await api.post(f"/api/kb/articles/{live['id']}/publish", headers=who("ed_scjg"))
    await api.put(
        f"/api/kb/articles/{live['id']}",
        headers=who("ed_scjg"),
        json={"title": "企业设立登记指南（修订中）", "body": "v2", "item_ids": [world.change_item.id]},
    )
    await new_article(api, "ed_wsjk", title="卫生许可草稿", body="x", item_ids=[world.hygiene_item.id])
    rows = (await api.get("/api/kb/articles", headers=who("agent"))).json()
    assert [(r["title"], r["body"]) for r in rows] == [("企业设立登记指南", "v1")]
    titles = {r["title"] for r in (await api.get("/api/kb/articles", headers=who("ed_wsjk"))).json()}
    assert titles == {"企业设立登记指南", "卫生许可草稿"}
    assert len((await api.get("/api/kb/articles", headers=who("super"))).json()) == 2


async def test_editors_search_only_their_own_departments_drafts(api: httpx.AsyncClient, world: World) -> None:
    await new_article(api, "ed_wsjk", title="卫生许可延续草稿", body="草稿", item_ids=[world.hygiene_item.id])
    r = await api.get("/api/kb/search", params={"q": "延续", "status": "draft"}, headers=who("ed_scjg"))
    assert r.status_code == 200 and r.json()["total"] == 0
    r = await api.get("/api/kb/search", params={"q": "延续", "status": "draft"}, headers=who("super"))
    assert r.json()["total"] == 1
