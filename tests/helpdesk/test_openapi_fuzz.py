"""The API description is true: schemathesis generates requests for every operation from the app's own
/openapi.json, in process, as anonymous and as the admin, and runs every check it has (server errors,
status codes, content types, headers, response schemas, negative/positive data, Allow on 405, ...).

Bounded: FUZZ_EXAMPLES examples per operation and caller, derandomized so a run is repeatable."""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import FailureGroup

from helpdesk.accounts.models import Role
from helpdesk.app import create_app
from helpdesk.clock import FakeClock
from helpdesk.config import Settings
from tests.helpdesk.factories import PASSWORD, create_tables, make_department, make_item, make_staff, make_unit

FUZZ_EXAMPLES = int(os.environ.get("HELPDESK_FUZZ_EXAMPLES", "6"))
# Schema-valid data may still break a rule no JSON Schema can say (`from` after `to`, a date in the
# past, an id that names nothing): those answer 400 or 422 (unknown_reference), never a 5xx.
CONFIG = SchemathesisConfig.from_dict({"checks": {"positive_data_acceptance": {
    "expected-statuses": ["2xx", "400", "401", "403", "404", "409", "422", "429"]}}})


async def seed(settings: Settings) -> None:
    from helpdesk.db import make_engine, make_session_factory

    await create_tables(settings.database_url)
    engine = make_engine(settings.database_url)
    async with make_session_factory(engine)() as s:
        unit = await make_unit(s, code="FZ")
        dept = await make_department(s)
        await make_item(s, department=dept, units=[unit], code="FZ-1")
        await make_staff(s, unit=unit, role=Role.admin, username="fz.admin")
        await s.commit()
    await engine.dispose()


def login_cookies(client: Any, as_admin: bool) -> dict[str, str]:
    r = client.get("/healthz")
    csrf = r.cookies["hd_csrf"]
    cookies = {"hd_csrf": csrf}
    if as_admin:
        r = client.post("/api/auth/login", json={"username": "fz.admin", "password": PASSWORD},
                        headers={"X-CSRF-Token": csrf}, cookies=cookies)
        assert r.status_code == 200, r.text
        cookies["hd_session"] = r.cookies["hd_session"]
    return cookies


def fuzz(schema: Any, client: Any, as_admin: bool) -> list[str]:
    """Runs every operation; returns one line per distinct failure (operation, check, title)."""
    cookies = login_cookies(client, as_admin)
    headers = {"X-CSRF-Token": cookies["hd_csrf"]}
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def run(case: Any) -> None:
            case.call_and_validate(headers=headers, cookies=cookies, timeout=60)

        try:
            run()
        except FailureGroup as group:
            failures += [f"{operation.label}: {type(f).__name__}: {f.title}: {getattr(f, 'message', '')[:300]}"
                         for f in group.exceptions]
        except AssertionError as exc:  # one failure: schemathesis raises it alone
            failures.append(f"{operation.label}: {type(exc).__name__}: {getattr(exc, 'title', exc)}")
    return failures


@pytest.fixture(autouse=True)
def whoosh_ids_from_the_os(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hypothesis reseeds the global `random` for every example, and Whoosh names index segments with
    it: the same names again would collide in one folder (a test artifact, not a server fault)."""
    import whoosh.codec.base

    monkeypatch.setattr(whoosh.codec.base, "random_name", lambda size=28: secrets.token_hex(size)[:size])


@pytest.mark.parametrize("as_admin", [False, True], ids=["anonymous", "admin"])
def test_the_api_description_holds_under_fuzzing(tmp_path: Path, as_admin: bool) -> None:
    settings_ = Settings(dev_mode=True, database_url=f"sqlite+aiosqlite:///{tmp_path}/fuzz.db",
                         upload_dir=tmp_path / "uploads", kb_index_dir=tmp_path / "kb-index",
                         recordings_dir=tmp_path / "recordings", redis_url=None, rate_limits_enabled=False,
                         upload_max_bytes=64 * 1024)
    asyncio.run(seed(settings_))
    app = create_app(settings_, clock=FakeClock())
    started = time.monotonic()
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=CONFIG)
    from schemathesis.python import asgi

    with asgi.get_client(app) as client:
        failures = fuzz(schema, client, as_admin)
    asgi.shutdown_lifespans()
    print(f"fuzzed {'admin' if as_admin else 'anonymous'} in {time.monotonic() - started:.0f} s")
    counted = Counter(failures)
    assert not counted, "\n".join(f"{n}x {line}" for line, n in counted.most_common())


async def test_the_description_names_the_error_body_and_real_media_types(settings: Settings) -> None:
    spec = create_app(settings).openapi()
    ops = [(path, method, op) for path, item in spec["paths"].items() for method, op in item.items()]
    for path, method, op in ops:
        for code in ("401", "403", "404", "409", "422", "429"):
            assert code in op["responses"], (method, path, code)
        if "multipart/form-data" in op.get("requestBody", {}).get("content", {}):
            assert {"413", "415"} <= set(op["responses"]), (method, path)
    assert set(spec["components"]["schemas"]["ErrorBody"]["required"]) == {"error", "detail", "request_id"}
    assert spec["components"]["schemas"]["ValidationIssue"]["required"] == ["loc", "msg", "type"]
    csv = spec["paths"]["/api/stats/workorders.csv"]["get"]["responses"]["200"]["content"]
    assert list(csv) == ["text/csv"]
    files = spec["paths"]["/api/files/{file_id}"]["get"]["responses"]["200"]["content"]
    assert "application/json" not in files and "image/png" in files and "application/pdf" in files


async def test_a_422_names_each_problem_with_its_type(settings: Settings) -> None:
    from tests.helpdesk.factories import api_client

    async with api_client(settings, FakeClock()) as c:
        r = await c.post("/api/auth/login", json={"username": ""})
        assert r.status_code == 422 and r.json()["error"] == "validation_error"
        types = {tuple(i["loc"]): i["type"] for i in r.json()["detail"]}
        assert types[("body", "password")] == "missing" and types[("body", "username")] == "string_too_short"
