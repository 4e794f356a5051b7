"""Search quality: the vocabulary, stop words, "no answer", page-size independence, all-words vs
some-words ordering. Each of these failed on the search before issue 16."""

from __future__ import annotations

from typing import Any

import pytest
from helpdesk_kb.component import Kb

GUIDES: list[tuple[str, str]] = [
    (
        "居民身份证挂失补领办事指南",
        "居民身份证遗失或被盗的，应当及时申报挂失并申请补领。收费标准：工本费20元。办理时限：15个工作日。",
    ),
    ("基本养老金领取办事指南", "参加企业职工基本养老保险的人员，达到规定年龄且缴费满15年的，按月领取基本养老金。"),
    ("失业保险金申领办事指南", "非因本人意愿中断就业的参保人员，办理失业登记后可以申领失业保险金。"),
    ("统一社会信用代码查询办事指南", "多证合一后，营业执照载有统一社会信用代码，不再单独发放其他代码证书。"),
    ("医疗机构执业登记办事指南", "医疗机构执业，必须进行登记，领取医疗机构执业许可证。"),
    ("社会组织成立登记办事指南", "成立社会组织，应当经业务主管单位审查同意后申请成立登记。"),
    (
        "个体工商户设立登记办事指南",
        "有经营能力的公民从事工商业经营，申请个体工商户登记并领取营业执照。收费标准：不收费。",
    ),
    ("食品经营许可（小餐饮）办事指南", "小餐饮经营者应当取得食品经营许可。收费标准：不收费。办理时限：10个工作日。"),
    ("校外托管服务机构备案指南", "为中小学生提供午餐、午休和课后看护的校外托管服务机构，向所在地备案。"),
    ("企业年度报告公示指南", "企业应当于每年1月1日至6月30日报送上一年度年度报告并向社会公示。"),
]


@pytest.fixture
async def guides(add_article: Any) -> dict[str, str]:
    return {title: await add_article(title, body) for title, body in GUIDES}


async def titles(kb: Kb, query: str, **kw: Any) -> list[str]:
    page = await kb.search(query, **kw)
    return [str(kb.index.stored(h.id)["title"]) for h in page.hits]  # type: ignore[index]


@pytest.mark.parametrize(
    ("query", "want"),
    [
        ("退休金怎么领", "基本养老金领取办事指南"),  # synonym
        ("组织机构代码证怎么办", "统一社会信用代码查询办事指南"),  # old name
        ("年报怎么报", "企业年度报告公示指南"),  # abbreviation
        ("身份证丢了怎么办", "居民身份证挂失补领办事指南"),  # colloquial
    ],
)
async def test_the_vocabulary_reads_applicants_words(kb: Kb, guides: dict[str, str], query: str, want: str) -> None:
    page = await kb.search(query)
    assert page.answer == "found"
    assert (await titles(kb, query))[0] == want


async def test_editors_extend_the_vocabulary_with_who_and_when(api: Any, kb: Kb, guides: dict[str, str]) -> None:
    assert (await kb.search("小饭桌")).answer == "none"
    denied = await api.post("/api/kb/vocabulary", json={"term": "小饭桌", "expansions": ["校外托管"]})
    assert denied.status_code == 403  # a plain agent
    made = await api.post(
        "/api/kb/vocabulary",
        json={"term": "小饭桌", "expansions": ["校外托管"], "kind": "colloquial"},
        headers={"X-Staff": "ed_scjg"},
    )
    assert made.status_code == 201, made.text
    entry = made.json()
    assert entry["source"] == "edited" and entry["updated_by_name"] == "ed_scjg" and entry["updated_at"]
    assert (await titles(kb, "小饭桌"))[0] == "校外托管服务机构备案指南"
    # Switching a shipped entry off: 退休金 no longer reads as 基本养老金.
    off = await api.post(
        "/api/kb/vocabulary",
        json={"term": "退休金", "expansions": [], "enabled": False},
        headers={"X-Staff": "super"},
    )
    assert off.status_code == 201
    assert (await kb.search("退休金怎么领")).answer == "none"
    assert (await api.delete(f"/api/kb/vocabulary/{off.json()['id']}", headers={"X-Staff": "super"})).status_code == 204
    assert (await kb.search("退休金怎么领")).answer == "found"
    listed = (await api.get("/api/kb/vocabulary", params={"q": "小饭桌"})).json()
    assert [v["term"] for v in listed] == ["小饭桌"]
    again = await api.post("/api/kb/vocabulary", json={"term": "小饭桌"}, headers={"X-Staff": "super"})
    assert again.status_code == 409
    too_long = {"term": "x", "expansions": ["长" * 51]}
    bad = await api.post("/api/kb/vocabulary", json=too_long, headers={"X-Staff": "super"})
    assert bad.status_code == 422


async def test_one_character_and_filler_words_do_not_outweigh_the_topic(kb: Kb, add_article: Any) -> None:
    """上 and 个 hit the first title by chance; the topic (个体户) must win."""
    await add_article("车辆上牌登记须知", "上牌。")
    await add_article("一次告知：下个月起上门服务", "上门服务。")
    await add_article("个体工商户设立登记", "个体工商户登记后领取营业执照。")
    for query in ["个体户上哪办", "我想开个个体户上哪办下来"]:
        assert (await titles(kb, query))[0] == "个体工商户设立登记", query


async def test_no_answer_when_nothing_in_the_kb_is_about_it(api: Any, kb: Kb, guides: dict[str, str]) -> None:
    for query in ["护照怎么办理", "银行卡丢了怎么办", "商标注册要多少钱", "驾驶证到期了怎么换"]:
        page = await kb.search(query)
        assert page.answer == "none", (query, page.coverage, await titles(kb, query))
        assert page.total == 0 and len(page.hits) <= 3 and all(h.maybe_related for h in page.hits)
    for query in ["身份证补办要多少钱", "小餐饮许可证收不收费", "失业金申请条件"]:
        assert (await kb.search(query)).answer == "found", query
    # Through the API: "none", logged as a zero-result query, filed for upkeep by the agent.
    res = (await api.get("/api/kb/search", params={"q": "护照怎么办理"})).json()
    assert res["answer"] == "none" and res["total"] == 0
    assert (await api.post(f"/api/kb/search/{res['search_id']}/report")).status_code == 204
    assert (
        await api.post(f"/api/kb/search/{res['search_id']}/report", headers={"X-Staff": "super"})
    ).status_code == 404
    upkeep = (await api.get("/api/kb/upkeep", headers={"X-Staff": "super"})).json()
    row = next(q for q in upkeep["queries"] if q["query"] == "护照怎么办理")
    assert row["zero_results"] == 1 and row["reported"] == 1
    assert upkeep["queries"][0]["query"] == "护照怎么办理"  # filed ones first


async def test_ranking_does_not_depend_on_the_page_size(kb: Kb, add_article: Any) -> None:
    words = ["营业执照", "变更", "法定代表人", "住所", "股东会决议"]
    for n in range(40):
        chosen = [w for i, w in enumerate(words) if (n >> i) & 1] or ["须知"]
        title = f"{chosen[0]}问答第{n}号"
        body = "，".join(chosen * (1 + n % 3)) + "。" + "申请人应当对材料的真实性负责。" * (n % 4)
        await add_article(title, body)
    for query in ["营业执照变更", "法定代表人变更住所", "股东会决议 营业执照 住所", "变更住所"]:
        small = [h.id for p in (1, 2, 3) for h in (await kb.search(query, per_page=8, page=p)).hits]
        large = [h.id for h in (await kb.search(query, per_page=50)).hits]
        assert small == large[: len(small)], query


async def test_a_strong_some_words_match_ranks_above_a_weak_all_words_match(kb: Kb, add_article: Any) -> None:
    filler = "申请人应当对所提交材料的真实性负责，材料齐全的当场受理。" * 12
    weak = await add_article("办事大厅综合须知", filler + "营业执照、补领、声明等事项也可咨询。" + filler)
    strong = await add_article("营业执照补领办事指南", "营业执照遗失的，申请补领营业执照。")
    ids = [h.id for h in (await kb.search("营业执照 补领 声明")).hits]
    assert ids.index(strong) < ids.index(weak)
