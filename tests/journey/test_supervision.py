"""The supervisors' live wall over the socket: what a county supervisor sees, and what they do not."""

from __future__ import annotations

from typing import Any

import pytest

from helpdesk.accounts.models import Role
from helpdesk.clock import FakeClock
from helpdesk.config import Settings
from helpdesk.org.models import UnitLevel
from tests.helpdesk.factories import make_staff, make_unit
from tests.journey.live import ALWAYS_OPEN, Browser, Live, live_app


@pytest.fixture
async def live(settings: Settings, clock: FakeClock) -> Any:
    async with live_app(settings, clock) as server:
        yield server


async def snapshot_where(b: Browser, check: Any) -> dict[str, Any]:
    """The wall also refreshes by itself every few seconds: skip snapshots from before the change."""
    while True:
        snap = await b.expect("supervisor.snapshot", timeout=5)
        if check(snap):
            return snap


async def test_county_supervisor_sees_their_queue_and_not_another_county(live: Live, clock: FakeClock) -> None:
    async with live.state.sessions() as s:
        other = await make_unit(s, parent=live.seed["city"], name="清苑区", level=UnitLevel.county,
                                business_hours=ALWAYS_OPEN)
        other_sup = await make_staff(s, unit=other, role=Role.supervisor)
        await s.commit()
    feed = live.state.components["supervision"]
    async with Browser(live) as sup, Browser(live) as stranger, Browser(live) as agent, \
            Browser(live) as applicant:
        await sup.login(live.seed["supervisor"].username)
        await sup.connect()
        await stranger.login(other_sup.username)
        await stranger.connect()
        await agent.login(live.seed["agent"].username)
        await agent.connect()
        await applicant.open_help(live.seed["item"].code)
        await applicant.connect()
        r = await applicant.http.post("/api/help/requests", json={"item": live.seed["item"].code,
                                                                   "unit": live.seed["county"].code})
        assert r.status_code == 200
        clock.advance(42)
        await feed.push()
        # The wall also pushed by itself before the clock moved: wait for one taken after it.
        snap = await snapshot_where(sup, lambda m: m["totals"]["waiting"] == 1 and m["queues"][0]["longest_wait_s"] > 0)
        [line] = snap["queues"]
        assert line["item_name"] == "企业设立登记" and line["longest_wait_s"] == pytest.approx(42)
        assert [a["name"] for a in snap["agents"]] == ["王帮办"] and snap["agents"][0]["state"] == "away"
        other_snap = await stranger.expect("supervisor.snapshot")
        assert other_snap["queues"] == [] and other_snap["agents"] == [] and other_snap["totals"]["waiting"] == 0

        # The call shows as in progress on the wall once the agent takes it.
        await agent.send({"type": "agent.state", "state": "ready"})
        offer = await agent.expect("offer")
        await agent.send({"type": "offer.accept", "ticket": offer["ticket"]})
        await agent.expect("room.joined")
        await feed.push()
        snap = await snapshot_where(sup, lambda m: bool(m["calls"]))
        assert snap["calls"][0]["agent_name"] == "王帮办" and snap["totals"]["waiting"] == 0


async def test_agents_get_no_wall(live: Live) -> None:
    feed = live.state.components["supervision"]
    async with Browser(live) as agent:
        await agent.login(live.seed["agent"].username)
        await agent.connect()
        await feed.push()
        assert not feed.watchers
