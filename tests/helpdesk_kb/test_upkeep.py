"""Upkeep: review-by dates, outdated marks, unanswered searches, drafts from work orders, replies."""

from __future__ import annotations

from typing import Any

import httpx

from helpdesk.clock import FakeClock
from tests.helpdesk_kb.conftest import World


def who(username: str) -> dict[str, str]:
    return {"X-Staff": username}


async def upkeep(api: httpx.AsyncClient, user: str = "super") -> dict[str, Any]:
    r = await api.get("/api/kb/upkeep", headers=who(user))
    assert r.status_code == 200, r.text
    return dict(r.json())


async def test_articles_past_review_date_show_up(
    api: httpx.AsyncClient, world: World, add_article: Any, clock: FakeClock
) -> None:
    article_id = await add_article("个体工商户登记指南", "经营者身份证明。", item_ids=[world.change_item.id])
    assert (await upkeep(api))["articles"] == []
    clock.advance(181 * 86400)  # the default review-by is 180 days after publishing
    rows = (await upkeep(api))["articles"]
    assert [(r["id"], r["reasons"]) for r in rows] == [(article_id, ["past_review"])]
    # The editor of that department sees it; the other department's editor does not.
    assert [r["id"] for r in (await upkeep(api, "ed_scjg"))["articles"]] == [article_id]
    assert (await upkeep(api, "ed_wsjk"))["articles"] == []


async def test_outdated_marks_are_listed_until_a_new_version_is_published(
    api: httpx.AsyncClient, world: World, add_article: Any
) -> None:
    article_id = await add_article("食品经营许可收费标准", "不收费。", item_ids=[world.food_item.id])
    for user in ("agent", "agent", "super"):
        r = await api.post(
            f"/api/kb/articles/{article_id}/feedback",
            json={"kind": "outdated", "comment": "已改"},
            headers=who(user),
        )
        assert r.status_code == 200
    r = await api.post(f"/api/kb/articles/{article_id}/feedback", json={"kind": "helpful"}, headers=who("agent"))
    assert r.json() == {"helpful": 1, "outdated": 2}  # one open mark per agent
    rows = (await upkeep(api))["articles"]
    assert rows[0]["id"] == article_id and rows[0]["outdated"] == 2 and rows[0]["reasons"] == ["outdated"]
    await api.put(
        f"/api/kb/articles/{article_id}",
        headers=who("ed_scjg"),
        json={
            "title": "食品经营许可收费标准",
            "body": "不收费（2027年确认）。",
            "item_ids": [world.food_item.id],
        },
    )
    await api.post(f"/api/kb/articles/{article_id}/publish", headers=who("ed_scjg"))
    assert (await upkeep(api))["articles"] == []


async def test_zero_result_and_unclicked_queries_are_counted(api: httpx.AsyncClient, add_article: Any) -> None:
    article_id = await add_article("企业注销登记", "简易注销公告期20日。")
    for _ in range(3):
        r = await api.get("/api/kb/search", params={"q": "无人机飞行审批"}, headers=who("agent"))
        assert r.json()["total"] == 0 and r.json()["search_id"]
    await api.get("/api/kb/search", params={"q": "简易注销"}, headers=who("agent"))
    clicked = (await api.get("/api/kb/search", params={"q": "注销登记"}, headers=who("agent"))).json()
    r = await api.post(
        f"/api/kb/search/{clicked['search_id']}/click", json={"article_id": article_id}, headers=who("agent")
    )
    assert r.status_code == 204
    queries = {q["query"]: q for q in (await upkeep(api))["queries"]}
    assert queries["无人机飞行审批"]["searches"] == 3 and queries["无人机飞行审批"]["zero_results"] == 3
    assert queries["简易注销"]["no_click"] == 1
    assert "注销登记" not in queries  # somebody found what they needed


async def test_draft_from_a_resolved_work_orders_notes(api: httpx.AsyncClient, world: World) -> None:
    r = await api.post(
        "/api/kb/drafts/from-work-order",
        headers=who("agent"),
        json={"notes": "申请人名称重复被驳回，指导其更换字号后重新申报。", "item_id": world.change_item.id},
    )
    assert r.status_code == 201, r.text
    draft = r.json()
    assert draft["status"] == "draft" and draft["item_ids"] == [world.change_item.id]
    assert "更换字号" in draft["body"] and draft["title"].startswith("企业变更登记")
    assert draft["author_id"] == world.agent.id


async def test_canned_replies_per_unit(api: httpx.AsyncClient, world: World) -> None:
    r = await api.post(
        "/api/kb/replies", json={"title": "问候", "text": "您好，竞秀区视频帮办。"}, headers=who("super")
    )
    assert r.status_code == 201 and r.json()["unit_id"] == world.county.id
    assert (
        await api.post("/api/kb/replies", json={"title": "x", "text": "y"}, headers=who("agent"))
    ).status_code == 403
    mine = (await api.get("/api/kb/replies", headers=who("agent"))).json()
    assert [x["text"] for x in mine] == ["您好，竞秀区视频帮办。"]
    # Staff of the city (above the county) do not see the county's replies.
    assert (await api.get("/api/kb/replies", headers=who("ed_scjg"))).json() == []


async def test_preview_renders_safely(api: httpx.AsyncClient) -> None:
    r = await api.post("/api/kb/preview", json={"body": "**材料**<script>alert(1)</script>"}, headers=who("agent"))
    assert "<strong>材料</strong>" in r.json()["html"] and "<script>" not in r.json()["html"]


async def test_suggestions_for_a_call_put_the_items_guide_first(
    api: httpx.AsyncClient, world: World, add_article: Any
) -> None:
    guide = await add_article("企业变更登记办事指南", "变更登记材料。", item_ids=[world.change_item.id], is_guide=True)
    rejected = await add_article(
        "名称近似被驳回怎么办", "名称与已登记名称近似时更换字号。", item_ids=[world.change_item.id]
    )
    await add_article("名称近似的判断标准", "名称近似的判断。")  # no item: found by the context only
    await add_article("食品经营许可指南", "小餐饮。", item_ids=[world.food_item.id], is_guide=True)
    r = await api.post(
        "/api/kb/suggest",
        headers=who("agent"),
        json={"item_id": world.change_item.id, "context": "智能审批驳回：名称近似", "limit": 5},
    )
    ids = [h["id"] for h in r.json()]
    assert ids[:2] == [guide, rejected]  # the item's articles first, its guide on top
    assert len(ids) == 3  # the food guide is not suggested for this call
