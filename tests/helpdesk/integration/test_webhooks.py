"""Lifecycle webhooks through the transactional outbox: written with the step (a rolled-back step
leaves no event), filtered per subscription, signed, retried with backoff, dead-lettered and replayed,
delivered once per event id; the 12345 hand-in → call-back → answered → resolved path end to end."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from helpdesk.accounts.models import Role
from helpdesk.integration.models import ApplicantMessage, EventDelivery, IntegrationEvent
from helpdesk.integration.sender import Sender
from tests.conftest import free_port
from tests.helpdesk.factories import PASSWORD, api_app, client_for, make_staff
from tests.helpdesk.integration.test_api import HAND_IN
from tests.helpdesk.integration.world import SECRET, Receiver, World, bearer, make_world, subscribe


async def wait_for(predicate, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


async def test_a_rolled_back_step_leaves_no_event(settings, clock, session) -> None:
    world = await make_world(session, clock)
    await subscribe(session, clock, "http://127.0.0.1:9/never")
    from helpdesk.workorders import service as wos
    from tests.helpdesk.factories import make_applicant

    applicant = await make_applicant(session)
    await wos.create_callback(session, applicant_id=applicant.id, item_id=world.item.id, unit_id=world.city.id,
                              phone="13800000000", preferred_time=None, note=None, reason="requested",
                              now=clock.now())
    assert await session.scalar(select(func.count()).select_from(IntegrationEvent)) == 2  # inside the step
    await session.rollback()
    for model in (IntegrationEvent, EventDelivery, ApplicantMessage):
        assert await session.scalar(select(func.count()).select_from(model)) == 0


async def test_12345_hand_in_to_resolution_with_webhooks_in_order(settings, clock, session) -> None:
    world: World = await make_world(session, clock)
    agent = await make_staff(session, unit=world.city, role=Role.agent, username="agent")
    await session.commit()
    receiver = Receiver(free_port(), SECRET, now=lambda: clock.now().timestamp())
    await subscribe(session, clock, f"http://127.0.0.1:{receiver.server.server_port}/hook")
    await subscribe(session, clock, "http://127.0.0.1:9/filtered", events=["work_order.resolved"])
    settings.outbox_poll_s = 0.05
    async with api_app(settings, clock) as app, client_for(app) as partner, client_for(app) as staff:
        wo = (await partner.post("/api/v1/work-orders", json=HAND_IN, headers=bearer(world.tokens["all"]))).json()
        await staff.post("/api/auth/login", json={"username": "agent", "password": PASSWORD})
        r = await staff.post(f"/api/workorders/{wo['id']}/call-back", json={"reached": True, "note": "已回电"})
        assert r.status_code == 200, r.text
        r = await staff.post(f"/api/workorders/{wo['id']}/resolve", json={"note": "已指导办理"})
        assert r.status_code == 200, r.text
        await wait_for(lambda: any(e["type"] == "work_order.resolved" for e in receiver.events))
    types = [e["type"] for e in receiver.events]
    assert types == ["work_order.created", "callback.scheduled", "work_order.answered", "work_order.resolved"]
    assert receiver.rejected == 0 and len({e["id"] for e in receiver.events}) == 4
    assert all(e["work_order"]["number"] == wo["number"] for e in receiver.events)
    assert "13800000000" not in str(receiver.events)  # no phone number leaves in an event
    filtered = (await session.execute(select(EventDelivery.subscription_id, IntegrationEvent.type)
                                      .join(IntegrationEvent))).all()
    assert [t for s, t in filtered if s == 2] == ["work_order.resolved"]
    _ = agent


async def test_retries_with_backoff_then_dead_letter_then_replay(settings, clock, session) -> None:
    world = await make_world(session, clock)
    port = free_port()
    await subscribe(session, clock, f"http://127.0.0.1:{port}/hook", events=["work_order.created"])
    settings.webhook_max_attempts = 3
    settings.webhook_backoff_s = 10
    settings.outbox_poll_s = 3600  # the test drives the sender itself
    async with api_app(settings, clock) as app, client_for(app) as partner, client_for(app) as admin:
        await partner.post("/api/v1/work-orders", json=HAND_IN, headers=bearer(world.tokens["all"]))
        sender: Sender = app.state.helpdesk.components["outbox_sender"]
        assert await sender.run_once() == 0  # nobody listens: refused
        assert await sender.run_once() == 0  # not due yet: nothing attempted
        clock.advance(10)
        await sender.run_once()
        clock.advance(20)
        await sender.run_once()
        await admin.post("/api/auth/login", json={"username": "admin", "password": PASSWORD})
        dead = (await admin.get("/api/admin/webhook-deliveries", params={"status": "dead"})).json()
        assert len(dead) == 1 and dead[0]["attempts"] == 3 and dead[0]["event_type"] == "work_order.created"
        assert "Connection refused" in dead[0]["last_error"]
        receiver = Receiver(port, SECRET, now=lambda: clock.now().timestamp())
        replay = await admin.post(f"/api/admin/webhook-deliveries/{dead[0]['id']}/replay")
        assert replay.json()["status"] == "pending"
        # The replay wakes this process's sender loop; whichever round (its or ours) claims the row
        # delivers it, and only one can.
        await sender.run_once()
        await wait_for(lambda: len(receiver.events) == 1)
        for _ in range(200):  # the sender marks it delivered right after the receiver answered
            log = (await admin.get("/api/admin/webhook-deliveries")).json()
            if log[0]["status"] != "pending":
                break
            await asyncio.sleep(0.05)
        assert log[0]["status"] == "delivered" and log[0]["last_status"] == 204
        assert await sender.run_once() == 0  # delivered once
    assert [e["type"] for e in receiver.events] == ["work_order.created"]


async def test_signature_and_replay_window(settings) -> None:
    from helpdesk.accountability.notify import sign
    from tests.helpdesk.integration.world import verify

    body = b'{"id":"e1"}'
    headers = {"X-Helpdesk-Timestamp": "1000", "X-Helpdesk-Signature": sign(SECRET, 1000, body)}
    assert verify(SECRET, headers, body, now=1100)
    assert not verify(SECRET, headers, body, now=1000 + 301)  # outside the replay window
    assert not verify(SECRET, headers, body + b" ", now=1100)
    assert not verify("x" * 40, headers, body, now=1100)
