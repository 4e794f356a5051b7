"""Several processes on one index: serialised writes, readers that see what another process published,
and a machine with its own index folder catching up from the database."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

from helpdesk_kb.component import Kb
from helpdesk_kb.index import IndexDoc, KbIndex
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from helpdesk.clock import FakeClock
from helpdesk.config import Settings

WRITER = """
import sys
from pathlib import Path
from helpdesk_kb.analysis import init_jieba
from helpdesk_kb.index import IndexDoc, KbIndex
init_jieba()
index = KbIndex(Path(sys.argv[1]))
for n in range(int(sys.argv[4])):
    index.write([IndexDoc(id=f"{sys.argv[2]}-{n}", title=sys.argv[3], body="由另一个进程发布的文章")])
index.close()
"""


def run_writer(folder: Path, doc_id: str, title: str, count: int = 1) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", WRITER, str(folder), doc_id, title, str(count)])


def test_a_second_handle_sees_a_new_article_without_reopening(tmp_path: Path) -> None:
    reader, writer = KbIndex(tmp_path / "ix"), KbIndex(tmp_path / "ix")
    try:
        writer.write([IndexDoc(id="a", title="企业设立登记", body="设立公司")])
        assert reader.search("设立").total == 1  # the reader's searcher is open now
        writer.write([IndexDoc(id="b", title="企业注销登记", body="注销公司")])
        assert [h.id for h in reader.search("注销").hits] == ["b"]
        writer.write(deletes=["a"])
        assert reader.search("设立").total == 0
    finally:
        reader.close()
        writer.close()


def test_another_process_publishes_and_this_one_sees_it(tmp_path: Path) -> None:
    folder = tmp_path / "ix"
    index = KbIndex(folder)
    try:
        index.write([IndexDoc(id="local", title="个体工商户登记", body="经营者")])
        assert index.search("劳务派遣").total == 0
        assert run_writer(folder, "remote", "劳务派遣经营许可").wait(timeout=60) == 0
        page = index.search("劳务派遣")
        assert [h.id for h in page.hits] == ["remote-0"]
    finally:
        index.close()


def test_concurrent_writers_in_two_processes_lose_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "ix"
    KbIndex(folder).close()  # created once; both writers open it
    procs = [
        run_writer(folder, "p1", "城镇污水排入排水管网许可", 15),
        run_writer(folder, "p2", "公共场所卫生许可", 15),
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    index = KbIndex(folder)
    try:
        assert index.doc_count() == 30
    finally:
        index.close()


def test_opening_and_reading_while_another_process_commits(tmp_path: Path) -> None:
    """A committing writer deletes the previous table of contents; a handle opened (or a searcher
    reopened) between Whoosh's listing and its read must try again, not fail (seen in CI)."""
    folder = tmp_path / "ix"
    KbIndex(folder).close()
    writer = run_writer(folder, "w", "城镇污水排入排水管网许可", 150)
    opened = 0
    try:
        while writer.poll() is None:
            handle = KbIndex(folder)
            try:
                handle.searcher()  # opens the index, then a searcher on its newest generation
                opened += 1
            finally:
                handle.close()
    finally:
        assert writer.wait(timeout=120) == 0
    assert opened > 0


def test_a_table_of_contents_removed_under_the_reader_is_read_again(tmp_path: Path, monkeypatch: Any) -> None:
    """The race above made deterministic: the first open of each .toc file fails as it does when
    another process's commit deleted it between Whoosh's listing and its open."""
    from whoosh.filedb.filestore import FileStorage

    folder = tmp_path / "ix"
    KbIndex(folder).write([IndexDoc(id="a", title="企业设立登记", body="设立公司")])
    real_open, failed = FileStorage.open_file, []

    def open_file(storage: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        if name.endswith(".toc") and name not in failed:
            failed.append(name)
            raise FileNotFoundError(name)
        return real_open(storage, name, *args, **kwargs)

    monkeypatch.setattr(FileStorage, "open_file", open_file)
    handle = KbIndex(folder)
    try:
        assert handle.search("设立").total == 1
    finally:
        handle.close()
    assert failed


async def test_a_machine_with_its_own_index_catches_up_from_the_database(
    settings: Settings,
    clock: FakeClock,
    db_sessions: async_sessionmaker[AsyncSession],
    kb: Kb,
    add_article: Any,
    tmp_path: Path,
) -> None:
    other = Kb(settings, clock, KbIndex(tmp_path / "other-machine"), sessions=db_sessions)
    try:
        article_id = await add_article("药品经营许可证变更", "变更注册地址需现场检查。")
        assert (await other.search("药品经营许可证变更")).total == 0
        assert await other.sync_once() == 1
        assert [h.id for h in (await other.search("药品经营许可证变更")).hits] == [article_id]
        assert await other.sync_once() == 0  # nothing new: nothing rewritten
    finally:
        other.close()


async def test_redis_lock_serialises_writers(
    settings: Settings, clock: FakeClock, tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    shared = settings.model_copy(update={"redis_prefix": redis_prefix})
    a = Kb(shared, clock, KbIndex(tmp_path / "ix"), redis=client)
    b = Kb(shared, clock, KbIndex(tmp_path / "ix"), redis=client)
    try:
        docs = [IndexDoc(id=f"d{n}", title=f"建筑工程施工许可问答{n}", body="施工许可") for n in range(20)]
        await asyncio.gather(*(kb.apply([d], []) for kb, d in zip([a, b] * 10, docs, strict=True)))
        assert (await a.search("施工许可", per_page=50)).total == 20
        assert await client.get(f"{redis_prefix}kb:index-write") is None  # released
    finally:
        a.close()
        b.close()
        await client.aclose()


async def test_a_restarted_machine_catches_up_from_its_watermark(
    settings: Settings,
    clock: FakeClock,
    db_sessions: async_sessionmaker[AsyncSession],
    add_article: Any,
    tmp_path: Path,
) -> None:
    folder = tmp_path / "machine-b"
    before = Kb(settings, clock, KbIndex(folder), sessions=db_sessions)
    await before.sync_once()  # writes its watermark
    before.close()
    clock.advance(3600)  # machine B is down for an hour while an article is published
    article_id = await add_article("劳务派遣经营许可延续", "有效期届满60日前申请延续。")
    clock.advance(3600)
    after = Kb(settings, clock, KbIndex(folder), sessions=db_sessions)
    try:
        assert await after.sync_once() == 1
        assert [h.id for h in (await after.search("劳务派遣延续")).hits] == [article_id]
    finally:
        after.close()


async def test_sharing_a_folder_skips_redundant_catch_up_writes(
    settings: Settings,
    clock: FakeClock,
    db_sessions: async_sessionmaker[AsyncSession],
    kb: Kb,
    add_article: Any,
) -> None:
    await add_article("公共场所卫生许可延续", "届满前30日申请。")  # indexed by `kb`
    other = Kb(settings, clock, KbIndex(settings.kb_index_dir), sessions=db_sessions)
    try:
        generation = other.index.generation()
        assert await other.sync_once() == 0
        assert other.index.generation() == generation  # nothing rewritten
    finally:
        other.close()
