"""Unknown references and constraint violations answer the error family (404/409/422, JSON with the
request id), never a 500: every write route is walked with unknown ids, as admin and as an applicant,
on SQLite and on PostgreSQL (which also refuses ids past the integer range)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from helpdesk.accounts.models import Role
from helpdesk.clock import FakeClock
from helpdesk.config import Settings
from helpdesk.errors import HelpdeskError
from tests.helpdesk.factories import (
    PASSWORD,
    api_app,
    client_for,
    make_department,
    make_item,
    make_staff,
    make_unit,
    make_work_order,
)

UNKNOWN_INT, UNKNOWN_STR = 999_999, "nope"
WRITE = {"post", "put", "patch", "delete"}


@dataclass
class World:
    app: FastAPI
    admin: httpx.AsyncClient
    applicant: httpx.AsyncClient
    known: dict[str, Any]  # path parameter → an id that exists


@pytest.fixture(params=["sqlite", "postgres"])
def db_settings(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    if request.param == "sqlite":
        return settings
    return settings.model_copy(update={"database_url": request.getfixturevalue("pg_url")})


@pytest.fixture
async def world(db_settings: Settings, clock: FakeClock) -> AsyncIterator[World]:
    settings = db_settings
    async with api_app(settings, clock) as app:
        state = app.state.helpdesk
        async with state.sessions() as s:
            unit = await make_unit(s)
            dept = await make_department(s)
            item = await make_item(s, department=dept, units=[unit])
            await make_staff(s, unit=unit, role=Role.admin, username="err.admin")
            wo = await make_work_order(s, unit=unit, item=item)
            await s.commit()
            known = {"work_order_id": wo.id, "item_id": item.id}
        async with client_for(app) as admin, client_for(app, ip="203.0.113.8") as applicant:
            r = await admin.post("/api/auth/login", json={"username": "err.admin", "password": PASSWORD})
            assert r.status_code == 200, r.text
            assert (await applicant.post("/api/help/session", json={})).status_code == 200
            r = await admin.post("/api/kb/articles", json={"title": "指南", "body": "正文", "item_ids": [item.id]})
            assert r.status_code == 201, r.text
            known["article_id"] = r.json()["id"]
            r = await admin.post("/api/kb/replies", json={"title": "问候", "text": "您好"})
            assert r.status_code == 201, r.text
            known["reply_id"] = r.json()["id"]
            known["search_id"] = (await admin.get("/api/kb/search", params={"q": "指南"})).json()["search_id"]
            yield World(app, admin, applicant, known)


def example(schema: dict[str, Any], spec: dict[str, Any], name: str = "") -> Any:
    """A small valid value for a JSON schema, with every reference field set to an unknown id."""
    if "$ref" in schema:
        return example(spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]], spec, name)
    if "anyOf" in schema:
        options = [s for s in schema["anyOf"] if s.get("type") != "null"]
        return example(options[0], spec, name) if options else None
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        keep = set(schema.get("required", [])) | {k for k in props if k.endswith(("_id", "_ids"))}
        return {k: example(v, spec, k) for k, v in props.items() if k in keep}
    if kind == "array":
        return [example(schema.get("items", {}), spec, name)] if name.endswith("_ids") else []
    if kind == "integer":
        return UNKNOWN_INT if name.endswith(("_id", "_ids")) else max(1, schema.get("minimum", 1))
    if kind == "number":
        return 1.0
    if kind == "boolean":
        return False
    if schema.get("format") == "date":
        return "2030-01-01"
    if name.endswith(("_id", "_ids")):
        return UNKNOWN_STR
    return "x" * max(1, schema.get("minLength", 1))


def write_calls(spec: dict[str, Any], known: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """(method, url, json body) for every write route: once with every path id unknown, once with the
    path's objects real and only the body's references unknown."""
    calls = []
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if method not in WRITE:
                continue
            content = op.get("requestBody", {}).get("content", {})
            body = example(content["application/json"]["schema"], spec) if "application/json" in content else None
            for ids in ({}, known):
                url = re.sub(r"\{(\w+)\}", lambda m, ids=ids: str(ids.get(m.group(1), UNKNOWN_INT)), path)
                calls.append((method.upper(), url, body))
    return calls


def assert_family(r: httpx.Response, what: str) -> None:
    assert r.status_code < 500, (what, r.status_code, r.text)
    if r.status_code >= 400:
        body = r.json()
        assert set(body) >= {"error", "detail", "request_id"}, (what, body)
        assert body["request_id"] == r.headers["x-request-id"], what


async def test_every_write_route_answers_unknown_ids_with_the_error_family(world: World) -> None:
    spec = world.app.openapi()
    calls = write_calls(spec, world.known)
    assert len(calls) > 80
    for client in (world.admin, world.applicant):
        for method, url, body in calls:
            r = await client.request(method, url, json=body)
            assert_family(r, f"{method} {url} {body}")


async def test_the_reported_kb_writes_name_the_unknown_reference(world: World) -> None:
    article, reply, search = world.known["article_id"], world.known["reply_id"], world.known["search_id"]
    cases = [
        ("POST", "/api/kb/articles", {"title": "t", "body": "b", "unit_id": UNKNOWN_INT}),
        ("PUT", f"/api/kb/articles/{article}", {"title": "t", "body": "b", "unit_id": UNKNOWN_INT}),
        ("POST", "/api/kb/replies", {"title": "t", "text": "x", "item_id": UNKNOWN_INT}),
        ("POST", "/api/kb/replies", {"title": "t", "text": "x", "unit_id": UNKNOWN_INT}),
        ("PUT", f"/api/kb/replies/{reply}", {"title": "t", "text": "x", "item_id": UNKNOWN_INT}),
        ("POST", f"/api/kb/search/{search}/click", {"article_id": UNKNOWN_STR}),
    ]
    for method, url, body in cases:
        r = await world.admin.request(method, url, json=body)
        assert (r.status_code, r.json()["error"]) == (422, "unknown_reference"), (method, url, r.text)
        assert r.json()["request_id"] == r.headers["x-request-id"]


async def test_ids_past_the_integer_range_are_refused_not_crashed(world: World) -> None:
    for url in ("/api/admin/api-tokens/9223372036854775808", "/api/kb/replies/2147483648"):
        r = await world.admin.delete(url)
        assert r.status_code in (404, 422), (url, r.status_code, r.text)
        assert_family(r, url)


async def test_a_duplicate_is_a_conflict_and_a_wrong_method_names_the_allowed_ones(world: World) -> None:
    r = await world.admin.delete("/api/kb/articles")
    assert r.status_code == 405 and r.json()["error"] == "method_not_allowed"
    assert set(r.headers["allow"].replace(" ", "").split(",")) == {"GET", "POST"}
    from sqlalchemy.exc import IntegrityError

    from helpdesk.errors import integrity_error

    class Orig(Exception):
        sqlstate = "23505"

    mapped = integrity_error(IntegrityError("INSERT INTO x", {}, Orig("duplicate key")))
    assert (mapped.status_code, mapped.code) == (409, "duplicate")


async def test_an_unexpected_error_is_json_with_the_request_id(settings: Settings, clock: FakeClock) -> None:
    async with api_app(settings, clock) as app:
        @app.get("/boom")
        async def boom() -> None:
            raise RuntimeError("a bug")

        @app.get("/family")
        async def family() -> None:
            raise HelpdeskError("said clearly", 418, "teapot")

        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            r = await c.get("/boom", headers={"X-Request-ID": "req-42"})
            assert r.status_code == 500
            assert r.json() == {"error": "internal_error", "request_id": "req-42",
                                "detail": "something went wrong on our side; quote the request id"}
            assert "a bug" not in r.text
            r = await c.get("/family", headers={"X-Request-ID": "req-43"})
            assert r.json() == {"error": "teapot", "detail": "said clearly", "request_id": "req-43"}
