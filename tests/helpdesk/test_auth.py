"""Console login: cookie, profile, logout, password change, DB-backed throttling."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk.accounts.models import LoginFailure, Role, Staff
from helpdesk.accounts.service import Skill, change_password, create_staff, lockout_seconds
from helpdesk.clock import FakeClock
from helpdesk.config import Settings
from helpdesk.errors import BadRequest, Conflict, NotFound
from tests.helpdesk.factories import (
    PASSWORD,
    api_app,
    api_client,
    client_for,
    make_item,
    make_staff,
    make_unit,
)


@pytest.fixture
async def agent(session: AsyncSession) -> Staff:
    unit = await make_unit(session, name="莲池区政务服务中心")
    item = await make_item(session, units=[unit])
    staff = await make_staff(session, unit=unit, username="zhang.wei", display_name="张伟",
                             capacity=2, skills=[Skill(item_id=item.id)])
    await session.commit()
    return staff


def _login(username: str = "zhang.wei", password: str = PASSWORD) -> dict[str, str]:
    return {"username": username, "password": password}


async def test_login_sets_a_hardened_cookie_and_me_returns_the_profile(settings, clock, agent) -> None:
    async with api_client(settings, clock) as client:
        r = await client.post("/api/auth/login", json=_login("Zhang.Wei"))
        assert r.status_code == 200, r.text
        assert r.json()["staff"]["username"] == "zhang.wei"
        cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith("hd_session="))
        attrs = cookie.lower()
        assert "httponly" in attrs and "samesite=lax" in attrs and "path=/" in attrs
        assert f"max-age={settings.session_max_age_s}" in attrs
        assert "secure" not in attrs.replace("hd_session", "")  # http demo: not Secure
        me = (await client.get("/api/auth/me")).json()
        assert me["display_name"] == "张伟" and me["role"] == "agent" and me["capacity"] == 2
        assert me["unit"]["name"] == "莲池区政务服务中心" and me["unit"]["level"] == "city"
        [skill] = me["skills"]
        assert isinstance(skill["item_id"], int) and skill["department_id"] is None


async def test_cookie_is_secure_when_configured(settings, clock, agent) -> None:
    secure = Settings(**settings.model_dump() | {"cookie_secure": True})
    async with api_client(secure, clock, base_url="https://testserver") as client:
        r = await client.post("/api/auth/login", json=_login())
        cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith("hd_session="))
        assert "; secure" in cookie.lower()


async def test_wrong_password_and_unknown_user_get_the_same_401(settings, clock, agent) -> None:
    async with api_client(settings, clock) as client:
        wrong = await client.post("/api/auth/login", json=_login(password="wrong password"))
        unknown = await client.post("/api/auth/login", json=_login(username="nobody"))
        assert wrong.status_code == unknown.status_code == 401
        same = [{k: v for k, v in r.json().items() if k != "request_id"} for r in (wrong, unknown)]
        assert same[0] == same[1] == {"error": "bad_credentials", "detail": "wrong username or password"}
        assert "hd_session" not in client.cookies
        assert (await client.get("/api/auth/me")).status_code == 401


async def test_logout_ends_the_session(settings, clock, agent) -> None:
    async with api_client(settings, clock) as client:
        await client.post("/api/auth/login", json=_login())
        assert (await client.post("/api/auth/logout")).status_code == 204
        assert (await client.get("/api/auth/me")).json()["error"] == "login_required"


async def test_password_change_ends_other_sessions(settings, clock, agent) -> None:
    async with api_app(settings, clock) as app, client_for(app) as a, client_for(app) as b:
        await a.post("/api/auth/login", json=_login())
        await b.post("/api/auth/login", json=_login())
        r = await a.post("/api/auth/password", json={"current_password": PASSWORD,
                                                     "new_password": "a brand new secret"})
        assert r.status_code == 204
        assert (await a.get("/api/auth/me")).status_code == 200  # re-issued cookie
        assert (await b.get("/api/auth/me")).status_code == 401  # signed with the old hash
        bad = await a.post("/api/auth/password", json={"current_password": "nope",
                                                       "new_password": "another secret 1"})
        assert bad.json()["error"] == "wrong_password"


async def test_repeated_failures_lock_out_even_the_right_password(settings, clock: FakeClock, agent,
                                                                  session, caplog) -> None:
    caplog.set_level(logging.WARNING)
    async with api_client(settings, clock) as client:
        for _ in range(settings.login_free_failures):
            r = await client.post("/api/auth/login", json=_login(password="guess-123"))
            assert r.status_code == 401
        locked = await client.post("/api/auth/login", json=_login())
        assert locked.status_code == 429 and locked.headers["Retry-After"] == "1"
        assert locked.json()["error"] == "too_many_requests"
        clock.advance(1)
        assert (await client.post("/api/auth/login", json=_login(password="guess-456"))).status_code == 401
        assert (await client.post("/api/auth/login", json=_login())).headers["Retry-After"] == "2"
        clock.advance(2)
        ok = await client.post("/api/auth/login", json=_login())
        assert ok.status_code == 200
    left = await session.scalar(select(func.count()).select_from(LoginFailure)
                                .where(LoginFailure.username == "zhang.wei"))
    assert left == 0  # success cleared the username's failures
    text = caplog.text
    assert "login failed" in text and "login locked out" in text and "zhang.wei" in text
    assert "guess-123" not in text and PASSWORD not in text


async def test_lockout_holds_across_ips_and_processes(settings, clock: FakeClock, agent) -> None:
    """The counts live in the database: another app instance and another IP see them."""
    async with api_client(settings, clock, ip="198.51.100.1") as first:
        for _ in range(settings.login_free_failures):
            await first.post("/api/auth/login", json=_login(password="guess-123"))
    async with api_client(settings, clock, ip="198.51.100.2") as second:
        assert (await second.post("/api/auth/login", json=_login())).status_code == 429


async def test_one_ip_guessing_many_usernames_is_slowed(settings, clock: FakeClock, agent) -> None:
    async with api_app(settings, clock) as app:
        async with client_for(app, ip="198.51.100.9") as attacker:
            for n in range(settings.login_free_failures):
                await attacker.post("/api/auth/login", json=_login(username=f"guess{n}"))
            assert (await attacker.post("/api/auth/login", json=_login())).status_code == 429
        async with client_for(app, ip="198.51.100.10") as colleague:
            assert (await colleague.post("/api/auth/login", json=_login())).status_code == 200


def test_lockout_schedule_doubles_and_is_capped() -> None:
    assert [lockout_seconds(n, 5, 900) for n in range(4, 10)] == [0, 1, 2, 4, 8, 16]
    assert lockout_seconds(40, 5, 900) == 900
    assert lockout_seconds(10_000, 5, 900) == 900


async def test_create_staff_refuses_duplicates_short_passwords_and_unknown_units(session, agent) -> None:
    with pytest.raises(Conflict):
        await create_staff(session, username="ZHANG.WEI", password=PASSWORD, display_name="x",
                           role=Role.agent, unit_id=agent.unit_id)
    with pytest.raises(BadRequest):
        await create_staff(session, username="li.na", password="short", display_name="李娜",
                           role="agent", unit_id=agent.unit_id)
    with pytest.raises(NotFound):
        await create_staff(session, username="li.na", password=PASSWORD, display_name="李娜",
                           role="agent", unit_id=999_999)
    with pytest.raises(ValueError, match="exactly one"):
        Skill()


async def test_change_password_checks_the_current_one(session, agent) -> None:
    old_hash = agent.password_hash
    with pytest.raises(Exception, match="current password"):
        await change_password(session, staff=agent, new_password="new secret 42", current_password="x")
    await change_password(session, staff=agent, new_password="new secret 42")
    assert agent.password_hash != old_hash and agent.password_hash.startswith("$argon2")


async def test_inactive_staff_cannot_log_in(settings, clock, agent, session) -> None:
    staff = await session.get(Staff, agent.id)
    assert staff is not None
    staff.is_active = False
    await session.commit()
    async with api_client(settings, clock) as client:
        assert (await client.post("/api/auth/login", json=_login())).status_code == 401
