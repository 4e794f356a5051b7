"""One error family, one JSON body shape: {"error": code, "detail": message, "request_id": id}.

Database integrity errors are mapped here too (a client naming a record that does not exist is a
4xx, never a 500), and anything unexpected still answers the same JSON body with its request id."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, NoResultFound
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from helpdesk.logs import request_id_var

log = logging.getLogger(__name__)


class HelpdeskError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, status_code: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code
        if code is not None:
            self.code = code


class BadRequest(HelpdeskError):
    status_code, code = 400, "bad_request"


class Unauthorized(HelpdeskError):
    status_code, code = 401, "unauthorized"


class Forbidden(HelpdeskError):
    status_code, code = 403, "forbidden"


class NotFound(HelpdeskError):
    status_code, code = 404, "not_found"


class Conflict(HelpdeskError):
    status_code, code = 409, "conflict"


class PayloadTooLarge(HelpdeskError):
    status_code, code = 413, "too_large"


class UnsupportedType(HelpdeskError):
    status_code, code = 415, "unsupported_type"


class TooManyRequests(HelpdeskError):
    status_code, code = 429, "too_many_requests"

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ServiceUnavailable(HelpdeskError):
    status_code, code = 503, "unavailable"


def error_body(code: str, detail: object, request_id: str | None = None) -> dict[str, object]:
    return {"error": code, "detail": detail, "request_id": request_id or request_id_var.get()}


def error_response(status: int, code: str, detail: object, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(code, detail), status_code=status, headers=headers)


# SQLSTATE classes (PostgreSQL) and the words SQLite uses for the same violations.
FK_VIOLATION, UNIQUE_VIOLATION, NOT_NULL_VIOLATION, CHECK_VIOLATION = "23503", "23505", "23502", "23514"
SQLITE_WORDS = {"FOREIGN KEY": FK_VIOLATION, "UNIQUE": UNIQUE_VIOLATION, "NOT NULL": NOT_NULL_VIOLATION,
                "CHECK": CHECK_VIOLATION}


def integrity_error(exc: IntegrityError) -> HelpdeskError:
    """The client's mistake a constraint caught: an unknown reference (422), a row still referenced
    (409), a duplicate (409) or a missing/invalid value (422)."""
    orig = exc.orig
    state = str(getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None) or "")
    text = str(orig)
    if not state:
        state = next((v for k, v in SQLITE_WORDS.items() if f"{k} constraint failed" in text), "")
    pg_detail = getattr(getattr(orig, "__cause__", None), "detail", None)  # asyncpg: "Key (unit_id)=(9) ..."
    where = f" ({pg_detail})" if pg_detail else ""
    if state == FK_VIOLATION:
        if (exc.statement or "").lstrip().upper().startswith("DELETE") or "update or delete" in text:
            return HelpdeskError(f"the record is still referenced by others{where}", 409, "in_use")
        return HelpdeskError(f"a referenced record does not exist{where}", 422, "unknown_reference")
    if state == UNIQUE_VIOLATION:
        return HelpdeskError(f"a record with these values already exists{where}", 409, "duplicate")
    if state in (NOT_NULL_VIOLATION, CHECK_VIOLATION):
        return HelpdeskError(f"a value is missing or not allowed{where}", 422, "invalid_value")
    return HelpdeskError("the change conflicts with stored records", 409, "conflict")


def allowed_methods(request: Request) -> list[str]:
    methods: set[str] = set()
    for ctx in iter_route_contexts(request.app.routes):
        if ctx.methods and compile_path(str(ctx.path))[0].match(request.url.path):
            methods |= set(ctx.methods)
    return sorted(methods)


def is_data_problem(exc: DBAPIError) -> bool:
    cause = getattr(exc.orig, "__cause__", None)
    state = str(getattr(cause, "sqlstate", None) or getattr(exc.orig, "sqlstate", None) or "")
    return state.startswith("22") or isinstance(cause, OverflowError) or "out of int" in str(exc.orig)


def request_id_of(request: Request) -> str:
    """Handlers outside the request-id middleware (the last-resort 500) read it from the scope."""
    return str(request.scope.get("request_id") or request_id_var.get())


def family_response(exc: HelpdeskError) -> JSONResponse:
    headers = {}
    if isinstance(exc, TooManyRequests):
        headers["Retry-After"] = str(exc.retry_after_s)
    if exc.status_code >= 500:
        log.error("request failed: %s", exc.message)
    return error_response(exc.status_code, exc.code, exc.message, headers)


def component_error_response(exc: Exception) -> JSONResponse:
    """The components' errors (KB, inspection) carry status_code, code and message like ours."""
    return error_response(int(getattr(exc, "status_code", 400)), str(getattr(exc, "code", "bad_request")),
                          str(getattr(exc, "message", exc)))


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(HelpdeskError)
    async def _helpdesk_error(request: Request, exc: HelpdeskError) -> JSONResponse:
        return family_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        detail = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
                  for e in exc.errors()]
        return error_response(422, "validation_error", detail)

    @app.exception_handler(IntegrityError)
    async def _integrity_error(request: Request, exc: IntegrityError) -> JSONResponse:
        mapped = integrity_error(exc)
        log.info("%s %s: %s (%s)", request.method, request.url.path, mapped.code, str(exc.orig)[:200])
        return family_response(mapped)

    @app.exception_handler(DataError)
    async def _data_error(request: Request, exc: DataError) -> JSONResponse:
        # e.g. an id past the column's integer range: PostgreSQL refuses the value itself.
        return error_response(422, "invalid_value", "a value is out of range or of the wrong kind")

    @app.exception_handler(DBAPIError)
    async def _dbapi_error(request: Request, exc: DBAPIError) -> JSONResponse:
        # asyncpg checks argument ranges itself and SQLAlchemy wraps that as a bare DBAPIError; other
        # database failures (more specific classes may have their own handlers) stay server errors.
        if is_data_problem(exc):
            return error_response(422, "invalid_value", "a value is out of range or of the wrong kind")
        log.error("%s %s: database error", request.method, request.url.path, exc_info=exc)
        return error_response(500, "internal_error", "something went wrong on our side; quote the request id")

    @app.exception_handler(OverflowError)
    async def _overflow(request: Request, exc: OverflowError) -> JSONResponse:
        # SQLite's driver refuses an integer id past 64 bits with OverflowError, not a DBAPI error.
        log.info("%s %s: number out of range (%s)", request.method, request.url.path, exc)
        return error_response(422, "invalid_value", "a number is out of range")

    @app.exception_handler(NoResultFound)
    async def _no_result(request: Request, exc: NoResultFound) -> JSONResponse:
        return error_response(404, "not_found", "no such record")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Last resort (Starlette logs the traceback): the same JSON body, never a plain-text 500.
        rid = request_id_of(request)
        return JSONResponse(error_body("internal_error", "something went wrong on our side; quote the request id",
                                       rid), status_code=500, headers={"X-Request-ID": rid})

    @app.exception_handler(RedisConnectionError)
    @app.exception_handler(RedisTimeoutError)
    async def _redis_unavailable(request: Request, exc: Exception) -> JSONResponse:
        # Redis (queue, presence, signaling) is down: a typed 503 the pages retry, not a traceback.
        log.warning("%s %s: Redis unavailable (%s)", request.method, request.url.path, type(exc).__name__)
        return error_response(503, "unavailable", "the service is briefly unavailable; try again", {"Retry-After": "5"})

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(exc.status_code, "http_error")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # Starlette names only the first route's methods; a path may have several
            headers["Allow"] = ", ".join(allowed_methods(request))
        return error_response(exc.status_code, code, exc.detail, headers)
