"""Messages to applicants (templates an admin rewords, sent through the gateway), phone verification
before a call-back, and one-thing-once packages from the help request to the figures."""

from __future__ import annotations

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select

from helpdesk.accountability.notify import verify_signature
from helpdesk.workorders.models import WorkOrder
from tests.conftest import free_port
from tests.helpdesk.factories import PASSWORD, api_app, client_for
from tests.helpdesk.integration.test_api import HAND_IN
from tests.helpdesk.integration.world import World, bearer, make_world
from tests.journey.live import Live, live_app
from tests.journey.test_journey_api import agent_ready

GATEWAY_SECRET = "g" * 40


class Gateway:
    """Stands in for the bureau's SMS platform (a third-party system we do not run): records what it gets."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                ok = verify_signature(GATEWAY_SECRET, self.headers["X-Helpdesk-Timestamp"], body,
                                      self.headers["X-Helpdesk-Signature"])
                gateway.messages.append(json.loads(body) | {"signed": ok})
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/sms"


async def until(predicate: Any, timeout: float = 10) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.05)


async def test_messages_follow_the_work_order_in_the_admins_words(settings, clock, session) -> None:
    world: World = await make_world(session, clock)
    gateway = Gateway()
    settings.message_gateway_url, settings.message_gateway_secret = gateway.url, GATEWAY_SECRET
    settings.outbox_poll_s = 0.05
    async with api_app(settings, clock) as app, client_for(app) as partner, client_for(app) as admin:
        await admin.post("/api/auth/login", json={"username": "admin", "password": PASSWORD})
        bad = await admin.put("/api/admin/message-templates/work_order_result/zh-CN", json={"body": "{secret}"})
        assert bad.status_code == 400 and bad.json()["error"] == "bad_template"
        r = await admin.put("/api/admin/message-templates/work_order_result/zh-CN",
                            json={"body": "工单{number}办结：{outcome}。如有疑问请拨12345。"})
        assert r.status_code == 200, r.text
        wo = (await partner.post("/api/v1/work-orders", json=HAND_IN, headers=bearer(world.tokens["all"]))).json()
        await partner.post(f"/api/v1/work-orders/{wo['id']}/outcome", json={"outcome": "resolved"},
                           headers=bearer(world.tokens["all"]))
        await until(lambda: len(gateway.messages) == 2)
        log = (await admin.get("/api/admin/messages")).json()
    texts = [m["text"] for m in gateway.messages]
    assert "食品经营许可" in texts[0] and wo["number"] in texts[0]  # call-back scheduled
    assert texts[1] == f"工单{wo['number']}办结：已解决。如有疑问请拨12345。"
    assert all(m["signed"] and m["to"] == "13800000000" for m in gateway.messages)
    assert {m["status"] for m in log} == {"sent"} and log[0]["phone"] == "138****0000"


async def test_a_call_back_needs_the_code_sent_to_the_phone(settings, clock, session) -> None:
    await make_world(session, clock)
    async with api_app(settings, clock) as app, client_for(app) as applicant:
        await applicant.post("/api/help/session", json={"item": "SCJG-001"})
        body = {"item": "SCJG-001", "phone": "13900000000"}
        r = await applicant.post("/api/help/callbacks", json=body)
        assert r.status_code == 400 and r.json()["error"] == "phone_unverified"
        sent = (await applicant.post("/api/help/phone-codes", json={"phone": "13900000000"})).json()
        again = await applicant.post("/api/help/phone-codes", json={"phone": "13900000000"})
        assert again.status_code == 429 and int(again.headers["Retry-After"]) > 0
        wrong = "000000" if sent["dev_code"] != "000000" else "111111"
        r = await applicant.post("/api/help/callbacks", json=body | {"code": wrong})
        assert r.json()["error"] == "code_mismatch"
        r = await applicant.post("/api/help/callbacks", json=body | {"code": sent["dev_code"]})
        assert r.status_code == 200, r.text
        r = await applicant.post("/api/help/callbacks", json=body | {"code": sent["dev_code"]})
        assert r.json()["error"] == "code_expired"  # a code is used once


@pytest.fixture
async def live(settings, clock):
    async with live_app(settings, clock) as live:
        yield live


async def test_a_package_routes_by_its_lead_item_and_is_counted(live: Live) -> None:
    from tests.journey.live import Browser

    seed = live.seed
    async with Browser(live) as admin_b, Browser(live) as agent, Browser(live) as applicant:
        async with live.state.sessions() as s:
            from helpdesk.accounts.models import Role
            from tests.helpdesk.factories import make_staff

            await make_staff(s, unit=seed["city"], role=Role.admin, username="padmin")
            await s.commit()
        await admin_b.login("padmin")
        r = await admin_b.http.put("/api/admin/packages/KBCT-1", json={
            "name": "开办餐馆一件事", "name_en": "Open a restaurant",
            "items": [seed["item"].code, seed["other_item"].code]})
        assert r.status_code == 200, r.text
        assert (await admin_b.http.put("/api/admin/packages/BAD", json={
            "name": "x", "items": [seed["item"].code, "NOPE"]})).json()["error"] == "unknown_item"
        page = (await applicant.http.get("/api/help/packages/KBCT-1")).json()
        assert page["lead_item"] == seed["item"].code and len(page["items"]) == 2
        await agent_ready(live, agent, seed["agent"].username)
        await applicant.open_help(seed["item"].code)
        await applicant.connect()
        r = await applicant.http.post("/api/help/requests", json={"item": seed["item"].code, "package": "KBCT-1",
                                                                   "unit": seed["county"].code})
        assert r.status_code == 200, r.text
        offer = await agent.expect("offer")
        await agent.send({"type": "offer.accept", "ticket": offer["ticket"]})
        await agent.expect("room.joined")
        figures = (await admin_b.http.get("/api/stats/figures", params={"group": "package"})).json()
    async with live.state.sessions() as s:
        wo = await s.scalar(select(WorkOrder).where(WorkOrder.id == r.json()["work_order"]))
        assert wo is not None and wo.package_id is not None
        assert wo.handoff["package"]["items"] == [seed["item"].code, seed["other_item"].code]
    rows = {row["label"]: row for row in figures["rows"]}
    assert rows["开办餐馆一件事"]["answered"] == 1
