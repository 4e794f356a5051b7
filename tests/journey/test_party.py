"""Calls of three or four over a real server (#19): supervisor monitoring (receive-only room, scope,
the agent and applicant told, joining), a consult that adds and removes a colleague, a conference
transfer that keeps the first agent on; every step on the work order and its audit chain."""

from __future__ import annotations

from typing import Any

import pytest

from helpdesk.accounts.models import Role
from helpdesk.clock import FakeClock
from helpdesk.config import Settings
from tests.helpdesk.factories import make_staff
from tests.journey.live import Browser, Live, live_app
from tests.journey.test_journey_api import agent_ready, start_call


@pytest.fixture
async def live(settings: Settings, clock: FakeClock) -> Any:
    async with live_app(settings, clock) as server:
        yield server


async def kinds(b: Browser, wo: str) -> list[str]:
    return [e["kind"] for e in (await b.http.get(f"/api/workorders/{wo}")).json()["events"]]


async def test_supervisor_monitors_receive_only_then_joins(live: Live) -> None:
    seed = live.seed
    async with live.state.sessions() as s:  # a supervisor of the township below: the county is not theirs
        other = await make_staff(s, unit=seed["town"], role=Role.supervisor, display_name="钱主管")
        await s.commit()
    async with Browser(live) as agent, Browser(live) as applicant, Browser(live) as boss, \
            Browser(live) as outsider:
        a_room, _ = await start_call(live, agent, applicant)
        room = a_room["room"]
        agent_member = a_room["peer"]["member"]
        assert agent_member == f"s:{seed['agent'].id}"
        await outsider.login(other.username)
        assert (await outsider.http.post(f"/api/calls/{room}/monitor")).status_code == 403  # outside the subtree
        assert (await agent.http.post(f"/api/calls/{room}/monitor")).status_code == 403  # not a supervisor
        await boss.login(seed["supervisor"].username)
        r = await boss.http.post(f"/api/calls/{room}/monitor")
        assert r.status_code == 409 and r.json()["error"] == "not_online"  # the wall's socket is needed
        me = (await boss.connect())["member"]
        r = await boss.http.post(f"/api/calls/{room}/monitor")
        assert r.status_code == 201, r.text
        mon = r.json()
        assert mon["polite"] is True and mon["peer"]["member"] == agent_member and mon["ice_servers"] is not None
        started = await agent.expect("monitor", event="started")
        assert started["monitor_room"] == mon["room"] and started["polite"] is False
        assert started["supervisor"]["name"] == "赵主管"
        told = await applicant.expect("monitor", event="started")  # the setting is on by default
        assert "monitor_room" not in told and told["supervisor"] == {"name": "赵主管"}
        # The monitor room pairs the agent with the supervisor only: the applicant is not in it.
        offer = {"type": "signal", "room": mon["room"], "description": {"type": "offer", "sdp": "v=0"}}
        await agent.send(offer)
        assert (await boss.expect("signal"))["from"] == agent_member
        await applicant.send(offer)
        err = await applicant.expect("error")
        assert err["code"] == "not_in_room"
        await boss.send({"type": "signal", "room": room, "candidate": None})  # nor in the call's room
        assert (await boss.expect("error"))["code"] == "not_in_room"
        # The supervisor joins as a participant: everyone is told, with the polite side of each pair.
        r = await boss.http.post(f"/api/calls/{room}/monitor/join")
        assert r.status_code == 200, r.text
        assert (await agent.expect("monitor", event="joined"))["supervisor"]["name"] == "赵主管"
        joined = await agent.expect("room.member", event="joined")
        assert joined["member"] == me and joined["polite"] is False
        assert (await applicant.expect("room.member", event="joined"))["polite"] is True
        mine = await boss.expect("room.joined", room=room)
        assert mine["peer"]["role"] == "applicant" and mine["polite"] is False
        assert [(p["member"], p["polite"]) for p in mine["peers"]] == [(agent_member, True)]
        assert mine["ice_servers"] is not None
        # A signal names its receiver in a room of three; without `to` it would reach both others.
        await boss.send({"type": "signal", "room": room, "to": agent_member, "candidate": None})
        assert (await agent.expect("signal"))["from"] == me
        # The supervisor hangs up: they leave, the call goes on.
        await boss.send({"type": "hangup", "room": room})
        assert (await boss.expect("call.ended", room=room))["reason"] == "left"
        assert (await applicant.expect("room.member", event="left"))["member"] == me
        events = await kinds(agent, room)
        for kind in ("monitor_started", "monitor_joined", "participant_joined", "participant_left"):
            assert kind in events, events
        from helpdesk.accountability.audit import verify

        async with live.state.sessions() as s:  # the events are links of the work order's audit chain
            chain = await verify(s, room)
        assert chain.ok and chain.entries >= len(events)


async def test_consult_adds_and_removes_a_colleague_then_the_agent_leaves_them(live: Live) -> None:
    seed = live.seed
    async with Browser(live) as agent, Browser(live) as applicant, Browser(live) as colleague, \
            Browser(live) as expert:
        from helpdesk.accounts.service import Skill

        async with live.state.sessions() as s:
            on_duty = await make_staff(s, unit=seed["city"], skills=[Skill(item_id=seed["item"].id)],
                                       display_name="孙专家")
            await s.commit()
        a_room, _ = await start_call(live, agent, applicant)
        room = a_room["room"]
        # The on-duty expert: a ready agent serving the item, then away while in the call.
        r = await agent.http.post(f"/api/calls/{room}/participants", json={"expert": True})
        assert r.status_code == 409 and r.json()["error"] == "no_expert"
        await agent_ready(live, expert, on_duty.username)
        r = await agent.http.post(f"/api/calls/{room}/participants", json={"expert": True})
        assert r.status_code == 201 and r.json()["name"] == "孙专家", r.text
        await expert.expect("room.joined", room=room)
        assert (await expert.expect("agent.state"))["state"] == "away"  # no queue offers while consulting
        await expert.send({"type": "hangup", "room": room})  # the expert leaves again
        assert (await expert.expect("call.ended", room=room))["reason"] == "left"
        await applicant.expect("room.member", event="left")
        r = await agent.http.post(f"/api/calls/{room}/participants", json={"staff_id": seed["agent2"].id})
        assert r.status_code == 409 and r.json()["error"] == "not_online"
        await colleague.login(seed["agent2"].username)
        them = (await colleague.connect())["member"]
        r = await applicant.http.post(f"/api/calls/{room}/participants", json={"staff_id": seed["agent2"].id})
        assert r.status_code == 401  # staff only
        r = await agent.http.post(f"/api/calls/{room}/participants", json={"staff_id": seed["agent2"].id,
                                                                           "note": "字号查重请教"})
        assert r.status_code == 201, r.text
        joined = await colleague.expect("room.joined", room=room)
        assert joined["peer"]["role"] == "applicant" and len(joined["peers"]) == 1
        assert (await applicant.expect("room.member", event="joined", member=them))["member"] == them
        await agent.expect("room.member", event="joined", member=them)
        # The colleague's page reloads: the welcome brings the call of three back, with its peers, and
        # the others hear which member dropped and came back.
        assert colleague.ws is not None
        await colleague.ws.close()
        assert (await applicant.expect("peer.dropped"))["member"] == them
        back = (await colleague.connect())["room"]
        assert back["room"] == room and back["resumed"] and [p["member"] for p in back["peers"]] == [
            a_room["peer"]["member"]]
        assert (await applicant.expect("peer.resumed"))["member"] == them
        # The agent leaves the colleague with the applicant.
        r = await agent.http.post(f"/api/calls/{room}/leave")
        assert r.status_code == 200, r.text
        assert (await agent.expect("call.ended", room=room))["reason"] == "left"
        assert (await applicant.expect("room.member", event="left"))["member"] == a_room["peer"]["member"]
        r = await colleague.http.post(f"/api/calls/{room}/leave")
        assert r.status_code == 409 and r.json()["error"] == "last_agent"
        await colleague.send({"type": "hangup", "room": room})
        await applicant.expect("call.ended", room=room)
        events = await kinds(agent, room)  # the agent who took the call (the colleague has no view of it)
        assert events.count("participant_joined") == 2 and events.count("participant_left") == 2  # expert, agent
        wo = (await agent.http.get(f"/api/workorders/{room}")).json()
        assert wo["ended_reason"] == "hangup"


async def test_conference_transfer_keeps_the_first_agent_on(live: Live) -> None:
    seed = live.seed
    async with Browser(live) as first_agent, Browser(live) as city_agent, Browser(live) as applicant:
        a_room, _ = await start_call(live, first_agent, applicant)
        first = a_room["room"]
        await agent_ready(live, city_agent, seed["agent2"].username)
        r = await first_agent.http.post(f"/api/calls/{first}/transfer",
                                        json={"target_unit_id": seed["city"].id, "note": "转市局，我继续陪同",
                                              "conference": True})
        assert r.status_code == 200, r.text
        second = r.json()["work_order"]
        offer = await city_agent.expect("offer")
        await city_agent.send({"type": "offer.accept", "ticket": offer["ticket"]})
        await applicant.expect("call.ended", room=first)
        joined = await applicant.expect("room.joined", room=second)
        assert joined["peer"]["name"] == "李帮办"
        stays = await first_agent.expect("room.joined", room=second)
        assert stays["peer"]["role"] == "applicant" and [p["name"] for p in stays["peers"]] == ["李帮办"]
        assert (await applicant.expect("room.member", event="joined"))["name"] == "王帮办"
        assert (await city_agent.expect("room.member", event="joined"))["polite"] is False
        events = (await city_agent.http.get(f"/api/workorders/{second}")).json()["events"]
        joined_ev = [e for e in events if e["kind"] == "participant_joined"]
        assert joined_ev and joined_ev[0]["data"]["how"] == "conference"


async def test_lost_rooms_of_three_come_back_with_their_members(live: Live) -> None:
    """Redis lost the rooms (a restart): the rebuild reads who joined and who left from each work
    order's timeline, so a consulted colleague is back in the call of three, and after the agent has
    left them with the applicant the room is the two of them; everyone hears the call resumed."""
    seed = live.seed
    journey = live.state.components["journey"]
    async with Browser(live) as agent, Browser(live) as applicant, Browser(live) as colleague:
        a_room, g_room = await start_call(live, agent, applicant)
        room, the_agent, the_applicant = a_room["room"], a_room["peer"]["member"], g_room["peer"]["member"]
        await colleague.login(seed["agent2"].username)
        them = (await colleague.connect())["member"]
        r = await agent.http.post(f"/api/calls/{room}/participants", json={"staff_id": seed["agent2"].id})
        assert r.status_code == 201, r.text
        await colleague.expect("room.joined", room=room)

        assert await journey.hub.close_room(room) is not None  # what Redis coming back empty loses
        done = await journey.recovery.rebuild()
        assert done.reopened == [room]
        assert set((await journey.hub.get_room(room)).members) == {the_applicant, the_agent, them}
        await journey.recovery._announce(done)
        back = await colleague.expect("room.joined", room=room, resumed=True)
        assert [p["member"] for p in back["peers"]] == [the_agent]
        mine = await applicant.expect("room.joined", room=room, resumed=True)
        assert mine["peer"]["member"] == the_agent and [p["member"] for p in mine["peers"]] == [them]

        r = await agent.http.post(f"/api/calls/{room}/leave")  # the colleague stays with the applicant
        assert r.status_code == 200, r.text
        await journey.hub.close_room(room)
        done = await journey.recovery.rebuild()
        assert the_agent not in (await journey.hub.get_room(room)).members
        await journey.recovery._announce(done)
        mine = await applicant.expect("room.joined", room=room, resumed=True)
        assert mine["peer"]["member"] == them and mine["peers"] == []
        presence = await journey.queue.store.get_agent(seed["agent"].id)
        assert presence is None or presence.active_calls == 0  # no call counted for the agent who left
