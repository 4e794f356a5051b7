"""Positions by line: each waiting applicant's socket hears its new place when its line moves,
once per change of what it shows, computed by the process that holds the socket."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from helpdesk_queue import QueueStatus
from helpdesk_signaling import protocol as p

from helpdesk.clock import FakeClock
from helpdesk.config import Settings
from helpdesk.journey.positions import status_text
from helpdesk.journey.service import Journey
from tests.journey.live import Browser, Live, live_app


@pytest.fixture
async def live(settings: Settings, clock: FakeClock) -> Any:
    async with live_app(settings, clock) as server:
        yield server


async def queue_up(live: Live, b: Browser, name: str, clock: FakeClock) -> dict[str, Any]:
    clock.advance(1)  # one after the other (equal times would order by ticket)
    await b.open_help(live.seed["item"].code, name=name)
    await b.connect()
    r = await b.http.post("/api/help/requests", json={"item": live.seed["item"].code,
                                                       "unit": live.seed["county"].code})
    assert r.status_code == 200, r.text
    return dict(r.json())


async def test_waiting_sockets_follow_their_line(live: Live, clock: FakeClock) -> None:
    journey = live.state.components["journey"]
    async with Browser(live) as agent, Browser(live) as a, Browser(live) as b, Browser(live) as c:
        await agent.login(live.seed["agent"].username)
        await agent.connect()  # online but away: everyone waits
        first, second, third = [await queue_up(live, x, n, clock) for x, n in ((a, "甲"), (b, "乙"), (c, "丙"))]
        assert (first["position"], second["position"], third["position"]) == (1, 2, 3)
        line = f"{live.seed['county'].id}:{live.seed['item'].id}"
        assert journey.positions.followers[line] == {first["ticket"], second["ticket"], third["ticket"]}

        await agent.send({"type": "agent.state", "state": "ready"})  # the first is offered
        assert (await a.expect("queue.status", state="offered"))["position"] == 1
        assert (await b.expect("queue.status", position=1))["state"] == "waiting"
        assert (await c.expect("queue.status", position=2))["state"] == "waiting"

        await b.send({"type": "queue.leave", "ticket": second["ticket"]})
        assert (await c.expect("queue.status", position=1))["state"] == "waiting"

        # Nothing new to show: a line change that moves nobody writes nothing to the sockets.
        c.inbox.clear()
        journey.positions.dirty = set(journey.positions.followers)
        assert await journey.positions.flush() == 0


async def test_a_socket_that_closes_stops_following(live: Live, clock: FakeClock) -> None:
    journey = live.state.components["journey"]
    async with Browser(live) as agent, Browser(live) as a:
        await agent.login(live.seed["agent"].username)
        await agent.connect()
        mine = await queue_up(live, a, "甲", clock)
        assert mine["ticket"] in journey.positions.line_of
        assert a.ws is not None
        await a.ws.close()
        for _ in range(100):
            if mine["ticket"] not in journey.positions.line_of:
                break
            await asyncio.sleep(0.02)
        assert mine["ticket"] not in journey.positions.line_of
        welcome = await a.connect()  # back: followed again, and told where it stands
        assert welcome["ticket"]["position"] == 1 and mine["ticket"] in journey.positions.line_of


@pytest.mark.parametrize("status", [
    QueueStatus("t-1", "wo-1", "waiting", 3, 240, 2, 0, 120, 600),
    QueueStatus("t-2", "wo-2", "waiting", 12, None, 0, 1),  # nobody staffed: no wait, no range
    QueueStatus("申请人-3", "wo-3", "offered", 1, 0.0, 1, 2, 0, 0),
    QueueStatus("t-4", "wo-4", "waiting", 1, 7.5, 0, 0, 3, 15),
])
def test_the_status_text_is_what_the_message_model_writes(status: QueueStatus) -> None:
    """flush() writes status_text() instead of building a pydantic message for every follower;
    the on_connect welcome still uses the model. Both must be the same text (no duplicate sends)."""
    assert status_text(status) == p.dump(Journey.status_message(status))
