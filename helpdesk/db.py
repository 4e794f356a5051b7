"""Shared SQLAlchemy metadata, the async engine and session factory."""

from __future__ import annotations

import shlex
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, MetaData, String, TypeDecorator, event, make_url
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC without zone (SQLite has none) and always hands back aware UTC datetimes."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: dict[Any, Any] = {datetime: UTCDateTime(), str: String(255)}


def new_id() -> str:
    return uuid.uuid4().hex


def make_engine(url: str, echo: bool = False, **kwargs: Any) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    parsed = make_url(url)
    if parsed.get_driver_name() == "asyncpg" and "options" in parsed.query:
        # asyncpg has no libpq `options`: "?options=-csearch_path%3Dx" becomes server_settings.
        options = parsed.query["options"]
        words = shlex.split(options if isinstance(options, str) else " ".join(options))
        pairs = [w[2:] if w.startswith("-c") else w for w in words if w != "-c"]
        server_settings = dict(p.partition("=")[::2] for p in pairs if "=" in p)
        connect_args = kwargs.pop("connect_args", {}) | {"server_settings": server_settings}
        return create_async_engine(parsed.difference_update_query(["options"]), echo=echo,
                                   pool_pre_ping=True, connect_args=connect_args, **kwargs)
    return create_async_engine(url, echo=echo, pool_pre_ping=True, **kwargs)


def make_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def session_scope(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One unit of work: the caller's request, socket message or job commits; errors roll back."""
    async with factory() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
