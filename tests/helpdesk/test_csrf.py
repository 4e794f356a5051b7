"""CSRF: cookie-authenticated state changes must echo the hd_csrf cookie in X-CSRF-Token."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk.accounts.models import Staff
from tests.helpdesk.factories import PASSWORD, api_app, client_for, make_staff, make_unit


@pytest.fixture
async def agent(session: AsyncSession) -> Staff:
    staff = await make_staff(session, unit=await make_unit(session), username="wang.fang")
    await session.commit()
    return staff


LOGIN = {"username": "wang.fang", "password": PASSWORD}


async def test_first_response_sets_a_strict_csrf_cookie(settings, clock) -> None:
    async with api_app(settings, clock) as app:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as raw:
            r = await raw.get("/healthz")
            cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith("hd_csrf="))
            assert "samesite=strict" in cookie.lower()
            again = await raw.get("/healthz")  # a valid cookie is not replaced
            assert not any(h.startswith("hd_csrf=") for h in again.headers.get_list("set-cookie"))


@pytest.mark.parametrize("header", [None, "wrong-token", "forged.0123456789abcdef0123456789abcdef"])
async def test_login_without_the_right_header_is_refused(settings, clock, agent, header) -> None:
    async with api_app(settings, clock) as app, client_for(app) as client:
        del client.headers["X-CSRF-Token"]
        headers = {"X-CSRF-Token": header} if header else {}
        r = await client.post("/api/auth/login", json=LOGIN, headers=headers)
        assert r.status_code == 403 and r.json()["error"] == "csrf_failed"
        assert "hd_session" not in client.cookies


async def test_login_with_the_right_header_passes(settings, clock, agent) -> None:
    async with api_app(settings, clock) as app, client_for(app) as client:
        assert (await client.post("/api/auth/login", json=LOGIN)).status_code == 200


async def test_a_header_equal_to_a_forged_cookie_is_refused(settings, clock, agent) -> None:
    """Double submit alone is not enough: the cookie must carry our signature."""
    async with api_app(settings, clock) as app, client_for(app) as client:
        client.cookies.set("hd_csrf", "attacker.chosen")
        r = await client.post("/api/auth/login", json=LOGIN, headers={"X-CSRF-Token": "attacker.chosen"})
        assert r.status_code == 403


async def test_logged_in_state_changes_need_the_header(settings, clock, agent) -> None:
    async with api_app(settings, clock) as app, client_for(app) as client:
        await client.post("/api/auth/login", json=LOGIN)
        token = client.headers.pop("X-CSRF-Token")
        assert (await client.post("/api/auth/logout")).status_code == 403
        assert (await client.post("/api/auth/logout", headers={"X-CSRF-Token": "nope"})).status_code == 403
        assert (await client.get("/api/auth/me")).status_code == 200  # safe methods need nothing
        assert (await client.post("/api/auth/logout", headers={"X-CSRF-Token": token})).status_code == 204


async def test_applicant_state_changes_need_the_header(settings, clock) -> None:
    async with api_app(settings, clock) as app, client_for(app) as client:
        assert (await client.post("/api/help/session", json={"name": "李四"})).status_code == 200
        token = client.headers.pop("X-CSRF-Token")
        assert (await client.post("/api/help/session", json={})).status_code == 403
        ok = await client.post("/api/help/session", json={}, headers={"X-CSRF-Token": token})
        assert ok.status_code == 200


async def test_bearer_integration_routes_are_exempt(settings, clock) -> None:
    async with api_app(settings, clock) as app, client_for(app) as client:
        del client.headers["X-CSRF-Token"]
        client.cookies.set("hd_session", "stale")  # elsewhere this would demand the header
        assert (await client.post("/api/auth/logout")).status_code == 403
        r = await client.post("/api/integrations/whoami", headers={"Authorization": "Bearer hdk_x"})
        assert r.status_code == 405  # reached the router: not stopped by CSRF


async def test_starting_an_applicant_session_needs_the_header_too(settings, clock) -> None:
    """Login CSRF: a cross-site form must not start a session of the attacker's choosing (e.g. with
    the attacker's hand-off token) in the victim's browser. No cookie at all is no exemption."""
    async with api_app(settings, clock) as app:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as raw:
            r = await raw.post("/api/help/session", json={"name": "李四"})
            assert (r.status_code, r.json()["error"]) == (403, "csrf_failed")
            assert "hd_applicant" not in raw.cookies
            await raw.get("/help")  # the page the form lives on hands out the cookie
            token = raw.cookies["hd_csrf"]
            r = await raw.post("/api/help/session", json={"name": "李四"}, headers={"X-CSRF-Token": token})
            assert r.status_code == 200 and "hd_applicant" in raw.cookies
