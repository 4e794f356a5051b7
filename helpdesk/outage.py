"""Database (and Redis) outages: one test of "the service behind us is unreachable", and the 503
with Retry-After and the error body that answers it on every HTTP route (docs/deploy.md, "Faults").

An outage is expected operations, not a bug: it is logged as one warning line per request, never
a traceback at ERROR."""

from __future__ import annotations

import errno
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy import exc as sa_exc

from helpdesk.errors import error_body

log = logging.getLogger(__name__)
RETRY_AFTER_S = 5
UNAVAILABLE_DETAIL = "the service is briefly unavailable; try again shortly"
_NETWORK_ERRNOS = {errno.ECONNREFUSED, errno.ECONNRESET, errno.ECONNABORTED, errno.EHOSTUNREACH,
                   errno.ENETUNREACH, errno.ETIMEDOUT, errno.EPIPE, errno.ENOTCONN}


def _asyncpg_unavailable(exc: BaseException) -> bool:
    try:
        import asyncpg
    except ImportError:  # SQLite-only installs
        return False
    lost = (asyncpg.PostgresConnectionError, asyncpg.CannotConnectNowError, asyncpg.AdminShutdownError,
            asyncpg.TooManyConnectionsError, asyncpg.exceptions.ConnectionDoesNotExistError,
            asyncpg.exceptions.ConnectionFailureError)
    return isinstance(exc, lost)


def _one(exc: BaseException) -> bool:
    if isinstance(exc, RedisConnectionError | RedisTimeoutError | TimeoutError | ConnectionError):
        return True
    if isinstance(exc, OSError):  # refused, reset, unreachable; not a full disk, a missing file or a
        # client that went away (uvicorn's ClientDisconnected is an OSError without errno)
        return exc.errno in _NETWORK_ERRNOS or (exc.errno is None and "connect call failed" in str(exc).lower())
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, sa_exc.DisconnectionError | sa_exc.TimeoutError):  # pool: none free in time
        return True
    return _asyncpg_unavailable(exc)


def is_service_unavailable(exc: BaseException) -> bool:
    """True when `exc` (or what caused it) says PostgreSQL or Redis cannot be reached right now."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if _one(cur):
            return True
        if isinstance(cur, sa_exc.DBAPIError) and cur.orig is not None and _one(cur.orig):
            return True
        cur = cur.__cause__ or cur.__context__
    return False


def which_service(exc: BaseException) -> str:
    text = f"{type(exc).__module__}.{type(exc).__name__} {exc}".lower()
    return "Redis" if "redis" in text else "database"


def unavailable_response() -> JSONResponse:
    return JSONResponse(error_body("unavailable", UNAVAILABLE_DETAIL), status_code=503,
                        headers={"Retry-After": str(RETRY_AFTER_S)})


def install_outage_handlers(app: FastAPI) -> None:
    """503 + Retry-After for every route whose database or Redis call failed for want of the
    service; any other error of these classes goes to the handler installed before (the error
    family's mapping: out-of-range values, integrity errors) or on its usual path."""

    def handler(cls: type[Exception]) -> Any:
        previous = app.exception_handlers.get(cls)

        async def _unavailable(request: Request, exc: Exception) -> Any:
            if request.scope["type"] != "http" or not is_service_unavailable(exc):
                if previous is not None and request.scope["type"] == "http":
                    return await previous(request, exc)  # type: ignore[misc]
                raise exc  # sockets answer outages themselves (helpdesk.journey.ws)
            log.warning("%s %s: %s unavailable (%s: %s)", getattr(request, "method", "WS"), request.url.path,
                        which_service(exc), type(exc).__name__, str(exc)[:200])
            return unavailable_response()

        return _unavailable

    classes: list[type[Exception]] = [OSError, sa_exc.DBAPIError, sa_exc.DisconnectionError, sa_exc.TimeoutError]
    try:
        import asyncpg

        classes += [asyncpg.PostgresError, asyncpg.InterfaceError]
    except ImportError:
        pass
    for cls in classes:
        app.add_exception_handler(cls, handler(cls))


def log_failure(logger: logging.Logger, exc: BaseException, what: str) -> None:
    """For loops that must outlive one bad round: an outage is one warning line, a bug a traceback."""
    if is_service_unavailable(exc):
        logger.warning("%s: %s unavailable (%s: %s)", what, which_service(exc), type(exc).__name__, str(exc)[:200])
    else:
        logger.exception(what)
