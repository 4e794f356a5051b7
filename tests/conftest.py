"""Shared fixtures: real services (PostgreSQL, Redis), a fresh database per test, the app.

A test may skip only when a service is missing on a laptop; with HELPDESK_REQUIRE_SERVICES=1
(set by .ci/run) a missing service fails the test instead.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from helpdesk.clock import FakeClock
from helpdesk.config import Settings
from helpdesk.db import Base, make_engine, make_session_factory

PG_HOST, PG_PORT = "127.0.0.1", 5432
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
CHROMIUM = "/usr/bin/chromium"
# Apps started in this process do not freeze the collector's generations: the suite starts hundreds
# (servers started as subprocesses get a clean environment and the default, as in production).
os.environ.setdefault("HELPDESK_GC_FREEZE", "0")


def require_service(name: str, available: bool) -> None:
    """Skip on a laptop without the service; fail under HELPDESK_REQUIRE_SERVICES=1."""
    if available:
        return
    if os.environ.get("HELPDESK_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{name} is required (HELPDESK_REQUIRE_SERVICES=1) but not available")
    pytest.skip(f"{name} not available")


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def pg_available() -> bool:
    return port_open(PG_HOST, PG_PORT)


@pytest.fixture
def pg_url(pg_available: bool) -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema in database `test`, dropped afterwards."""
    require_service("PostgreSQL", pg_available)
    import asyncpg

    schema = f"t_{uuid.uuid4().hex[:12]}"

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user="postgres", database="test")
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f'CREATE SCHEMA "{schema}"'))
    yield f"postgresql+asyncpg://postgres@{PG_HOST}:{PG_PORT}/test?options=-csearch_path%3D{schema}"
    asyncio.run(run(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture
def redis_url() -> str:
    require_service("Redis", port_open(REDIS_HOST, REDIS_PORT))
    return f"redis://{REDIS_HOST}:{REDIS_PORT}/0"


@pytest.fixture
def redis_prefix() -> str:
    """A key prefix unique to one test, so parallel runs never see each other's keys."""
    return f"hdtest:{uuid.uuid4().hex[:10]}:"


@pytest.fixture
def chromium_path() -> str:
    require_service("Chromium", Path(CHROMIUM).exists())
    return CHROMIUM


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path}/helpdesk.db"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(tmp_path: Path, sqlite_url: str) -> Settings:
    return Settings(
        dev_mode=True,
        database_url=sqlite_url,
        upload_dir=tmp_path / "uploads",
        kb_index_dir=tmp_path / "kb-index",
        recordings_dir=tmp_path / "recordings",
        redis_url=None,
    )


async def create_schema(url: str) -> None:
    import helpdesk.models  # noqa: F401 - registers every table

    engine = make_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    await engine.dispose()


@asynccontextmanager
async def fresh_database(url: str) -> AsyncIterator[tuple[AsyncEngine, async_sessionmaker[AsyncSession]]]:
    """Every table created on `url`; its engine and a session factory, the engine disposed at the end."""
    await create_schema(url)
    engine = make_engine(url)
    try:
        yield engine, make_session_factory(engine)
    finally:
        await engine.dispose()


@pytest.fixture
async def db_sessions(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A session factory on a fresh SQLite database with every table created."""
    async with fresh_database(settings.database_url) as (_engine, sessions):
        yield sessions


@pytest.fixture
async def session(db_sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    async with db_sessions() as s:
        yield s
