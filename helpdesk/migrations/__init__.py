"""Alembic migrations shipped inside the package, driven from Python (no alembic.ini at run time).

`upgrade(url)` is what the CLI, `make run` and the tests call; `revision(message)` autogenerates a
new version file by comparing the models with a scratch SQLite database migrated to head.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, event, pool
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent
INITIAL_REVISION = "0001"
T = TypeVar("T")

# Tables live in modules named `models` (helpdesk/org/models.py, helpdesk_kb/models.py, ...) of these
# packages. They are found on disk and imported, not left to import order, so autogenerate and the
# schema test always see the same tables, and a new domain or component needs no registration.
MODEL_PACKAGES = ("helpdesk", "helpdesk_signaling", "helpdesk_queue", "helpdesk_kb", "helpdesk_inspection")


def model_modules() -> list[str]:
    names: list[str] = []
    for package in MODEL_PACKAGES:
        spec = importlib.util.find_spec(package)
        for root in (spec.submodule_search_locations or []) if spec else []:
            for path in sorted(Path(root).rglob("models.py")):
                parts = path.relative_to(root).with_suffix("").parts
                if "migrations" not in parts:
                    names.append(".".join((package, *parts)))
    return names


def target_metadata() -> MetaData:
    """The metadata with every table registered: what migrations must build."""
    for name in model_modules():
        importlib.import_module(name)
    from helpdesk.db import Base

    return Base.metadata


def engine_for_migrations(url: str) -> AsyncEngine:
    """A pool-less engine; on SQLite without the app's pragmas (batch mode copies tables, which
    foreign_keys=ON would fight)."""
    if make_url(url).get_backend_name() == "sqlite":
        ensure_sqlite_dir(url)
        engine = create_async_engine(url, poolclass=pool.NullPool)
        _transactional_sqlite(engine)
        return engine
    from helpdesk.db import make_engine  # knows asyncpg's way of taking `?options=-csearch_path...`

    return make_engine(url, poolclass=pool.NullPool)


def _transactional_sqlite(engine: AsyncEngine) -> None:
    """The sqlite3 driver commits before every DDL statement; with an explicit BEGIN a migration
    run is one transaction: all or nothing, and one disk sync instead of one per statement."""

    @event.listens_for(engine.sync_engine, "connect")
    def _no_driver_transactions(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN")


UPGRADE_LOCK_KEY = 0x68656C70  # "help": the advisory lock serialising concurrent upgrades


def ensure_sqlite_dir(url: str) -> None:
    """A fresh checkout has no var/ folder; SQLite will not create it."""
    database = make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def make_config(url: str | None = None) -> Config:
    """An Alembic Config built in code; the URL travels in `attributes` (ConfigParser would
    choke on the `%` of URL-encoded options)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s")
    cfg.attributes["url"] = url or _settings_url()
    return cfg


def _settings_url() -> str:
    from helpdesk.config import Settings

    return Settings().database_url


def _on_connection(url: str, fn: Callable[[Connection], T]) -> T:
    """Runs a synchronous Alembic call on one connection of a fresh async engine, in one transaction."""

    async def run() -> T:
        engine = engine_for_migrations(url)
        try:
            async with engine.begin() as conn:
                return await conn.run_sync(fn)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def upgrade(url: str | None = None, revision: str = "head") -> None:
    """Migrates the database at `url` (default: settings) to `revision`; a no-op when already there."""
    cfg = make_config(url)
    url = cfg.attributes["url"]

    def run(conn: Connection) -> None:
        if conn.dialect.name == "postgresql":
            # Replicas starting together (docker/compose.yaml) each run `helpdesk db upgrade`: one
            # migrates, the others wait here for its commit and then find nothing to do.
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({UPGRADE_LOCK_KEY})")
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)

    _on_connection(url, run)


async def upgrade_async(url: str | None = None, revision: str = "head") -> None:
    """For async callers (tests, the app): Alembic's env runs its own loop, so use a thread."""
    await asyncio.to_thread(upgrade, url, revision)


def downgrade(url: str | None, revision: str) -> None:
    cfg = make_config(url)

    def run(conn: Connection) -> None:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)

    _on_connection(cfg.attributes["url"], run)


def current(url: str | None = None) -> str | None:
    """The revision the database is at; None for a database never migrated."""
    cfg = make_config(url)
    return _on_connection(cfg.attributes["url"],
                          lambda conn: MigrationContext.configure(conn).get_current_revision())


def head() -> str | None:
    """The newest revision shipped with this code."""
    return ScriptDirectory.from_config(make_config("sqlite://")).get_current_head()


def rewrite_initial(message: str = "initial schema") -> Path:
    """Before the first release only: replaces the single initial revision with one generated from
    today's models, keeping its id, so parallel work on the models needs no stack of revisions.
    Databases made with the old file must be recreated."""
    files = [p for p in (MIGRATIONS_DIR / "versions").glob("*.py") if p.name != "__init__.py"]
    if len(files) > 1:
        raise RuntimeError("more than one revision exists: add a new revision instead")
    for path in files:
        path.unlink()
    written = revision(message, rev_id=INITIAL_REVISION)
    assert written is not None, "the models declare no tables"
    return written


def revision(message: str, url: str | None = None, autogenerate: bool = True,
             rev_id: str | None = None) -> Path | None:
    """Writes a new version file; autogenerate diffs the models against `url`, by default a scratch
    SQLite database migrated to head, so no developer database is needed. None: nothing changed."""
    with tempfile.TemporaryDirectory(prefix="helpdesk-rev-") as tmp:
        url = url or f"sqlite+aiosqlite:///{tmp}/scratch.db"
        upgrade(url)
        cfg = make_config(url)
        cfg.attributes["autogenerate"] = autogenerate
        written: list[Any] = []

        def run(conn: Connection) -> None:
            cfg.attributes["connection"] = conn
            result = command.revision(cfg, message=message, autogenerate=autogenerate, rev_id=rev_id)
            written.extend(r for r in (result if isinstance(result, list) else [result]) if r)

        _on_connection(url, run)
    return Path(written[0].path) if written else None
