"""The shipped migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Integer, String, Table, inspect, text
from sqlalchemy.engine import Connection

from helpdesk import migrations
from helpdesk.migrations import engine_for_migrations, target_metadata


def _on_conn(url: str, fn: Any) -> Any:
    async def run() -> Any:
        engine = engine_for_migrations(url)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(fn)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _diff(conn: Connection) -> list[Any]:
    ctx = MigrationContext.configure(conn, opts={"compare_type": True})
    return list(compare_metadata(ctx, target_metadata()))


def _assert_matches_models(url: str) -> None:
    assert migrations.current(url) == migrations.head()
    diff = [_describe(d) for d in _on_conn(url, _diff)]
    assert diff == [], f"models and migrations differ; run `make migration m=...` and review it: {diff}"


def _describe(change: Any) -> str:
    """("add_table", Table(...)) → "add_table kb_articles": short enough to read in a failure."""
    if isinstance(change, list):  # column modifications come as a list of tuples
        return "; ".join(_describe(c) for c in change)
    op, *rest = change
    names = [getattr(x, "name", None) or (x if isinstance(x, str) else "") for x in rest]
    return " ".join([op, *[n for n in names if n]])


def test_single_head() -> None:
    from alembic.script import ScriptDirectory

    heads = ScriptDirectory.from_config(migrations.make_config("sqlite://")).get_heads()
    assert len(heads) == 1, f"branched migrations, merge them: {heads}"


def test_upgrade_sqlite_matches_models(sqlite_url: str) -> None:
    assert migrations.current(sqlite_url) is None
    migrations.upgrade(sqlite_url)
    _assert_matches_models(sqlite_url)
    migrations.upgrade(sqlite_url)  # again: a no-op
    assert migrations.current(sqlite_url) == migrations.head()


def test_downgrade_to_base_and_back_sqlite(sqlite_url: str) -> None:
    migrations.upgrade(sqlite_url)
    migrations.downgrade(sqlite_url, "base")
    tables = _on_conn(sqlite_url, lambda c: set(inspect(c).get_table_names()))
    assert tables <= {"alembic_version"}
    migrations.upgrade(sqlite_url)
    _assert_matches_models(sqlite_url)


def test_sqlite_folder_is_created(tmp_path: Any) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/new/dir/helpdesk.db"
    migrations.upgrade(url)
    assert (tmp_path / "new" / "dir" / "helpdesk.db").exists()


@pytest.mark.postgres
def test_upgrade_postgres_matches_models(pg_url: str) -> None:
    migrations.upgrade(pg_url)
    _assert_matches_models(pg_url)
    schema = pg_url.rsplit("%3D", 1)[1]

    def where(conn: Connection) -> set[str]:
        # Other runs (benches, parallel tests) keep their own schemas in the same database: look at
        # this run's schema and `public` only.
        rows = conn.execute(text("SELECT table_schema FROM information_schema.tables "
                                 "WHERE table_name IN ('alembic_version', 'work_orders') "
                                 "AND table_schema IN (current_schema(), 'public')"))
        return {r[0] for r in rows}

    assert _on_conn(pg_url, where) == {schema}, "tables must land in the search_path schema"


@pytest.mark.postgres
def test_downgrade_to_base_and_back_postgres(pg_url: str) -> None:
    migrations.upgrade(pg_url)
    migrations.downgrade(pg_url, "base")
    migrations.upgrade(pg_url)
    _assert_matches_models(pg_url)


@pytest.mark.postgres
def test_replicas_upgrading_at_once_do_not_collide(pg_url: str) -> None:
    """Both compose replicas run `helpdesk db upgrade` on start: the advisory lock lets one migrate."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(3) as pool:
        for future in [pool.submit(migrations.upgrade, pg_url) for _ in range(3)]:
            future.result(timeout=120)
    assert migrations.current(pg_url) == migrations.head()
    _assert_matches_models(pg_url)




@pytest.fixture
def scratch_migrations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the migrations folder, so revision tests never write into the source tree."""
    copy = tmp_path / "migrations"
    shutil.copytree(migrations.MIGRATIONS_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(migrations, "MIGRATIONS_DIR", copy)
    return copy / "versions"


def test_revision_autogenerates_and_skips_empty(scratch_migrations: Path, sqlite_url: str) -> None:
    before = sorted(scratch_migrations.glob("*.py"))
    assert migrations.revision("nothing changed") is None
    assert sorted(scratch_migrations.glob("*.py")) == before

    metadata = target_metadata()
    table = Table("zz_probe", metadata, Column("id", Integer, primary_key=True), Column("note", String(20)))
    try:
        path = migrations.revision("add probe")
        assert path is not None and path.parent == scratch_migrations and "add_probe" in path.name
        assert "op.create_table(" in path.read_text() and "zz_probe" in path.read_text()
        migrations.upgrade(sqlite_url)
        _assert_matches_models(sqlite_url)
    finally:
        metadata.remove(table)


def test_every_models_module_is_found() -> None:
    found = migrations.model_modules()
    assert {"helpdesk.models", "helpdesk.org.models", "helpdesk.workorders.models"} <= set(found)
    for folder, package in (("knowledgebase", "helpdesk_kb"), ("remote-inspection", "helpdesk_inspection")):
        if (Path(__file__).resolve().parents[2] / folder / package / "models.py").exists():
            assert f"{package}.models" in found


def test_rewrite_initial_keeps_one_revision_and_its_id(scratch_migrations: Path, sqlite_url: str) -> None:
    for later in scratch_migrations.glob("*.py"):  # the rewrite is for a tree with only the initial revision
        if later.name != "__init__.py" and "_0001_" not in later.name:
            later.unlink()
    path = migrations.rewrite_initial()
    assert [p.name for p in scratch_migrations.glob("*.py") if p.name != "__init__.py"] == [path.name]
    assert migrations.head() == migrations.INITIAL_REVISION
    migrations.upgrade(sqlite_url)
    _assert_matches_models(sqlite_url)
    (scratch_migrations / "x_second.py").write_text(path.read_text().replace("'0001'", "'0002'"))
    with pytest.raises(RuntimeError):
        migrations.rewrite_initial()
