"""Chinese search: the way people type, filters, highlighting, paging, "did you mean"."""

from __future__ import annotations

from typing import Any

import pytest
from helpdesk_kb.component import Kb

from tests.helpdesk_kb.conftest import World

CORPUS: list[tuple[str, str, list[str], str]] = [
    (
        "企业变更登记（营业执照变更）",
        "企业名称、住所、经营范围、法定代表人等登记事项发生变化的，应当自变更决议作出之日起30日内申请变更登记，"
        "换发营业执照。所需材料：变更登记申请书、股东会决议、章程修正案。",
        ["变更登记", "换照"],
        "change",
    ),
    (
        "企业设立登记",
        "设立有限责任公司，应当提交设立登记申请书、公司章程、股东主体资格证明、住所使用证明，领取营业执照。",
        ["设立", "开办企业"],
        "change",
    ),
    (
        "食品经营许可（小餐饮）",
        "小餐饮经营者应当取得食品经营许可。经营场所面积、加工操作间、防蝇防鼠设施应当符合要求，可预约远程勘验。",
        ["食品", "餐饮"],
        "food",
    ),
    (
        "公共场所卫生许可",
        "宾馆、美容美发、沐浴等公共场所开业前应当取得卫生许可，提交卫生检测报告和从业人员健康合格证明。",
        ["卫生", "公共场所"],
        "hygiene",
    ),
    (
        "名称自主申报常见问题",
        "企业名称与已登记名称重复、近似或含有禁用字词时，系统会驳回申报，请更换字号后重新申报。",
        ["名称", "驳回"],
        "change",
    ),
]


@pytest.fixture
async def corpus(world: World, add_article: Any) -> dict[str, str]:
    items = {"change": world.change_item.id, "food": world.food_item.id, "hygiene": world.hygiene_item.id}
    ids = {}
    for title, body, tags, item in CORPUS:
        ids[title] = await add_article(title, body, tags=tags, item_ids=[items[item]])
    return ids


async def top_title(kb: Kb, query: str, **kw: Any) -> str:
    page = await kb.search(query, **kw)
    assert page.hits, f"no hit for {query!r}"
    stored = kb.index.stored(page.hits[0].id)
    assert stored is not None
    return str(stored["title"])


@pytest.mark.parametrize("query", ["营业执照变更", "营业执照怎么变更", "换营业执照", "公司法人变更怎么办"])
async def test_typed_queries_find_the_change_article(kb: Kb, corpus: dict[str, str], query: str) -> None:
    assert await top_title(kb, query) == "企业变更登记（营业执照变更）"


async def test_licence_word_finds_permit_articles(kb: Kb, corpus: dict[str, str]) -> None:
    """Documents say 许可, people type 许可证: matched through the sub-word, and answered."""
    page = await kb.search("食品经营许可证")
    assert page.answer == "found"
    assert kb.index.stored(page.hits[0].id)["title"] == "食品经营许可（小餐饮）"  # type: ignore[index]
    assert await top_title(kb, "卫生许可证怎么办") == "公共场所卫生许可"


async def test_a_word_no_article_has_does_not_empty_the_list(kb: Kb, corpus: dict[str, str]) -> None:
    """小吃店 is in no article (the vocabulary reads it as 小餐饮): the right article still comes first."""
    page = await kb.search("小吃店 食品经营许可")
    assert page.answer == "found"
    assert kb.index.stored(page.hits[0].id)["title"] == "食品经营许可（小餐饮）"  # type: ignore[index]


async def test_title_ranks_above_body(kb: Kb, corpus: dict[str, str]) -> None:
    # 营业执照 is in the title of one and the body of two others.
    assert await top_title(kb, "营业执照") == "企业变更登记（营业执照变更）"


async def test_filters_by_item_department_and_status(
    kb: Kb, world: World, corpus: dict[str, str], add_article: Any
) -> None:
    page = await kb.search("许可", items=[world.hygiene_item.id])
    assert [kb.index.stored(h.id)["title"] for h in page.hits] == ["公共场所卫生许可"]  # type: ignore[index]
    page = await kb.search("许可", departments=[world.scjg.id])
    assert {kb.index.stored(h.id)["title"] for h in page.hits} == {"食品经营许可（小餐饮）"}  # type: ignore[index]
    draft_id = await add_article(
        "公共场所卫生许可延续",
        "许可证有效期届满前30日申请延续。",
        publish=False,
        item_ids=[world.hygiene_item.id],
    )
    assert draft_id not in [h.id for h in (await kb.search("许可延续")).hits]
    assert [h.id for h in (await kb.search("许可延续", statuses=["draft"])).hits] == [draft_id]


async def test_org_scope_filter(kb: Kb, world: World, add_article: Any) -> None:
    county_only = await add_article("竞秀区大厅停车指引", "竞秀区政务服务中心地下停车场入口。", unit_id=world.county.id)
    assert [h.id for h in (await kb.search("停车", scopes=[world.city.id, world.county.id])).hits] == [county_only]
    assert (await kb.search("停车", scopes=[world.city.id])).hits == []


async def test_snippets_highlight_and_escape(kb: Kb, add_article: Any) -> None:
    await add_article("变更登记须知", "办理变更时请注意：<script>alert('x')</script> 股东会决议需全体股东签字。")
    hit = (await kb.search("变更 股东会决议")).hits[0]
    assert "<mark" in hit.snippet_html and "股东会决议" in hit.snippet_html
    assert "<script>" not in hit.snippet_html
    assert "<mark" in hit.title_html


async def test_paging(kb: Kb, add_article: Any) -> None:
    for n in range(12):
        await add_article(f"税务登记问答第{n}号", f"税务登记问答正文{n}，关于发票申领。")
    first = await kb.search("发票申领", per_page=5, page=1)
    third = await kb.search("发票申领", per_page=5, page=3)
    assert len(first.hits) == 5 and first.total >= 12  # an upper-bound estimate while pages remain
    assert third.total == 12 and third.total_exact and len(third.hits) == 2  # exact on the last page
    assert not {h.id for h in first.hits} & {h.id for h in third.hits}


async def test_did_you_mean(kb: Kb, corpus: dict[str, str]) -> None:
    typo = await kb.search("营业执招")
    assert typo.did_you_mean == "营业执照"
    nothing = await kb.search("食品经营许可小餐厅啊啊")
    assert nothing.hits  # OR still finds it
    none = await kb.search("火箭发射")
    assert none.total == 0 and none.mode == "none"
