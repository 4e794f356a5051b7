"""Integration API tokens: shown once, hashed at rest, scoped, revocable, expiring."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk.accounts.models import ApiToken, Role, Staff
from helpdesk.accounts.tokens import create_api_token, require_scope
from helpdesk.clock import FakeClock
from helpdesk.errors import BadRequest
from helpdesk.security import token_sha256
from tests.helpdesk.factories import PASSWORD, api_app, client_for, make_staff, make_unit


@pytest.fixture
async def staff(session: AsyncSession) -> dict[str, Staff]:
    unit = await make_unit(session)
    out = {"admin": await make_staff(session, unit=unit, role=Role.admin, username="admin"),
           "agent": await make_staff(session, unit=unit, role=Role.agent, username="agent")}
    await session.commit()
    return out


def add_probe(app: FastAPI) -> None:
    """A route guarded the way real integration routes are."""

    @app.get("/api/integrations/probe")
    async def probe(token: Annotated[ApiToken, require_scope("workorders:read")]) -> dict[str, str]:
        return {"name": token.name}


async def test_admin_creates_a_token_shown_once_and_stored_hashed(settings, clock: FakeClock, session,
                                                                  staff) -> None:
    async with api_app(settings, clock) as app, client_for(app) as admin:
        add_probe(app)
        await admin.post("/api/auth/login", json={"username": "admin", "password": PASSWORD})
        body = {"name": "审批系统", "scopes": ["workorders:read"]}
        r = await admin.post("/api/admin/api-tokens", json=body)
        assert r.status_code == 201, r.text
        created = r.json()
        plain = created["token"]
        assert plain.startswith("hdk_") and len(plain) > 40 and created["prefix"] == plain[:12]
        listed = (await admin.get("/api/admin/api-tokens")).json()
        assert [t["name"] for t in listed] == ["审批系统"] and "token" not in listed[0]

        async with client_for(app, ip="192.0.2.50") as integrator:
            bearer = {"Authorization": f"Bearer {plain}"}
            who = await integrator.get("/api/integrations/whoami", headers=bearer)
            assert who.status_code == 200 and who.json()["scopes"] == ["workorders:read"]
            probe = await integrator.get("/api/integrations/probe", headers=bearer)
            assert probe.json() == {"name": "审批系统"}

    row = await session.scalar(select(ApiToken))
    assert row is not None and row.token_hash == token_sha256(plain)
    assert plain not in {row.token_hash, row.prefix, row.name} and row.last_used_at == clock.now()


async def test_wrong_scope_is_403_and_bad_tokens_are_401(settings, clock: FakeClock, session, staff) -> None:
    _, reader = await create_api_token(session, name="stats", scopes=["stats:read"], unit_id=None,
                                       expires_at=None, now=clock.now())
    _, short = await create_api_token(session, name="short", scopes=["workorders:read"], unit_id=None,
                                      expires_at=clock.now() + timedelta(hours=1), now=clock.now())
    await session.commit()
    async with api_app(settings, clock) as app, client_for(app) as client:
        add_probe(app)

        async def probe(value: str | None) -> tuple[int, str]:
            headers = {"Authorization": value} if value else {}
            r = await client.get("/api/integrations/probe", headers=headers)
            return r.status_code, r.json().get("error", "")

        assert await probe(f"Bearer {reader}") == (403, "missing_scope")
        assert await probe(f"Bearer {short}") == (200, "")
        assert await probe(None) == (401, "invalid_token")
        assert await probe("Bearer hdk_unknown") == (401, "invalid_token")
        assert await probe(f"Basic {short}") == (401, "invalid_token")
        clock.advance(3600)
        assert await probe(f"Bearer {short}") == (401, "invalid_token")  # expired


async def test_a_revoked_token_is_401(settings, clock, session, staff) -> None:
    async with api_app(settings, clock) as app, client_for(app) as admin:
        await admin.post("/api/auth/login", json={"username": "admin", "password": PASSWORD})
        body = {"name": "x", "scopes": ["items:read"]}
        created = (await admin.post("/api/admin/api-tokens", json=body)).json()
        bearer = {"Authorization": f"Bearer {created['token']}"}
        assert (await admin.get("/api/integrations/whoami", headers=bearer)).status_code == 200
        revoked = await admin.delete(f"/api/admin/api-tokens/{created['id']}")
        assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
        assert (await admin.get("/api/integrations/whoami", headers=bearer)).status_code == 401
        assert (await admin.delete("/api/admin/api-tokens/9999")).status_code == 404


async def test_only_admins_manage_tokens(settings, clock, staff) -> None:
    async with api_app(settings, clock) as app, client_for(app) as client:
        body = {"name": "x", "scopes": ["workorders:read"]}
        assert (await client.post("/api/admin/api-tokens", json=body)).status_code == 401
        await client.post("/api/auth/login", json={"username": "agent", "password": PASSWORD})
        assert (await client.post("/api/admin/api-tokens", json=body)).status_code == 403
        assert (await client.get("/api/admin/api-tokens")).status_code == 403


async def test_token_input_is_validated(settings, clock: FakeClock, session, staff) -> None:
    with pytest.raises(BadRequest):
        await create_api_token(session, name="x", scopes=["everything"], unit_id=None, expires_at=None,
                               now=clock.now())
    with pytest.raises(BadRequest):
        await create_api_token(session, name="x", scopes=["a:read"], unit_id=None,
                               expires_at=clock.now() - timedelta(seconds=1), now=clock.now())
    async with api_app(settings, clock) as app, client_for(app) as admin:
        await admin.post("/api/auth/login", json={"username": "admin", "password": PASSWORD})
        naive = {"name": "x", "scopes": ["a:read"], "expires_at": "2027-01-01T00:00:00"}
        assert (await admin.post("/api/admin/api-tokens", json=naive)).status_code == 400
        aware = naive | {"expires_at": "2027-01-01T08:00:00+08:00"}
        r = await admin.post("/api/admin/api-tokens", json=aware)
        assert r.status_code == 201 and r.json()["expires_at"].startswith("2027-01-01T00:00:00")
