"""The integration API: every route checks its scope (allowed, wrong scope, revoked, expired), the
token's unit, a per-token rate limit; 12345 hand-ins are idempotent; listing pages with a cursor."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from helpdesk.workorders.models import WorkOrder, WorkOrderEvent
from tests.helpdesk.factories import api_app, client_for
from tests.helpdesk.integration.world import World, bearer, make_world

HAND_IN = {"item": "SCJG-001", "phone": "13800000000", "text": "想开餐馆，咨询食品经营许可",
           "external_ref": "12345-0001"}
# (method, path, body, scope)
ROUTES = [
    ("POST", "/api/v1/work-orders", HAND_IN | {"external_ref": "12345-scope"}, "workorders:write"),
    ("GET", "/api/v1/work-orders/{wo}", None, "workorders:read"),
    ("GET", "/api/v1/work-orders", None, "workorders:read"),
    ("POST", "/api/v1/work-orders/{wo}/notes", {"text": "已联系"}, "workorders:write"),
    ("POST", "/api/v1/work-orders/{wo}/outcome", {"outcome": "callback_missed"}, "workorders:write"),
    ("GET", "/api/v1/units", None, "catalog:read"),
    ("GET", "/api/v1/items", None, "catalog:read"),
    ("GET", "/api/v1/units/130600/hours", None, "catalog:read"),
    ("GET", "/api/v1/packages", None, "catalog:read"),
    ("POST", "/api/v1/handoff-links", {"subject": "u1", "item": "SCJG-001"}, "handoff:write"),
]
TOKEN_FOR_SCOPE = {"workorders:read": "read", "workorders:write": "write", "catalog:read": "catalog",
                   "handoff:write": "handoff"}


@pytest.fixture
async def world(session, clock) -> World:
    return await make_world(session, clock)


async def test_every_route_checks_its_scope(settings, clock, world: World) -> None:
    async with api_app(settings, clock) as app, client_for(app) as http:
        r = await http.post("/api/v1/work-orders", json=HAND_IN, headers=bearer(world.tokens["all"]))
        assert r.status_code == 201, r.text
        wo = r.json()
        for method, path, body, scope in ROUTES:
            url = path.format(wo=wo["number"])

            async def call(token: str | None, url: str = url, method: str = method, body: dict | None = body) -> int:
                headers = bearer(token) if token else {}
                return (await http.request(method, url, json=body, headers=headers)).status_code

            allowed = await call(world.tokens[TOKEN_FOR_SCOPE[scope]])
            assert allowed in (200, 201), (method, path, allowed)
            wrong = next(t for s, t in TOKEN_FOR_SCOPE.items() if s != scope)
            assert await call(world.tokens[wrong]) == 403, (method, path, "wrong scope")
            assert await call(world.tokens["revoked"]) == 401, (method, path, "revoked")
            clock.advance(5)
            assert await call(world.tokens["expired"]) == 401, (method, path, "expired")
            assert await call(None) == 401, (method, path, "no token")


async def test_hand_in_is_idempotent_and_audited(settings, clock, session, world: World) -> None:
    async with api_app(settings, clock) as app, client_for(app) as http:
        first = await http.post("/api/v1/work-orders", json=HAND_IN, headers=bearer(world.tokens["all"]))
        again = await http.post("/api/v1/work-orders", json=HAND_IN, headers=bearer(world.tokens["all"]))
    assert first.status_code == 201 and first.json()["created"] is True
    assert again.json()["id"] == first.json()["id"] and again.json()["created"] is False
    body = first.json()
    assert body["status"] == "callback_pending" and body["item"] == "SCJG-001" and body["unit"] == "130600"
    texts = [t["text"]["zh-CN"] for t in body["timeline"]]
    assert texts[-1].startswith("由外部系统转来") and "kind" in body["timeline"][0]
    events = (await session.scalars(select(WorkOrderEvent).where(WorkOrderEvent.kind == "handed_in"))).all()
    assert len(events) == 1 and events[0].actor.startswith("t:hdk_")
    assert (await session.scalar(select(WorkOrder))).callback_phone == "13800000000"


async def test_a_county_token_sees_only_its_subtree(settings, clock, world: World) -> None:
    async with api_app(settings, clock) as app, client_for(app) as http:
        south = HAND_IN | {"item": "RS-002", "external_ref": "south-1"}
        south_wo = (await http.post("/api/v1/work-orders", json=south, headers=bearer(world.tokens["all"]))).json()
        north_in = HAND_IN | {"unit": "130602", "external_ref": "north-1"}
        north_wo = await http.post("/api/v1/work-orders", json=north_in, headers=bearer(world.tokens["north"]))
        assert north_wo.status_code == 201, north_wo.text
        nb = bearer(world.tokens["north"])
        assert (await http.get(f"/api/v1/work-orders/{south_wo['number']}", headers=nb)).status_code == 404
        assert (await http.post(f"/api/v1/work-orders/{south_wo['id']}/notes", json={"text": "x"},
                                headers=nb)).status_code == 404
        listed = (await http.get("/api/v1/work-orders", headers=nb)).json()["items"]
        assert [w["id"] for w in listed] == [north_wo.json()["id"]]
        units = (await http.get("/api/v1/units", headers=nb)).json()
        assert [u["code"] for u in units] == ["130602"]
        refused = await http.post("/api/v1/work-orders", json=HAND_IN | {"item": "RS-002", "external_ref": "s2"},
                                  headers=nb)
        assert refused.status_code == 404


async def test_listing_pages_with_a_cursor_and_updated_since(settings, clock, world: World) -> None:
    async with api_app(settings, clock) as app, client_for(app) as http:
        ids = []
        for n in range(7):
            clock.advance(1)
            r = await http.post("/api/v1/work-orders", json=HAND_IN | {"external_ref": f"page-{n}"},
                                headers=bearer(world.tokens["all"]))
            ids.append(r.json()["id"])
        since = clock.now()
        seen, cursor = [], None
        while True:
            params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
            page = (await http.get("/api/v1/work-orders", params=params, headers=bearer(world.tokens["read"]))).json()
            seen += [w["id"] for w in page["items"]]
            if not (cursor := page["next_cursor"]):
                break
        assert seen == ids
        recent = await http.get("/api/v1/work-orders", params={"updated_since": since.isoformat()},
                                headers=bearer(world.tokens["read"]))
        assert [w["id"] for w in recent.json()["items"]] == ids[-1:]
        bad = await http.get("/api/v1/work-orders", params={"cursor": "not-a-cursor!"},
                             headers=bearer(world.tokens["read"]))
        assert bad.status_code == 400 and bad.json()["error"] == "bad_cursor"


async def test_rate_limit_per_token(settings, clock, world: World) -> None:
    settings.integration_rate_limit = "3/minute"
    async with api_app(settings, clock) as app, client_for(app) as http:
        codes = [(await http.get("/api/v1/units", headers=bearer(world.tokens["catalog"]))).status_code
                 for _ in range(4)]
        other = await http.get("/api/v1/units", headers=bearer(world.tokens["all"]))
        last = await http.get("/api/v1/units", headers=bearer(world.tokens["catalog"]))
    assert codes == [200, 200, 200, 429] and other.status_code == 200
    assert last.status_code == 429 and int(last.headers["Retry-After"]) >= 1


async def test_outcome_rules_and_unknown_ids(settings, clock, world: World) -> None:
    async with api_app(settings, clock) as app, client_for(app) as http:
        h = bearer(world.tokens["all"])
        wo = (await http.post("/api/v1/work-orders", json=HAND_IN, headers=h)).json()
        assert (await http.get("/api/v1/work-orders/nope", headers=h)).status_code == 404
        assert (await http.post("/api/v1/work-orders", json=HAND_IN | {"item": "NOPE", "external_ref": "x"},
                                headers=h)).json()["error"] == "unknown_item"
        done = await http.post(f"/api/v1/work-orders/{wo['id']}/outcome", json={"outcome": "resolved"}, headers=h)
        assert done.status_code == 200 and done.json()["status"] == "resolved"
        again = await http.post(f"/api/v1/work-orders/{wo['id']}/outcome", json={"outcome": "resolved"}, headers=h)
        assert again.status_code == 409
        hours = (await http.get("/api/v1/units/130602/hours", headers=h)).json()
        assert hours["open_now"] is True and len(hours["days"]) == 14
        link = (await http.post("/api/v1/handoff-links", json={"subject": "p-1", "item": "SCJG-001",
                                                               "reason": "名称重复被退回"}, headers=h)).json()
        session = await http.post("/api/help/session", json={"token": link["token"]})
        assert session.status_code == 200, session.text
        assert session.json()["handoff"]["ctx"]["reason"] == "名称重复被退回"
        replay = await http.post("/api/help/session", json={"token": link["token"]})
        assert replay.json()["error"] == "token_replayed"
