"""KB errors carry a status and a code like the app's HelpdeskError; `install_error_handler`
renders them with the app's body shape {"error": code, "detail": message}."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse


class KbError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, status_code: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code
        if code is not None:
            self.code = code


class KbForbidden(KbError):
    status_code, code = 403, "forbidden"


class KbNotFound(KbError):
    status_code, code = 404, "not_found"


class KbConflict(KbError):
    status_code, code = 409, "conflict"


class KbTooLarge(KbError):
    status_code, code = 413, "too_large"


class KbUnsupportedType(KbError):
    status_code, code = 415, "unsupported_type"


class KbUnavailable(KbError):
    status_code, code = 503, "unavailable"


async def kb_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, KbError)
    return JSONResponse({"error": exc.code, "detail": exc.message, "request_id": request.scope.get("request_id")},
                        status_code=exc.status_code)


def install_error_handler(app: Any) -> None:
    """app.add_exception_handler(KbError, kb_error_handler) for a FastAPI app."""
    app.add_exception_handler(KbError, kb_error_handler)
