"""Message-level authorization on /ws: every client message type has a decision (who may send it and
what it must belong to), and each is tried by people it does not belong to during a live call. The
socket handshake itself (cookie, Origin) is tested in test_journey_api.py."""

from __future__ import annotations

from typing import Any

import pytest
from helpdesk_signaling.protocol import ALLOWED_ROLES, CLIENT_MODELS

from helpdesk.clock import FakeClock
from helpdesk.config import Settings
from tests.journey.live import Browser, Live, live_app
from tests.journey.test_journey_api import agent_ready

# type → who may send it (protocol.ALLOWED_ROLES, checked by the endpoint) and what the app checks.
DECISIONS = {
    "ping": "anyone: answers pong to the sender only",
    "signal": "a member of the room (hub.relay); relayed to the other member only (or to `to`, a member)",
    "media.state": "a member of the room (hub.relay)",
    "annotate": "a member of the room (hub.relay); `by` set from the sender's role, marks bounded (#19)",
    "chat": "a member of the room (Journey.member_room)",
    "hangup": "a member of the room (Journey.member_room)",
    "agent.state": "staff (ALLOWED_ROLES); changes the sender's own presence only",
    "offer.accept": "staff (ALLOWED_ROLES); only the agent the ticket is offered to (queue)",
    "offer.decline": "staff (ALLOWED_ROLES); only the agent the ticket is offered to (queue)",
    "queue.leave": "applicants (ALLOWED_ROLES); only their own ticket (journey/client_messages.py)",
    "inspection.signal": "applicants (ALLOWED_ROLES), members of the room; the inspection must be theirs",
}


def test_every_client_message_type_has_a_decision() -> None:
    assert set(DECISIONS) == set(CLIENT_MODELS), (
        f"decide who may send {sorted(set(CLIENT_MODELS) - set(DECISIONS))} (and test it here); "
        f"no longer sent: {sorted(set(DECISIONS) - set(CLIENT_MODELS))}")
    assert ALLOWED_ROLES["queue.leave"] == {"applicant"} == ALLOWED_ROLES["inspection.signal"]
    assert all("applicant" not in ALLOWED_ROLES[t] for t in ("agent.state", "offer.accept", "offer.decline"))


@pytest.fixture
async def live(settings: Settings, clock: FakeClock) -> Any:
    async with live_app(settings, clock) as server:
        yield server


async def error_for(b: Browser, msg: dict[str, Any]) -> str:
    await b.send(msg)
    reply = await b.expect("error")
    assert reply.get("ref") == msg["type"], reply
    return str(reply["code"])


async def test_nobody_acts_on_an_offer_or_a_call_that_is_not_theirs(live: Live) -> None:
    seed = live.seed
    async with (Browser(live) as agent, Browser(live) as applicant, Browser(live) as other_agent,
                Browser(live) as stranger):
        await agent_ready(live, agent, seed["agent"].username)
        await other_agent.login(seed["agent2"].username)
        await other_agent.connect()
        await stranger.open_help(seed["item"].code, name="路人")
        await stranger.connect()
        who = await applicant.open_help(seed["item"].code, name="刘晓倩")
        await applicant.connect()
        r = await applicant.http.post("/api/help/requests", json={"item": seed["item"].code,
                                                                   "unit": seed["county"].code})
        assert r.status_code == 200, r.text
        offer = await agent.expect("offer")
        ticket = offer["ticket"]

        # The offer belongs to `agent` alone; applicants may not touch offers at all.
        for kind in ("offer.accept", "offer.decline"):
            assert await error_for(other_agent, {"type": kind, "ticket": ticket}) == "conflict"
        for kind in ("offer.accept", "offer.decline"):
            assert await error_for(applicant, {"type": kind, "ticket": ticket}) == "forbidden"
        assert await error_for(applicant, {"type": "agent.state", "state": "ready"}) == "forbidden"
        # A place in the queue is left only by its owner, and only applicants hold one.
        assert await error_for(stranger, {"type": "queue.leave", "ticket": who["applicant"]["id"]}) == "forbidden"
        assert await error_for(agent, {"type": "queue.leave", "ticket": who["applicant"]["id"]}) == "forbidden"

        await agent.send({"type": "offer.accept", "ticket": ticket})  # still on offer: nobody took it
        room = (await applicant.expect("room.joined"))["room"]
        await agent.expect("room.joined")

        in_room: list[dict[str, Any]] = [
            {"type": "chat", "room": room, "text": "冒充"},
            {"type": "signal", "room": room, "candidate": None},
            {"type": "media.state", "room": room, "audio": False, "video": False, "screen": False},
            {"type": "annotate", "room": room, "mark": {"kind": "clear"}},
            {"type": "hangup", "room": room},
        ]
        for outsider in (stranger, other_agent):
            for msg in in_room:
                assert await error_for(outsider, msg) == "not_in_room", (msg["type"])
        inspection = {"type": "inspection.signal", "room": room, "inspection": "x", "candidate": None}
        assert await error_for(stranger, inspection) == "not_in_room"
        assert await error_for(agent, inspection) == "forbidden"  # the agent's side is the server's peer

        # None of it reached the call or ended it.
        await applicant.send({"type": "chat", "room": room, "text": "还在吗"})
        assert (await agent.expect("chat"))["text"] == "还在吗"
        relayed = ("chat", "room.ended", "signal", "annotate")
        assert not [m for m in agent.inbox + applicant.inbox if m["type"] in relayed and m.get("text") != "还在吗"]
        wo = (await agent.http.get(f"/api/workorders/{room}")).json()
        assert wo["status"] == "in_call" and [c["text"] for c in wo["chat"]] == ["还在吗"]
