"""Notifications: the console inbox (rows, hook, routes) and the signed webhook against a real
local HTTP server that fails twice before it accepts; retries follow stored times (no sleeping)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from helpdesk.accountability.models import StaffNotification, WebhookDelivery
from helpdesk.accountability.notify import Notifier, NotifyEvent, verify_signature
from helpdesk.clock import FakeClock
from helpdesk.config import Settings
from tests.helpdesk.accountability.world import build_world
from tests.helpdesk.factories import PASSWORD, api_app, client_for

SECRET = "s" * 40


class Gateway:
    """A local SMS/IM gateway: answers `statuses` in turn (then 200) and keeps what it received."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.received: list[tuple[dict[str, str], bytes]] = []
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                gateway.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status = gateway.statuses.pop(0) if gateway.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    g = Gateway([500, 503])
    yield g
    g.close()


async def deliveries(sessions: async_sessionmaker[AsyncSession]) -> list[WebhookDelivery]:
    async with sessions() as s:
        return list((await s.scalars(select(WebhookDelivery))).all())


async def test_signed_webhook_retries_with_backoff(db_sessions: async_sessionmaker[AsyncSession],
                                                   gateway: Gateway) -> None:
    clock = FakeClock()
    settings = Settings(_env_file=None, webhook_url=gateway.url, webhook_secret=SECRET, webhook_backoff_s=2.0,
                        webhook_max_attempts=5)
    async with db_sessions() as s:
        w = await build_world(s)
    notifier = Notifier(db_sessions, clock, settings)
    pushed: list[tuple[int, dict[str, Any]]] = []

    async def on_notification(staff_id: int, payload: dict[str, Any]) -> None:
        pushed.append((staff_id, payload))

    notifier.on_notification = on_notification
    await notifier(NotifyEvent("red", "工单 VH1 超时未认领", [w.id("sup_a1")], None, {"number": "VH1"}))
    assert [p[0] for p in pushed] == [w.id("sup_a1")] and pushed[0][1]["title"] == "工单 VH1 超时未认领"
    (d,) = await deliveries(db_sessions)
    assert (d.status, d.attempts, d.last_status) == ("pending", 1, 500)
    assert await notifier.deliver_due() == 0  # not yet: the retry is 2 s away
    clock.advance(2)
    assert await notifier.deliver_due() == 0  # 503; the next one 4 s away
    clock.advance(3)
    assert await notifier.deliver_due() == 0
    clock.advance(1)
    assert await notifier.deliver_due() == 1
    (d,) = await deliveries(db_sessions)
    assert (d.status, d.attempts, d.last_status, d.last_error) == ("delivered", 3, 200, None)
    assert len(gateway.received) == 3
    headers, body = gateway.received[-1]
    assert verify_signature(SECRET, headers["x-helpdesk-timestamp"], body, headers["x-helpdesk-signature"])
    assert not verify_signature("wrong" * 8, headers["x-helpdesk-timestamp"], body, headers["x-helpdesk-signature"])
    assert headers["x-helpdesk-delivery"] == d.id and headers["content-type"].startswith("application/json")
    payload = json.loads(body)
    assert payload["kind"] == "red" and payload["staff_ids"] == [w.id("sup_a1")] and payload["id"] == d.id


async def test_webhook_gives_up_after_max_attempts(db_sessions: async_sessionmaker[AsyncSession]) -> None:
    g = Gateway([500] * 10)
    try:
        clock = FakeClock()
        settings = Settings(_env_file=None, webhook_url=g.url, webhook_secret=SECRET, webhook_max_attempts=2)
        async with db_sessions() as s:
            w = await build_world(s)
        notifier = Notifier(db_sessions, clock, settings)
        await notifier(NotifyEvent("reminder", "请认领", [w.id("agent_a1")]))
        clock.advance(60)
        await notifier.deliver_due()
        (d,) = await deliveries(db_sessions)
        assert (d.status, d.attempts, d.next_attempt_at) == ("failed", 2, None)
        clock.advance(3600)
        assert await notifier.deliver_due() == 0 and len(g.received) == 2
    finally:
        g.close()


async def test_unreachable_gateway_is_retried(db_sessions: async_sessionmaker[AsyncSession]) -> None:
    g = Gateway([])
    url = g.url
    g.close()  # nobody listens there any more: connection refused
    clock = FakeClock()
    settings = Settings(_env_file=None, webhook_url=url, webhook_secret=SECRET)
    async with db_sessions() as s:
        w = await build_world(s)
    await Notifier(db_sessions, clock, settings)(NotifyEvent("reminder", "请认领", [w.id("agent_a1")]))
    (d,) = await deliveries(db_sessions)
    assert d.status == "pending" and d.attempts == 1 and "Error" in (d.last_error or "")


def test_production_needs_a_webhook_secret() -> None:
    strong = "x" * 48
    with pytest.raises(ValueError, match="HELPDESK_WEBHOOK_SECRET"):
        Settings(_env_file=None, dev_mode=False, secret_key=strong, handoff_secret=strong,
                 webhook_url="https://sms.example.gov.cn/hook")


async def test_console_notifications_routes(settings: Settings, clock: FakeClock) -> None:
    async with api_app(settings, clock) as app:
        state = app.state.helpdesk
        async with state.sessions() as s:
            w = await build_world(s)
        notifier = state.components["notifier"]
        await notifier(NotifyEvent("reminder", "请认领工单 A", [w.id("agent_a1"), w.id("agent_a1b")], None, {}))
        await notifier(NotifyEvent("red", "工单 B 红色", [w.id("agent_a1")], None, {}))
        async with client_for(app) as client:
            r = await client.post("/api/auth/login", json={"username": w.staff["agent_a1"].username,
                                                           "password": PASSWORD})
            assert r.status_code == 200
            items = (await client.get("/api/notifications")).json()
            assert [i["title"] for i in items["items"]] == ["工单 B 红色", "请认领工单 A"] and items["has_unread"]
            first = items["items"][0]["id"]
            assert (await client.post(f"/api/notifications/{first}/read")).json() == {"marked": 1}
            assert (await client.post(f"/api/notifications/{first}/read")).json() == {"marked": 0}
            unread = (await client.get("/api/notifications?unread=1")).json()["items"]
            assert [i["title"] for i in unread] == ["请认领工单 A"]
            # Someone else's notification cannot be marked.
            async with state.sessions() as s:
                theirs = await s.scalar(select(StaffNotification.id).where(
                    StaffNotification.staff_id == w.id("agent_a1b")))
            assert (await client.post(f"/api/notifications/{theirs}/read")).json() == {"marked": 0}
            assert (await client.post("/api/notifications/read-all")).json() == {"marked": 1}
            assert not (await client.get("/api/notifications")).json()["has_unread"]


async def test_a_notification_commits_or_rolls_back_with_its_step(
        db_sessions: async_sessionmaker[AsyncSession]) -> None:
    """Staged in the step's transaction: a rolled-back step leaves no notification and no delivery; a
    process that dies after the commit still leaves both stored (the push and the send follow)."""
    from helpdesk.accountability.models import StaffNotification
    from helpdesk.accountability.notify import stage

    clock = FakeClock()
    settings = Settings(_env_file=None, webhook_url="http://127.0.0.1:9/hook", webhook_secret=SECRET)
    async with db_sessions() as s:
        w = await build_world(s)
    notifier = Notifier(db_sessions, clock, settings)
    event = NotifyEvent("red", "工单 VH2 超时未认领", [w.id("sup_a1")])
    async with db_sessions() as s:
        stage(notifier, s, event)
        await s.rollback()
    async with db_sessions() as s:
        assert await s.scalar(select(func.count()).select_from(StaffNotification)) == 0
        stage(notifier, s, event)  # the after-commit push is never run: as if the process died here
        await s.commit()
    async with db_sessions() as s:
        assert await s.scalar(select(func.count()).select_from(StaffNotification)) == 1
    (d,) = await deliveries(db_sessions)
    assert d.status == "pending" and d.attempts == 0  # the sweeper's deliver_due sends it
