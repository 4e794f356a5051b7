"""Shared SQLAlchemy metadata, the async engine and session factory."""

from __future__ import annotations

import shlex
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, MetaData, String, TypeDecorator, event, make_url
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.util import await_only

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
        return _ping_on_checkout(create_async_engine(parsed.difference_update_query(["options"]), echo=echo,
                                                     connect_args=connect_args, **kwargs))
    if parsed.get_driver_name() == "asyncpg":
        return _ping_on_checkout(create_async_engine(url, echo=echo, **kwargs))
    return create_async_engine(url, echo=echo, pool_pre_ping=True, **kwargs)


# A pooled connection given back less than this ago, and not seen closed, is used without a ping
PING_IDLE_S = 1.0


def _ping_on_checkout(engine: AsyncEngine) -> AsyncEngine:
    """pool_pre_ping in one round trip (asyncpg), and only where it can tell something: SQLAlchemy's
    own wraps its `;` in BEGIN … ROLLBACK (for pgbouncer's transaction pooling), three round trips
    on every checkout, and the pairing path checks out four connections.

    A connection opened just now is not pinged, nor one given back less than PING_IDLE_S ago whose
    socket is still open (a server process that ended, a restarted or stopped server, closes it:
    asyncpg sees that without a round trip). A connection seen closed, or one that does not answer
    its ping, invalidates the pool and is replaced by a fresh one (a database that is down raises
    from that connect). Steps that must know the database answers *now* call `ping`."""

    @event.listens_for(engine.sync_engine, "connect")
    def _fresh(_dbapi_connection: Any, record: Any) -> None:
        record.info["helpdesk_fresh"] = True

    @event.listens_for(engine.sync_engine, "checkin")
    def _given_back(_dbapi_connection: Any, record: Any) -> None:
        record.info["helpdesk_back_at"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _ping(_dbapi_connection: Any, record: Any, proxy: Any) -> None:
        record.info["helpdesk_answered"] = True  # this checkout has heard the server (see ping)
        if record.info.pop("helpdesk_fresh", False):
            return
        driver = proxy.driver_connection
        if driver.is_closed():
            raise InvalidatePoolError("connection closed by the server")
        if time.monotonic() - record.info.get("helpdesk_back_at", float("-inf")) < PING_IDLE_S:
            record.info["helpdesk_answered"] = False
            return
        try:
            await_only(driver.fetchrow(";"))  # as SQLAlchemy pings
        except Exception as exc:
            raise InvalidatePoolError(f"ping failed ({type(exc).__name__})") from exc

    return engine


async def ping(engine: AsyncEngine) -> None:
    """Raises unless the database answers now: one round trip on a pooled connection, none more when
    taking it already was one (a fresh connect, or the checkout's ping; SQLite: the pool's pre-ping)."""
    async with engine.connect() as conn:
        if engine.dialect.driver == "asyncpg" and not conn.info.pop("helpdesk_answered", False):
            raw = await conn.get_raw_connection()
            await raw.driver_connection.fetchrow(";")  # type: ignore[union-attr]


def upsert_insert(dialect: Dialect) -> Any:
    """`insert` with ON CONFLICT for the backend in use (SQLite or PostgreSQL: the same API)."""
    from sqlalchemy.dialects.postgresql import insert as pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert if dialect.name == "sqlite" else pg_insert


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
