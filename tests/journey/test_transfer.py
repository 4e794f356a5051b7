"""Warm transfer township/county → city: the target sees the context, the applicant never queues
behind others, the first call ends as transferred, the work orders keep the chain."""

from __future__ import annotations

from typing import Any

import pytest

from helpdesk.clock import FakeClock
from helpdesk.config import Settings
from tests.journey.live import Browser, Live, live_app
from tests.journey.test_journey_api import start_call


@pytest.fixture
async def live(settings: Settings, clock: FakeClock) -> Any:
    async with live_app(settings, clock) as server:
        yield server


async def test_warm_transfer_to_the_city_keeps_context_and_chain(live: Live) -> None:
    seed = live.seed
    async with Browser(live) as county_agent, Browser(live) as city_agent, Browser(live) as applicant, \
            Browser(live) as other_applicant:
        a_room, _ = await start_call(live, county_agent, applicant)
        first = a_room["room"]
        await county_agent.send({"type": "chat", "room": first, "text": "字号重复，需要市局处理"})
        await applicant.expect("chat")

        # Someone else is already waiting at the city: the transferred applicant goes first.
        await city_agent.login(seed["agent2"].username)
        await city_agent.connect()  # online, away for now
        await other_applicant.open_help(seed["item"].code)
        await other_applicant.connect()
        r = await other_applicant.http.post("/api/help/requests", json={"item": seed["item"].code})
        assert r.status_code == 200

        r = await county_agent.http.post(f"/api/calls/{first}/transfer", json={"note": ""})
        assert r.status_code == 422  # the note is required
        r = await county_agent.http.post(f"/api/calls/{first}/transfer",
                                         json={"target_unit_id": seed["city"].id, "note": "名称重复，转市局"})
        assert r.status_code == 200, r.text
        second = r.json()["work_order"]
        r2 = await applicant.http.post(f"/api/calls/{first}/transfer", json={"target_unit_id": 1, "note": "x"})
        assert r2.status_code == 401  # applicants cannot transfer

        await city_agent.send({"type": "agent.state", "state": "ready"})
        offer = await city_agent.expect("offer")
        assert offer["work_order"] == second
        transfer = offer["context"]["transfer"]
        assert transfer["note"] == "名称重复，转市局" and transfer["from_agent"] == "王帮办"
        assert [c["text"] for c in transfer["chat"]] == ["字号重复，需要市局处理"]
        await city_agent.send({"type": "offer.accept", "ticket": offer["ticket"]})

        ended = await applicant.expect("call.ended", room=first)
        assert ended["reason"] == "transferred"
        await county_agent.expect("call.ended", room=first)
        joined = await applicant.expect("room.joined")
        assert joined["room"] == second and joined["peer"]["name"] == "李帮办"
        await city_agent.expect("room.joined", room=second)

        wo1 = (await county_agent.http.get(f"/api/workorders/{first}")).json()
        assert wo1["ended_reason"] == "transferred"
        assert "transfer_requested" in [e["kind"] for e in wo1["events"]]
        r = await county_agent.http.post(f"/api/workorders/{first}/wrapup",
                                         json={"outcome": "transferred", "notes": "转市局"})
        assert r.status_code == 200 and r.json()["status"] == "transferred"
        wo2 = (await city_agent.http.get(f"/api/workorders/{second}")).json()
        assert wo2["transferred_from_id"] == first and wo2["status"] == "in_call"


async def test_transfer_to_a_named_colleague(live: Live) -> None:
    """The named agent gets the offer even though another agent of that desk has been idle longer."""
    from helpdesk.accounts.service import Skill
    from tests.helpdesk.factories import make_staff

    seed = live.seed
    async with live.state.sessions() as s:
        named = await make_staff(s, unit=seed["city"], skills=[Skill(item_id=seed["item"].id)],
                                 display_name="陈专员")
        await s.commit()
    async with Browser(live) as county_agent, Browser(live) as idle_agent, Browser(live) as colleague, \
            Browser(live) as applicant:
        await idle_agent.login(seed["agent2"].username)
        await idle_agent.connect()
        await idle_agent.send({"type": "agent.state", "state": "ready"})  # ready first: longest idle
        await idle_agent.expect("agent.state", state="ready")
        await colleague.login(named.username)
        await colleague.connect()
        await colleague.send({"type": "agent.state", "state": "ready"})
        await colleague.expect("agent.state", state="ready")

        a_room, _ = await start_call(live, county_agent, applicant)
        r = await county_agent.http.post(f"/api/calls/{a_room['room']}/transfer",
                                         json={"target_agent_id": named.id, "note": "请陈专员处理"})
        assert r.status_code == 200, r.text
        offer = await colleague.expect("offer")
        assert offer["context"]["transfer"]["note"] == "请陈专员处理"
        assert not [m for m in idle_agent.inbox if m["type"] == "offer"]
        # The colleague declines: the pin lapses and the desk's other agent is offered the applicant.
        await colleague.send({"type": "offer.decline", "ticket": offer["ticket"]})
        second = await idle_agent.expect("offer")
        assert second["work_order"] == offer["work_order"]
