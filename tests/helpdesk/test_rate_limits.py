"""Floods from the open internet are held: call-backs, logins, new sessions and any anonymous request
answer 429 with Retry-After past their limit, and a refused call-back creates nothing (no work order,
no follow-up clock, so no red flags or escalations). Counted in memory and in Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from helpdesk.accounts.models import Role
from helpdesk.clock import FakeClock
from helpdesk.config import Settings
from helpdesk.workorders.models import Channel, WorkOrder, WorkOrderEvent
from tests.helpdesk.factories import PASSWORD, api_app, client_for, make_item, make_staff, make_unit


@pytest.fixture(params=["memory", "redis"])
def limited(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    if request.param == "memory":
        return settings
    return settings.model_copy(update={"redis_url": request.getfixturevalue("redis_url"),
                                       "redis_prefix": request.getfixturevalue("redis_prefix")})


@pytest.fixture
async def app(limited: Settings, clock: FakeClock) -> AsyncIterator[FastAPI]:
    async with api_app(limited, clock) as app:
        async with app.state.helpdesk.sessions() as s:
            unit = await make_unit(s)
            await make_item(s, units=[unit], code="RL-1")
            await make_staff(s, unit=unit, role=Role.supervisor, username="rl.super")
            await s.commit()
        yield app
        if app.state.helpdesk.redis is not None:  # leave nothing behind in the shared Redis
            keys = [k async for k in app.state.helpdesk.redis.scan_iter(f"{limited.redis_prefix}*")]
            if keys:
                await app.state.helpdesk.redis.delete(*keys)


def assert_refused(r: httpx.Response) -> None:
    assert r.status_code == 429, r.text
    assert r.json()["error"] == "too_many_requests" and r.json()["request_id"] == r.headers["x-request-id"]
    assert int(r.headers["retry-after"]) >= 1


async def callbacks_stored(app: FastAPI) -> int:
    async with app.state.helpdesk.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(WorkOrder)
                                  .where(WorkOrder.channel == Channel.callback)) or 0)


async def test_a_callback_flood_from_fresh_sessions_is_held(app: FastAPI) -> None:
    """The reported case: 8 call-backs in a row, each from a fresh session, different numbers."""
    answers = []
    for n in range(8):
        async with client_for(app) as c:  # a fresh session each time, one address
            assert (await c.post("/api/help/session", json={})).status_code == 200
            code = (await c.post("/api/help/phone-codes", json={"phone": f"1380000000{n}"})).json()["dev_code"]
            answers.append(await c.post("/api/help/callbacks", json={"item": "RL-1", "phone": f"1380000000{n}",
                                                                    "code": code}))
    assert [r.status_code for r in answers] == [200] * 5 + [429] * 3
    for r in answers[5:]:
        assert_refused(r)
    assert await callbacks_stored(app) == 5  # the refused ones started no accountability clock
    async with app.state.helpdesk.sessions() as s:
        opened = await s.scalar(select(func.count()).select_from(WorkOrderEvent)
                                .where(WorkOrderEvent.kind == "callback_requested"))
    assert opened == 5


async def test_one_phone_number_is_capped_per_day_from_any_address(app: FastAPI) -> None:
    codes = []
    for n in range(5):
        async with client_for(app, ip=f"198.51.100.{n + 1}") as c:
            await c.post("/api/help/session", json={})
            code = (await c.post("/api/help/phone-codes", json={"phone": "138-0000-1111"})).json()["dev_code"]
            app.state.helpdesk.clock.advance(61)  # the next code for this number may be sent
            r = await c.post("/api/help/callbacks", json={"item": "RL-1", "phone": "138-0000-1111", "code": code})
            codes.append(r.status_code)
            if r.status_code == 429:
                assert_refused(r)
                assert "today" in r.json()["detail"]
    assert codes == [200, 200, 200, 429, 429]
    assert await callbacks_stored(app) == 3


async def test_logins_are_limited_per_address_even_with_the_right_password(app: FastAPI) -> None:
    async with client_for(app, ip="192.0.2.9") as c:
        for _ in range(10):
            await c.post("/api/auth/login", json={"username": "nobody", "password": "guess"})
        assert_refused(await c.post("/api/auth/login", json={"username": "rl.super", "password": PASSWORD}))
    async with client_for(app, ip="192.0.2.10") as other:  # another address is not held
        r = await other.post("/api/auth/login", json={"username": "rl.super", "password": PASSWORD})
        assert r.status_code == 200


async def test_anonymous_requests_per_address_and_per_session(limited: Settings, clock: FakeClock) -> None:
    tight = limited.model_copy(update={"rate_limit_anonymous": "6/minute", "rate_limit_applicant": "4/minute"})
    async with api_app(tight, clock) as app:
        async with app.state.helpdesk.sessions() as s:
            unit = await make_unit(s)
            await make_staff(s, unit=unit, username="rl.agent")
            await s.commit()
        async with client_for(app, ip="192.0.2.20") as anon:  # /healthz (cookie) is not counted
            codes = [(await anon.get("/api/items")).status_code for _ in range(7)]
            assert codes == [200] * 6 + [429]
            assert (await anon.get("/static/help/help.css")).status_code != 429  # static files are not
            assert_refused(await anon.get("/api/help/items/NONE"))
        async with client_for(app, ip="192.0.2.21") as staff:  # a staff login is not anonymous
            await staff.post("/api/auth/login", json={"username": "rl.agent", "password": PASSWORD})
            assert [(await staff.get("/api/items")).status_code for _ in range(10)] == [200] * 10
        async with client_for(app, ip="192.0.2.22") as applicant:  # one session, moving between addresses
            assert (await applicant.post("/api/help/session", json={})).status_code == 200
            cookie = applicant.cookies["hd_applicant"]
            codes = []
            for n in range(5):
                async with client_for(app, ip=f"192.0.2.{30 + n}") as moved:
                    moved.cookies.set("hd_applicant", cookie)
                    codes.append((await moved.get("/api/items")).status_code)
            assert codes == [200, 200, 200, 200, 429]  # 4/minute per session, whatever the address


def test_limits_are_checked_at_start_up() -> None:
    with pytest.raises(ValueError, match="rate_limit_login"):
        Settings(_env_file=None, rate_limit_login="ten per minute")  # type: ignore[call-arg]


async def test_phone_codes_are_limited_per_address(app: FastAPI) -> None:
    """Each code is a text message to someone: fresh sessions from one address cannot bomb numbers."""
    answers = []
    for n in range(11):
        async with client_for(app) as c:
            await c.post("/api/help/session", json={})
            answers.append(await c.post("/api/help/phone-codes", json={"phone": f"1390000{n:04d}"}))
    assert [r.status_code for r in answers] == [200] * 10 + [429]
    assert_refused(answers[-1])
