"""One error family, one JSON body shape: {"error": code, "detail": message}."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

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


def error_body(code: str, detail: object) -> dict[str, object]:
    return {"error": code, "detail": detail}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(HelpdeskError)
    async def _helpdesk_error(request: Request, exc: HelpdeskError) -> JSONResponse:
        headers = {}
        if isinstance(exc, TooManyRequests):
            headers["Retry-After"] = str(exc.retry_after_s)
        if exc.status_code >= 500:
            log.error("request failed: %s", exc.message)
        return JSONResponse(error_body(exc.code, exc.message), status_code=exc.status_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        detail = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
        return JSONResponse(error_body("validation_error", detail), status_code=422)

    @app.exception_handler(RedisConnectionError)
    @app.exception_handler(RedisTimeoutError)
    async def _redis_unavailable(request: Request, exc: Exception) -> JSONResponse:
        # Redis (queue, presence, signaling) is down: a typed 503 the pages retry, not a traceback.
        log.warning("%s %s: Redis unavailable (%s)", request.method, request.url.path, type(exc).__name__)
        return JSONResponse(error_body("unavailable", "the service is briefly unavailable; try again"),
                            status_code=503, headers={"Retry-After": "5"})

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(exc.status_code, "http_error")
        return JSONResponse(error_body(code, exc.detail), status_code=exc.status_code)
