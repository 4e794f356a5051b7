"""The API description made true: every operation documents the error family's one body, 422 bodies
with their items' `type`, the real media types of CSV exports and file downloads, and 413/415 on
uploads. tests/helpdesk/test_openapi_fuzz.py holds the app to it with schemathesis."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field

from helpdesk.files import EXTENSIONS


class ErrorBody(BaseModel):
    """Every 4xx/5xx answer: a stable code, a human message (or the validation items), the request id."""

    error: str = Field(description="Stable machine code, e.g. not_found, unknown_reference, too_large.")
    detail: Any = Field(description="What went wrong, for people; a list of items for validation_error.")
    request_id: str = Field(description="Quote it to support; also in the X-Request-ID header.")


class ValidationIssue(BaseModel):
    loc: list[str | int]
    msg: str
    type: str = Field(description="pydantic's error type, e.g. missing, string_too_long.")


class ValidationErrorBody(BaseModel):
    error: str = Field(description="Always validation_error.")
    detail: list[ValidationIssue]
    request_id: str


ERRORS = {
    "400": "Bad request", "401": "Login or applicant session required", "403": "Not allowed (role, CSRF)",
    "404": "Not found, or not yours to see", "409": "Conflicts with the current state",
    "429": "Too many requests (Retry-After)", "503": "Briefly unavailable (Retry-After)",
}
UPLOAD_ERRORS = {"413": "The file or body is too large (too_large)",
                 "415": "This kind of file is not accepted (unsupported_type, unreadable_image)"}
CSV = {"text/csv": {"schema": {"type": "string"}}}
# Downloads: what each answers with when it succeeds (the bytes of a stored file, never JSON).
FILE_TYPES = sorted(EXTENSIONS)
DOWNLOADS: dict[str, list[str]] = {
    "/api/files/{file_id}": FILE_TYPES,
    "/api/kb/attachments/{attachment_id}": FILE_TYPES,
    "/api/kb/public/attachments/{attachment_id}": FILE_TYPES,
    "/api/inspections/{inspection_id}/snapshots/{snapshot_id}": ["image/jpeg"],
    "/api/inspections/{inspection_id}/report.{fmt}": ["text/html", "application/pdf"],
}


def error_ref(name: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}


def describe(app: FastAPI) -> dict[str, Any]:
    schema = get_openapi(title=app.title, version=app.version, routes=app.routes, description=app.description)
    models = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in (ErrorBody, ValidationErrorBody):
        models.update(model.model_json_schema(ref_template="#/components/schemas/{model}").pop("$defs", {}))
        models[model.__name__] = model.model_json_schema(ref_template="#/components/schemas/{model}")
    models.pop("$defs", None)
    for name in ("HTTPValidationError", "ValidationError"):
        models.pop(name, None)
    for path, ops in schema.get("paths", {}).items():
        for method, op in ops.items():
            responses = op.setdefault("responses", {})
            for code, text in ERRORS.items():
                responses.setdefault(code, {"description": text, "content": error_ref("ErrorBody")})
            responses["422"] = {"description": "Validation failed (validation_error with items), or a referenced "
                                "record does not exist (unknown_reference)", "content": {"application/json": {
                                    "schema": {"anyOf": [{"$ref": "#/components/schemas/ValidationErrorBody"},
                                                         {"$ref": "#/components/schemas/ErrorBody"}]}}}}
            if "multipart/form-data" in op.get("requestBody", {}).get("content", {}):
                for code, text in UPLOAD_ERRORS.items():
                    responses[code] = {"description": text, "content": error_ref("ErrorBody")}
            ok = next((c for c in ("200", "201") if c in responses), None)
            if ok is None or method != "get":
                continue
            if path.endswith(".csv"):
                responses[ok]["content"] = CSV
            elif path in DOWNLOADS:
                binary = {"schema": {"type": "string", "format": "binary"}}
                responses[ok]["content"] = {media: binary for media in DOWNLOADS[path]}
    return schema


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = describe(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
