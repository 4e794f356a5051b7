"""Import/export of the folder format, the demo guides, and the applicant's guide for an item."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from helpdesk_kb.component import Kb
from helpdesk_kb.demo import DEMO_DIR, load_demo
from helpdesk_kb.guide import guide_for_item
from helpdesk_kb.models import KbArticle, KbArticleVersion, KbAttachment, KbCannedReply
from helpdesk_kb.porting import FormatError, article_files, export_folder, parse_file
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from helpdesk.clock import FakeClock
from helpdesk.config import Settings
from helpdesk.org.models import ServiceItem
from tests.helpdesk_kb.conftest import World


def demo_item_names() -> set[str]:
    names: set[str] = set()
    for path in article_files(DEMO_DIR):
        names.update(parse_file(path).meta.get("items", []))
    return names


@pytest.fixture
async def all_items(session: AsyncSession, world: World) -> dict[str, int]:
    """The demo's service items by name (the world already has three of them)."""
    existing = {i.name: i.id for i in await session.scalars(select(ServiceItem))}
    for n, name in enumerate(sorted(demo_item_names() - set(existing))):
        session.add(ServiceItem(code=f"DEMO-{n}", name=name, department_id=world.scjg.id))
    await session.commit()
    return {i.name: i.id for i in await session.scalars(select(ServiceItem))}


def test_demo_covers_at_least_ten_items_with_complete_guides() -> None:
    guides = [parse_file(p) for p in article_files(DEMO_DIR)]
    guide_items = {name for g in guides if g.meta.get("guide") for name in g.meta["items"]}
    assert len(guide_items) >= 10
    for g in guides:
        if g.meta.get("guide"):
            for heading in ("申请条件", "申请材料", "办理流程", "办理时限", "收费标准", "常见问题"):
                assert f"## {heading}" in g.body or heading == "申请条件", (g.slug, heading)


async def test_demo_import_is_idempotent_and_searchable(
    db_sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    all_items: dict[str, int],
    kb: Kb,
    session: AsyncSession,
    clock: FakeClock,
) -> None:
    first = await load_demo(db_sessions, settings, now=clock.now())
    assert len(first.created) == len(article_files(DEMO_DIR)) and first.warnings == []
    page = await kb.search("营业执照怎么变更")  # this process's handle sees the loader's commit
    assert kb.index.stored(page.hits[0].id)["title"] == "企业变更登记（营业执照变更）办事指南"  # type: ignore[index]
    titles = [kb.index.stored(h.id)["title"] for h in (await kb.search("卫生许可证")).hits]  # type: ignore[index]
    assert titles[0] == "公共场所卫生许可办事指南"
    assert (await kb.search("名称重复被驳回")).hits
    second = await load_demo(db_sessions, settings, now=clock.now())
    assert second.created == [] and second.updated == [] and len(second.unchanged) == len(first.created)
    assert await session.scalar(select(func.count()).select_from(KbArticleVersion)) == len(first.created)
    assert await session.scalar(select(func.count()).select_from(KbAttachment)) == 3
    assert await session.scalar(select(func.count()).select_from(KbCannedReply)) >= 5


async def test_guide_for_item_shows_the_published_guide(
    db_sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    all_items: dict[str, int],
    session: AsyncSession,
    clock: FakeClock,
) -> None:
    await load_demo(db_sessions, settings, now=clock.now())
    html = await guide_for_item(session, all_items["名称自主申报"])
    assert html is not None and "<h2>办理流程</h2>" in html
    assert "/api/kb/public/attachments/" in html and "企业名称使用承诺书（填写样例）" in html
    assert await guide_for_item(session, 999_999) is None


async def test_changed_files_become_a_new_published_version(
    db_sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    all_items: dict[str, int],
    session: AsyncSession,
    tmp_path: Path,
    clock: FakeClock,
) -> None:
    folder = tmp_path / "kb"
    shutil.copytree(DEMO_DIR, folder)
    await load_demo(db_sessions, settings, folder=folder, now=clock.now())
    path = folder / "qiye-zhuxiao-dengji.md"
    path.write_text(
        path.read_text(encoding="utf-8").replace("公告期**20日**", "公告期**20日**（自2027年起）"),
        encoding="utf-8",
    )
    report = await load_demo(db_sessions, settings, folder=folder, now=clock.now())
    assert report.updated == ["qiye-zhuxiao-dengji"]
    article = await session.scalar(select(KbArticle).where(KbArticle.slug == "qiye-zhuxiao-dengji"))
    assert article is not None and article.version == 2 and article.published_version == 2


async def test_export_round_trips(
    db_sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    all_items: dict[str, int],
    session: AsyncSession,
    tmp_path: Path,
    clock: FakeClock,
) -> None:
    await load_demo(db_sessions, settings, now=clock.now())
    out = tmp_path / "export"
    assert await export_folder(session, settings, out) == len(article_files(DEMO_DIR))
    again = parse_file(out / "mingcheng-zizhu-shenbao.md")
    original = parse_file(DEMO_DIR / "mingcheng-zizhu-shenbao.md")
    assert again.body.strip() == original.body.strip()
    assert again.meta["items"] == ["名称自主申报"] and again.meta["guide"] is True
    files = sorted(a["file"] for a in again.meta["attachments"])
    assert files == sorted(p.name for p in (out / "mingcheng-zizhu-shenbao").iterdir())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("no front matter", "no front matter"),
        ("---\n- a list\n---\nbody", "must be a mapping"),
        ("---\ntitle: x\ncolour: red\n---\nbody", "unknown keys"),
        ("---\ntitle: x\nslug: Not A Slug\n---\nbody", "slug"),
        ("---\ntitle: x\nitems: 企业设立登记\n---\nbody", "items must be a list"),
    ],
)
def test_bad_files_are_refused_with_their_name(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.md"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(FormatError, match=message):
        parse_file(path)


def test_front_matter_is_yaml() -> None:
    meta = yaml.safe_load((DEMO_DIR / "qiye-biangeng-dengji.md").read_text(encoding="utf-8").split("---")[1])
    assert meta["attachments"][0]["kind"] == "sample"
