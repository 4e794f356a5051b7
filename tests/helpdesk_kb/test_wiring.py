"""What the lead wires: wire(state, stack) at start-up and the `helpdesk kb ...` commands."""

from __future__ import annotations

import argparse
import asyncio
from contextlib import AsyncExitStack
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from helpdesk_kb import cli
from helpdesk_kb.component import Kb
from helpdesk_kb.index import SCHEMA_VERSION, KbIndex
from helpdesk_kb.index import IndexDoc as IndexDocFactory
from helpdesk_kb.wiring import wire
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from helpdesk.clock import FakeClock
from helpdesk.config import Settings


async def test_wire_fills_an_empty_index_from_the_database_and_stops_cleanly(
    settings: Settings,
    clock: FakeClock,
    db_sessions: async_sessionmaker[AsyncSession],
    add_article: Any,
    tmp_path: Path,
) -> None:
    article_id = await add_article("企业注销登记", "简易注销。")
    fresh = settings.model_copy(update={"kb_index_dir": tmp_path / "new-machine"})
    state = SimpleNamespace(settings=fresh, clock=clock, sessions=db_sessions, redis=None, components={})
    async with AsyncExitStack() as stack:
        kb = await wire(state, stack)
        assert state.components["kb"] is kb and isinstance(kb, Kb)
        assert [h.id for h in (await kb.search("注销")).hits] == [article_id]
        task = next(t for t in asyncio.all_tasks() if t.get_name() == "kb-index-catch-up")
    assert task.cancelled() or task.done()


async def test_an_index_of_an_older_schema_is_recreated_and_refilled(
    settings: Settings,
    clock: FakeClock,
    db_sessions: async_sessionmaker[AsyncSession],
    add_article: Any,
    tmp_path: Path,
) -> None:
    """Changing the analyzer or the schema bumps SCHEMA_VERSION; an old index folder heals at start-up."""
    article_id = await add_article("企业注销登记", "简易注销。")
    folder = tmp_path / "upgraded-machine"
    old = KbIndex(folder)
    old.write([IndexDocFactory(id="stale", title="一篇旧文章", body="注销")])
    old.close()
    (folder / "schema-version").write_text("1")
    state = SimpleNamespace(
        settings=settings.model_copy(update={"kb_index_dir": folder}),
        clock=clock,
        sessions=db_sessions,
        redis=None,
        components={},
    )
    async with AsyncExitStack() as stack:
        kb = await wire(state, stack)
        assert kb.index.stored("stale") is None
        assert [h.id for h in (await kb.search("注销")).hits] == [article_id]
    assert (folder / "schema-version").read_text() == SCHEMA_VERSION


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return int(args.func(args))


def test_cli_import_reindex_export(
    settings: Settings,
    db_sessions: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("HELPDESK_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("HELPDESK_KB_INDEX_DIR", str(settings.kb_index_dir))
    monkeypatch.setenv("HELPDESK_UPLOAD_DIR", str(settings.upload_dir))
    demo = Path(cli.__file__).resolve().parent.parent / "demo"
    assert run_cli("kb", "import", str(demo)) == 0
    out = capsys.readouterr().out
    assert "created 13" in out and "no service item named" in out  # this database has no demo items
    assert run_cli("kb", "reindex") == 0
    assert "indexed 13 articles" in capsys.readouterr().out
    index = KbIndex(settings.kb_index_dir)
    try:
        assert index.doc_count() == 13
    finally:
        index.close()
    assert run_cli("kb", "export", str(tmp_path / "out")) == 0
    assert len(list((tmp_path / "out").glob("*.md"))) == 13
    assert run_cli("kb", "import", str(tmp_path / "missing")) == 1
