"""A live server for journey tests: the real app under uvicorn in the test's event loop, a seeded
org (city → county → township), and clients that behave like the browser pages."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection, connect

from helpdesk.accounts.models import Role
from helpdesk.accounts.service import Skill
from helpdesk.app import create_app
from helpdesk.cli import WS_IMPL
from helpdesk.clock import Clock
from helpdesk.config import Settings
from helpdesk.org.models import UnitLevel
from helpdesk.state import AppState
from tests.conftest import create_schema, free_port
from tests.helpdesk.factories import PASSWORD, make_department, make_item, make_staff, make_unit

ALWAYS_OPEN = {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


@dataclass
class Live:
    url: str
    app: FastAPI
    seed: dict[str, Any] = field(default_factory=dict)

    @property
    def state(self) -> AppState:
        state: AppState = self.app.state.helpdesk
        return state

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/ws"


@asynccontextmanager
async def live_app(settings: Settings, clock: Clock | None = None) -> AsyncIterator[Live]:
    await create_schema(settings.database_url)
    app = create_app(settings, clock=clock)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           ws=WS_IMPL, lifespan="on"))
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(15):
        while not server.started:
            await asyncio.sleep(0.02)
    live = Live(f"http://127.0.0.1:{port}", app)
    live.seed = await seed(live.state)
    try:
        yield live
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)


async def seed(state: AppState) -> dict[str, Any]:
    """City → county → township, one department and item; agents at the township, county and city."""
    async with state.sessions() as s:
        city = await make_unit(s, name="保定市行政审批局", level=UnitLevel.city, business_hours=ALWAYS_OPEN)
        county = await make_unit(s, parent=city, name="莲池区", level=UnitLevel.county, business_hours=ALWAYS_OPEN)
        town = await make_unit(s, parent=county, name="五尧乡", level=UnitLevel.township, business_hours=ALWAYS_OPEN)
        dept = await make_department(s, name="市场监管")
        item = await make_item(s, department=dept, units=[city, county], name="企业设立登记",
                               remote_inspection=True)
        other_item = await make_item(s, department=dept, units=[city], name="食品经营许可（小餐饮）")
        agent = await make_staff(s, unit=county, skills=[Skill(item_id=item.id)], display_name="王帮办")
        agent2 = await make_staff(s, unit=city, skills=[Skill(department_id=dept.id)], display_name="李帮办")
        supervisor = await make_staff(s, unit=county, role=Role.supervisor, display_name="赵主管")
        out = {"city": city, "county": county, "town": town, "item": item, "other_item": other_item,
               "agent": agent, "agent2": agent2, "supervisor": supervisor, "department": dept}
        await s.commit()
    return out


class Browser:
    """One person's HTTP session (cookies + CSRF header) and their socket."""

    def __init__(self, live: Live) -> None:
        self.live = live
        self.http = httpx.AsyncClient(base_url=live.url, timeout=10)
        self.ws: ClientConnection | None = None
        self.inbox: list[dict[str, Any]] = []

    async def __aenter__(self) -> Browser:
        await self.http.get("/healthz")
        self.http.headers["X-CSRF-Token"] = self.http.cookies["hd_csrf"]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.ws is not None:
            await self.ws.close()
        await self.http.aclose()

    async def login(self, username: str, password: str = PASSWORD) -> dict[str, Any]:
        r = await self.http.post("/api/auth/login", json={"username": username, "password": password})
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def open_help(self, item: str, **body: Any) -> dict[str, Any]:
        r = await self.http.post("/api/help/session", json={"item": item, **body})
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def connect(self) -> dict[str, Any]:
        cookie = "; ".join(f"{k}={v}" for k, v in self.http.cookies.items())
        self.ws = await connect(self.live.ws_url, additional_headers={"Cookie": cookie})
        return await self.expect("welcome")

    async def send(self, msg: dict[str, Any] | str) -> None:
        assert self.ws is not None
        await self.ws.send(msg if isinstance(msg, str) else json.dumps(msg))

    async def expect(self, type_: str, timeout: float = 5.0, **match: Any) -> dict[str, Any]:
        """The next message of this type (and fields), keeping the others in the inbox."""
        for i, msg in enumerate(self.inbox):
            if msg["type"] == type_ and all(msg.get(k) == v for k, v in match.items()):
                return self.inbox.pop(i)
        assert self.ws is not None
        async with asyncio.timeout(timeout):
            while True:
                msg = json.loads(await self.ws.recv())
                if msg["type"] == type_ and all(msg.get(k) == v for k, v in match.items()):
                    return dict(msg)
                self.inbox.append(msg)
