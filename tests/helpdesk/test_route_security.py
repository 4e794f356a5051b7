"""Every route of the whole app (journey, KB, inspection, accountability, stats, metrics) has an access
decision here, and each decision is checked: without a session, as an applicant, as an agent, as a
supervisor. A new route without a decision fails `test_every_route_has_a_decision` with its name.

Decisions (what the route itself enforces, before any per-object scope):
- PUBLIC: no login (listed one by one, each with its reason);
- STAFF: any logged-in staff member; what they see is scoped per object (tests/helpdesk/test_scope_security.py);
- SUPERVISOR / ADMIN: the role, as a dependency (an agent gets 403);
- APPLICANT: the applicant session (a staff member without one gets 401);
- MEMBER: staff or applicant (call files, ICE servers, inspections: the object decides who of them);
- TOKEN: a Bearer API token (a browser session is not enough);
- METRICS: open only when settings.metrics_open (dev mode by default), else a `metrics:read` token.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIWebSocketRoute, iter_route_contexts
from starlette.routing import Mount

from helpdesk.accounts.models import Role
from helpdesk.app import create_app
from helpdesk.clock import FakeClock
from helpdesk.config import Settings
from tests.helpdesk.factories import PASSWORD, api_app, client_for, make_staff, make_unit

PUBLIC, STAFF, SUPERVISOR, ADMIN = "public", "staff", "supervisor", "admin"
APPLICANT, MEMBER, TOKEN, METRICS = "applicant", "member", "token", "metrics"

ROUTES: dict[tuple[str, str], str] = {
    # ---- public, each for a reason -------------------------------------------------------------
    ("GET", "/healthz"): PUBLIC,  # liveness probe, no data
    ("GET", "/readyz"): PUBLIC,  # readiness probe: "ok" or the failing dependency's exception name
    ("GET", "/openapi.json"): PUBLIC,  # the API's shape, no data
    ("GET", "/docs"): PUBLIC,
    ("GET", "/docs/oauth2-redirect"): PUBLIC,
    ("GET", "/redoc"): PUBLIC,
    ("GET", "/help"): PUBLIC,  # the applicant's page (sets the CSRF cookie)
    ("GET", "/static/inspection/inspection.js"): PUBLIC,  # browser code
    ("POST", "/api/auth/login"): PUBLIC,  # starts a staff session (CSRF-checked, throttled)
    ("POST", "/api/auth/logout"): PUBLIC,  # only clears the caller's own cookie
    ("POST", "/api/help/session"): PUBLIC,  # starts an applicant session (CSRF-checked)
    ("GET", "/api/items"): PUBLIC,  # the service item catalogue
    ("GET", "/api/items/{code}"): PUBLIC,
    ("GET", "/api/help/items/{code}"): PUBLIC,  # the help page's item card and published guide
    ("GET", "/api/kb/public/articles/{article_id}"): PUBLIC,  # published articles only
    ("GET", "/api/kb/public/attachments/{attachment_id}"): PUBLIC,  # files of published articles only
    ("GET", "/metrics"): METRICS,
    # ---- accounts ------------------------------------------------------------------------------
    ("GET", "/api/auth/me"): STAFF,
    ("GET", "/api/auth/session"): PUBLIC,  # who is logged in, or null (no 401 noise on a first visit)
    ("POST", "/api/auth/password"): STAFF,
    # ---- administration: admins, or supervisors marked unit admin within their subtree -----------
    # (the per-unit scope of each: tests/helpdesk/admin/test_admin_scope.py)
    ("GET", "/api/admin/me"): ADMIN,
    ("GET", "/api/admin/units"): ADMIN,
    ("POST", "/api/admin/units"): ADMIN,
    ("PATCH", "/api/admin/units/{unit_id}"): ADMIN,
    ("POST", "/api/admin/units/{unit_id}/move"): ADMIN,
    ("POST", "/api/admin/units/{unit_id}/disable"): ADMIN,
    ("POST", "/api/admin/units/{unit_id}/enable"): ADMIN,
    ("GET", "/api/admin/departments"): ADMIN,
    ("PUT", "/api/admin/departments"): ADMIN,
    ("GET", "/api/admin/items"): ADMIN,
    ("PUT", "/api/admin/items"): ADMIN,
    ("GET", "/api/admin/staff"): ADMIN,
    ("POST", "/api/admin/staff"): ADMIN,
    ("PATCH", "/api/admin/staff/{staff_id}"): ADMIN,
    ("POST", "/api/admin/staff/{staff_id}/reset-password"): ADMIN,
    ("GET", "/api/admin/directory"): STAFF,  # the transfer dialog's colleagues: names and units only
    ("GET", "/api/admin/holidays/{year}"): ADMIN,
    ("POST", "/api/admin/holidays/{year}/load"): ADMIN,
    ("PUT", "/api/admin/closures"): ADMIN,
    ("DELETE", "/api/admin/closures/{holiday_id}"): ADMIN,
    ("GET", "/api/admin/api-tokens"): ADMIN,
    ("POST", "/api/admin/api-tokens"): ADMIN,
    ("DELETE", "/api/admin/api-tokens/{token_id}"): ADMIN,
    ("POST", "/api/admin/imports/{kind}"): ADMIN,
    ("GET", "/api/admin/imports/progress/{job}"): ADMIN,
    ("GET", "/api/admin/exports/{kind}.{fmt}"): ADMIN,
    ("GET", "/api/integrations/whoami"): TOKEN,
    ("GET", "/api/admin/applicants/{applicant_id}/export"): ADMIN,  # personal data: the admin only, audited
    ("POST", "/api/admin/applicants/{applicant_id}/erase"): ADMIN,
    # Integration API (scopes per route: tests/helpdesk/integration/test_api.py) and its admin side
    ("POST", "/api/v1/work-orders"): TOKEN,
    ("GET", "/api/v1/work-orders"): TOKEN,
    ("GET", "/api/v1/work-orders/{ref}"): TOKEN,
    ("POST", "/api/v1/work-orders/{ref}/notes"): TOKEN,
    ("POST", "/api/v1/work-orders/{ref}/outcome"): TOKEN,
    ("GET", "/api/v1/units"): TOKEN,
    ("GET", "/api/v1/items"): TOKEN,
    ("GET", "/api/v1/units/{code}/hours"): TOKEN,
    ("GET", "/api/v1/packages"): TOKEN,
    ("POST", "/api/v1/handoff-links"): TOKEN,
    ("GET", "/api/admin/webhooks"): ADMIN,
    ("POST", "/api/admin/webhooks"): ADMIN,
    ("DELETE", "/api/admin/webhooks/{sub_id}"): ADMIN,
    ("GET", "/api/admin/webhook-deliveries"): ADMIN,
    ("POST", "/api/admin/webhook-deliveries/{delivery_id}/replay"): ADMIN,
    ("GET", "/api/admin/messages"): ADMIN,
    ("GET", "/api/admin/message-templates"): ADMIN,
    ("PUT", "/api/admin/message-templates/{key}/{language}"): ADMIN,
    ("GET", "/api/admin/packages"): ADMIN,
    ("PUT", "/api/admin/packages/{code}"): ADMIN,
    ("GET", "/api/help/packages/{code}"): PUBLIC,
    ("POST", "/api/help/phone-codes"): APPLICANT,
    ("GET", "/api/org/units"): STAFF,
    # ---- work orders and the journey -----------------------------------------------------------
    ("GET", "/api/workorders"): STAFF,
    ("GET", "/api/workorders/{work_order_id}"): STAFF,
    ("POST", "/api/workorders/{work_order_id}/wrapup"): STAFF,
    ("POST", "/api/help/requests"): APPLICANT,
    ("POST", "/api/help/requests/{work_order_id}/leave"): APPLICANT,
    ("POST", "/api/help/callbacks"): APPLICANT,
    ("POST", "/api/help/requests/{work_order_id}/rating"): APPLICANT,
    ("GET", "/api/ice-servers"): MEMBER,
    ("POST", "/api/calls/{work_order_id}/files"): MEMBER,
    ("GET", "/api/calls/{work_order_id}/history"): MEMBER,
    ("GET", "/api/files/{file_id}"): MEMBER,
    ("WS", "/ws"): MEMBER,  # cookie + origin at the handshake: tests/journey/test_journey_api.py
    ("POST", "/api/calls/{work_order_id}/transfer"): STAFF,
    ("POST", "/api/calls/{work_order_id}/transfer/cancel"): STAFF,
    ("POST", "/api/calls/{work_order_id}/participants"): STAFF,  # in the call (tests/journey/test_party.py)
    ("POST", "/api/calls/{work_order_id}/leave"): STAFF,
    ("POST", "/api/calls/{work_order_id}/monitor"): SUPERVISOR,  # and the call in their subtree
    ("DELETE", "/api/calls/{work_order_id}/monitor"): SUPERVISOR,
    ("POST", "/api/calls/{work_order_id}/monitor/join"): SUPERVISOR,
    # ---- accountability ------------------------------------------------------------------------
    ("POST", "/api/workorders/{work_order_id}/claim"): STAFF,
    ("POST", "/api/workorders/{work_order_id}/notes"): STAFF,
    ("POST", "/api/workorders/{work_order_id}/call-back"): STAFF,
    ("POST", "/api/workorders/{work_order_id}/attachments"): STAFF,
    ("POST", "/api/workorders/{work_order_id}/resolve"): STAFF,
    ("POST", "/api/workorders/{work_order_id}/reassign"): SUPERVISOR,
    ("GET", "/api/followups/report"): STAFF,  # scoped: an agent sees their own breaches
    ("GET", "/api/followups/report.csv"): STAFF,
    ("GET", "/api/followups/policies"): SUPERVISOR,
    ("PUT", "/api/followups/policies"): SUPERVISOR,
    ("DELETE", "/api/followups/policies/{policy_id}"): SUPERVISOR,
    ("GET", "/api/notifications"): STAFF,
    ("POST", "/api/notifications/{notification_id}/read"): STAFF,
    ("POST", "/api/notifications/read-all"): STAFF,
    # ---- stats (scoped in SQL: an agent's figures are their own calls) ---------------------------
    ("GET", "/api/stats/figures"): STAFF,
    ("GET", "/api/stats/figures.csv"): STAFF,
    ("GET", "/api/stats/workorders.csv"): STAFF,
    ("GET", "/api/stats/unresolved"): STAFF,
    # ---- knowledge base (per-article rights: reviewers, editors, authors) -------------------------
    ("GET", "/api/kb/search"): STAFF,
    ("POST", "/api/kb/search/{search_id}/click"): STAFF,
    ("POST", "/api/kb/search/{search_id}/report"): STAFF,  # the caller's own search only
    ("GET", "/api/kb/vocabulary"): STAFF,
    ("POST", "/api/kb/vocabulary"): STAFF,  # KB editors, supervisors, admins (checked in the KB)
    ("PUT", "/api/kb/vocabulary/{entry_id}"): STAFF,
    ("DELETE", "/api/kb/vocabulary/{entry_id}"): STAFF,
    ("GET", "/api/kb/articles"): STAFF,
    ("POST", "/api/kb/articles"): STAFF,
    ("GET", "/api/kb/articles/{article_id}"): STAFF,
    ("PUT", "/api/kb/articles/{article_id}"): STAFF,
    ("POST", "/api/kb/articles/{article_id}/submit"): STAFF,
    ("POST", "/api/kb/articles/{article_id}/publish"): STAFF,
    ("POST", "/api/kb/articles/{article_id}/reject"): STAFF,
    ("POST", "/api/kb/articles/{article_id}/archive"): STAFF,
    ("POST", "/api/kb/articles/{article_id}/restore"): STAFF,
    ("GET", "/api/kb/articles/{article_id}/versions"): STAFF,
    ("GET", "/api/kb/articles/{article_id}/versions/{version}"): STAFF,
    ("POST", "/api/kb/articles/{article_id}/feedback"): STAFF,
    ("POST", "/api/kb/preview"): STAFF,
    ("GET", "/api/kb/me"): STAFF,
    ("POST", "/api/kb/suggest"): STAFF,
    ("POST", "/api/kb/calls/{work_order_id}/send"): STAFF,  # only the agent in that call
    ("GET", "/api/kb/replies"): STAFF,
    ("POST", "/api/kb/replies"): STAFF,  # supervisors of the unit (checked in the KB)
    ("PUT", "/api/kb/replies/{reply_id}"): STAFF,
    ("DELETE", "/api/kb/replies/{reply_id}"): STAFF,
    ("GET", "/api/kb/upkeep"): STAFF,
    ("POST", "/api/kb/drafts/from-work-order"): STAFF,
    ("POST", "/api/kb/articles/{article_id}/attachments"): STAFF,
    ("DELETE", "/api/kb/attachments/{attachment_id}"): STAFF,
    ("GET", "/api/kb/attachments/{attachment_id}"): STAFF,
    # ---- remote inspection ---------------------------------------------------------------------
    ("GET", "/api/inspections/checklists/{item_id}"): STAFF,
    ("PUT", "/api/inspections/checklists/{item_id}"): SUPERVISOR,
    ("GET", "/api/inspections/checklist-versions/{checklist_id}"): STAFF,
    ("GET", "/api/inspections/figures"): SUPERVISOR,  # limited to the supervisor's subtree
    ("GET", "/api/inspections"): MEMBER,
    ("POST", "/api/inspections"): STAFF,
    ("GET", "/api/inspections/{inspection_id}"): MEMBER,
    ("POST", "/api/inspections/{inspection_id}/consent"): APPLICANT,
    ("POST", "/api/inspections/{inspection_id}/location"): APPLICANT,
    ("POST", "/api/inspections/{inspection_id}/step"): STAFF,
    ("POST", "/api/inspections/{inspection_id}/points/{key}/mark"): STAFF,
    ("POST", "/api/inspections/{inspection_id}/points/{key}/snapshot"): STAFF,
    ("GET", "/api/inspections/{inspection_id}/snapshots/{snapshot_id}"): MEMBER,
    ("POST", "/api/inspections/{inspection_id}/end"): STAFF,
    ("POST", "/api/inspections/{inspection_id}/cancel"): STAFF,
    ("GET", "/api/inspections/{inspection_id}/report.{fmt}"): MEMBER,
}
# Static files: browser code and styles, no data.
MOUNTS = {"/static/help", "/static/i18n", "/static/signaling", "/static/kb", "/static/inspection", "/console"}
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
REFUSED = {401, 403}


def app_routes(app: FastAPI) -> tuple[set[tuple[str, str]], set[str]]:
    """(method, path) of every route, included routers flattened; and the mount prefixes."""
    routes: set[tuple[str, str]] = set()
    mounts: set[str] = set()
    for ctx in iter_route_contexts(app.routes):
        original = ctx.original_route
        if isinstance(original, Mount):
            mounts.add(original.path)
        elif isinstance(original, APIWebSocketRoute):
            routes.add(("WS", str(ctx.path)))
        else:
            routes.update((m, str(ctx.path)) for m in ctx.methods or () if m != "HEAD")
    return routes, mounts


def test_every_route_has_a_decision(settings: Settings) -> None:
    routes, mounts = app_routes(create_app(settings))
    undecided = sorted(routes - ROUTES.keys())
    assert not undecided, (
        "routes without an access decision in tests/helpdesk/test_route_security.py ROUTES "
        "(add each with PUBLIC and a reason, or the role it requires):\n  "
        + "\n  ".join(f"{m} {p}" for m, p in undecided))
    gone = sorted(ROUTES.keys() - routes)
    assert not gone, "ROUTES names routes the app no longer has:\n  " + "\n  ".join(f"{m} {p}" for m, p in gone)
    assert mounts == MOUNTS, f"static mounts changed: {sorted(mounts ^ MOUNTS)} (static files only, no data)"


def concrete(path: str) -> str:
    """A path with made-up ids: the checks must answer before any lookup."""
    values = {"fmt": "pdf", "code": "NO-SUCH-ITEM"}
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: values.get(m.group(1), "1"), path)


def http_routes(*policies: str) -> list[tuple[str, str]]:
    return sorted(k for k, v in ROUTES.items() if v in policies and k[0] != "WS")


@dataclass
class Callers:
    app: FastAPI
    anon: httpx.AsyncClient
    applicant: httpx.AsyncClient
    agent: httpx.AsyncClient
    supervisor: httpx.AsyncClient


@pytest.fixture
async def callers(settings: Settings, clock: FakeClock) -> AsyncIterator[Callers]:
    async with api_app(settings, clock) as app:
        state = app.state.helpdesk
        async with state.sessions() as s:
            city = await make_unit(s, name="保定市")
            county = await make_unit(s, parent=city, name="莲池区")
            await make_staff(s, unit=county, username="rs.agent")
            await make_staff(s, unit=county, role=Role.supervisor, username="rs.super")
            await s.commit()
        async with (client_for(app) as anon, client_for(app) as applicant, client_for(app) as agent,
                    client_for(app) as supervisor):
            assert (await applicant.post("/api/help/session", json={"name": "张三"})).status_code == 200
            for client, username in ((agent, "rs.agent"), (supervisor, "rs.super")):
                r = await client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
                assert r.status_code == 200, r.text
            yield Callers(app, anon, applicant, agent, supervisor)


async def call(client: httpx.AsyncClient, method: str, path: str, **kw: Any) -> httpx.Response:
    body = {"json": {}} if method in UNSAFE else {}
    return await client.request(method, concrete(path), **body, **kw)


async def refusals(client: httpx.AsyncClient, routes: list[tuple[str, str]], expected: set[int]) -> list[str]:
    wrong = []
    for method, path in routes:
        r = await call(client, method, path)
        if r.status_code not in expected:
            wrong.append(f"{method} {path} → {r.status_code} {r.text[:120]}")
    return wrong


async def test_without_a_session_every_non_public_route_refuses(callers: Callers) -> None:
    wrong = await refusals(callers.anon, http_routes(STAFF, SUPERVISOR, ADMIN, APPLICANT, MEMBER, TOKEN), REFUSED)
    assert not wrong, "answered a caller without a session:\n  " + "\n  ".join(wrong)


async def test_public_routes_answer_without_a_session(callers: Callers) -> None:
    for method, path in http_routes(PUBLIC):
        r = await call(callers.anon, method, path)
        assert r.status_code < 500 and r.status_code not in REFUSED, f"{method} {path} → {r.status_code}"


async def test_applicants_reach_no_staff_route(callers: Callers) -> None:
    wrong = await refusals(callers.applicant, http_routes(STAFF, SUPERVISOR, ADMIN, TOKEN), REFUSED)
    assert not wrong, "answered an applicant:\n  " + "\n  ".join(wrong)


async def test_staff_without_an_applicant_session_reach_no_applicant_route(callers: Callers) -> None:
    wrong = await refusals(callers.agent, http_routes(APPLICANT, TOKEN), REFUSED)
    assert not wrong, "answered an agent:\n  " + "\n  ".join(wrong)


async def test_agents_reach_no_supervisor_or_admin_route(callers: Callers) -> None:
    wrong = await refusals(callers.agent, http_routes(SUPERVISOR, ADMIN), {403})
    assert not wrong, "answered an agent:\n  " + "\n  ".join(wrong)


async def test_supervisors_reach_no_admin_route(callers: Callers) -> None:
    wrong = await refusals(callers.supervisor, http_routes(ADMIN), {403})
    assert not wrong, "answered a supervisor:\n  " + "\n  ".join(wrong)


async def test_unsafe_methods_need_the_csrf_header(callers: Callers) -> None:
    """Every unsafe route, public ones included (login CSRF), refuses a request without the header,
    whoever sends it; only the Bearer-token integration routes are exempt (and have none)."""
    unsafe = sorted(k for k in ROUTES if k[0] in UNSAFE and ROUTES[k] != TOKEN)
    for client in (callers.anon, callers.applicant, callers.agent):
        token = client.headers.pop("X-CSRF-Token")
        try:
            for method, path in unsafe:
                r = await call(client, method, path)
                assert (r.status_code, r.json()["error"]) == (403, "csrf_failed"), f"{method} {path}"
        finally:
            client.headers["X-CSRF-Token"] = token


async def test_metrics_are_open_in_dev_mode_only(settings: Settings, clock: FakeClock) -> None:
    """Decision: /metrics is left to the network in dev (the nginx config denies it from outside);
    elsewhere Prometheus sends an API token with the scope `metrics:read`."""
    assert settings.metrics_open
    closed = settings.model_copy(update={"metrics_public": False})
    assert not Settings(dev_mode=False, secret_key="s" * 32, handoff_secret="h" * 32).metrics_open
    async with api_app(closed, clock) as app:
        async with app.state.helpdesk.sessions() as s:
            from helpdesk.accounts.tokens import create_api_token

            city = await make_unit(s)
            _, scraper = await create_api_token(s, name="prometheus", scopes=["metrics:read"], unit_id=city.id,
                                                expires_at=None, now=clock.now(), created_by=None)
            _, other = await create_api_token(s, name="crm", scopes=["workorders:read"], unit_id=city.id,
                                              expires_at=None, now=clock.now(), created_by=None)
            await s.commit()
        async with client_for(app) as c:
            assert (await c.get("/metrics")).status_code == 401
            assert (await c.get("/metrics", headers={"Authorization": "Bearer hdk_nope"})).status_code == 401
            r = await c.get("/metrics", headers={"Authorization": f"Bearer {other}"})
            assert (r.status_code, r.json()["error"]) == (403, "missing_scope")
            r = await c.get("/metrics", headers={"Authorization": f"Bearer {scraper}"})
            assert r.status_code == 200 and "helpdesk_http_requests" in r.text
