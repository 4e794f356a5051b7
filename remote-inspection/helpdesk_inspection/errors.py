"""Errors of this component, in the house shape: a code, a message and an HTTP status."""

from __future__ import annotations


class InspectionError(Exception):
    """Rendered as {"error": code, "detail": message} with ``status_code`` by the routes."""

    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, status_code: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code
        if code is not None:
            self.code = code


class NotFound(InspectionError):
    status_code, code = 404, "not_found"


class Forbidden(InspectionError):
    status_code, code = 403, "forbidden"


class Conflict(InspectionError):
    status_code, code = 409, "conflict"


class Unavailable(InspectionError):
    status_code, code = 503, "unavailable"
