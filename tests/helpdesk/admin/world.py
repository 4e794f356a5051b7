"""A small bureau for admin tests: a city with two counties (each with a township), staff of every
kind, an item per county and one of the city, a token per county; clients logged in as each."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI

from helpdesk.accounts.models import Role
from helpdesk.accounts.tokens import create_api_token
from helpdesk.clock import Clock
from helpdesk.config import Settings
from helpdesk.org.models import UnitLevel
from tests.helpdesk.factories import (
    PASSWORD,
    T0,
    api_app,
    client_for,
    make_department,
    make_item,
    make_staff,
    make_unit,
)


@dataclass
class World:
    app: FastAPI
    ids: dict[str, int] = field(default_factory=dict)
    clients: dict[str, httpx.AsyncClient] = field(default_factory=dict)


async def build(app: FastAPI) -> dict[str, int]:
    async with app.state.helpdesk.sessions() as s:
        city = await make_unit(s, code="130600", name="保定市")
        a = await make_unit(s, parent=city, code="130606", name="莲池区")
        b = await make_unit(s, parent=city, code="130626", name="定兴县")
        a_town = await make_unit(s, parent=a, code="130606201", name="五尧乡", level=UnitLevel.township)
        b_town = await make_unit(s, parent=b, code="130626100", name="定兴镇", level=UnitLevel.township)
        dept = await make_department(s, code="SCJG", name="市场监管")
        item_a = await make_item(s, department=dept, units=[a, a_town], code="A-001", name="莲池事项")
        item_b = await make_item(s, department=dept, units=[b], code="B-001", name="定兴事项")
        item_city = await make_item(s, department=dept, units=[city, a, b], code="C-001", name="全市事项")
        people = {
            "admin": await make_staff(s, unit=city, role=Role.admin, username="w.admin"),
            "admin_a": await make_staff(s, unit=a, role=Role.supervisor, unit_admin=True, username="w.admin_a"),
            "admin_b": await make_staff(s, unit=b, role=Role.supervisor, unit_admin=True, username="w.admin_b"),
            "super_a": await make_staff(s, unit=a, role=Role.supervisor, username="w.super_a"),
            "agent_a": await make_staff(s, unit=a, username="w.agent_a"),
            "agent_b": await make_staff(s, unit=b, username="w.agent_b"),
            "agent_town_a": await make_staff(s, unit=a_town, username="w.agent_ta"),
        }
        tok_a, _ = await create_api_token(s, name="莲池", scopes=["workorders:read"], unit_id=a.id,
                                          expires_at=None, now=T0)
        tok_b, _ = await create_api_token(s, name="定兴", scopes=["workorders:read"], unit_id=b.id,
                                          expires_at=None, now=T0)
        await s.commit()
        ids = {"city": city.id, "a": a.id, "b": b.id, "a_town": a_town.id, "b_town": b_town.id,
               "dept": dept.id, "item_a": item_a.id, "item_b": item_b.id, "item_city": item_city.id,
               "token_a": tok_a.id, "token_b": tok_b.id}
        ids |= {f"staff_{k}": v.id for k, v in people.items()}
        return ids


@asynccontextmanager
async def world(settings: Settings, clock: Clock, logins: tuple[str, ...] = (
        "admin", "admin_a", "admin_b", "super_a", "agent_a")) -> AsyncIterator[World]:
    async with api_app(settings, clock) as app:
        w = World(app, await build(app))
        async with contextlib_clients(app, logins) as clients:
            w.clients = clients
            yield w


@asynccontextmanager
async def contextlib_clients(app: FastAPI, names: tuple[str, ...]) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    from contextlib import AsyncExitStack

    async with AsyncExitStack() as stack:
        out = {}
        for name in names:
            client = await stack.enter_async_context(client_for(app))
            r = await client.post("/api/auth/login", json={"username": f"w.{name}", "password": PASSWORD})
            assert r.status_code == 200, r.text
            out[name] = client
        yield out


def codes(rows: Any, key: str = "code") -> set[str]:
    return {r[key] for r in rows}
