"""Admin changes take effect without a restart on every process: two app instances share Redis and
the database; a change made through one is seen at once by the other's caches, and an online agent's
queue profile follows an edit of their account."""

from __future__ import annotations

import asyncio

import pytest
from helpdesk_queue import AgentPresence

from helpdesk.accounts.models import Role
from helpdesk.admin.live import CHANNEL, announce_from_cli
from helpdesk.clock import FakeClock
from helpdesk.config import Settings
from tests.helpdesk.admin.world import world
from tests.helpdesk.factories import PASSWORD, api_app, client_for, make_staff, make_unit


async def test_an_item_change_reaches_the_other_process(settings: Settings, clock: FakeClock, redis_url: str,
                                                        redis_prefix: str) -> None:
    shared = replace_settings(settings, redis_url, redis_prefix)
    async with api_app(shared, clock) as one, api_app(shared, clock) as two:
        async with one.state.helpdesk.sessions() as s:
            city = await make_unit(s, code="130600")
            await make_staff(s, unit=city, role=Role.admin, username="live.admin")
            await s.commit()
        async with client_for(one) as admin, client_for(two) as public:
            r = await admin.post("/api/auth/login", json={"username": "live.admin", "password": PASSWORD})
            assert r.status_code == 200
            await admin.put("/api/admin/departments", json={"code": "SCJG", "name": "市场监管"})
            assert (await public.get("/api/items")).json() == []  # now cached on process two
            r = await admin.put("/api/admin/items", json={"code": "N-1", "name": "新事项", "department": "SCJG",
                                                          "units": ["130600"]})
            assert r.status_code == 200, r.text

            async def seen() -> bool:
                return [i["code"] for i in (await public.get("/api/items")).json()] == ["N-1"]

            async with asyncio.timeout(5):  # the announcement crosses Redis: not instant, but soon
                while not await seen():
                    await asyncio.sleep(0.05)


def replace_settings(settings: Settings, redis_url: str, prefix: str) -> Settings:
    return settings.model_copy(update={"redis_url": redis_url, "redis_prefix": prefix})


async def test_an_online_agents_profile_follows_their_account(settings: Settings, clock: FakeClock) -> None:
    async with world(settings, clock, ("admin",)) as w:
        journey = w.app.state.helpdesk.components["journey"]
        agent_id = w.ids["staff_agent_a"]
        await journey.queue.agent_online(AgentPresence(agent_id=agent_id, unit_id=w.ids["a"], capacity=1), "ready")
        journey.local_agents.add(agent_id)
        r = await w.clients["admin"].patch(f"/api/admin/staff/{agent_id}", json={"capacity": 3, "skills": ["SCJG"]})
        assert r.status_code == 200, r.text
        agent = await journey.queue.store.get_agent(agent_id)
        assert agent.capacity == 3 and agent.department_ids == {w.ids["dept"]} and agent.state == "ready"
        await w.clients["admin"].patch(f"/api/admin/staff/{agent_id}", json={"is_active": False})
        assert (await journey.queue.store.get_agent(agent_id)).state == "offline"



async def test_a_command_line_import_tells_the_servers(redis_url: str, redis_prefix: str,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import redis.asyncio as aioredis

    monkeypatch.setenv("HELPDESK_REDIS_URL", redis_url)
    monkeypatch.setenv("HELPDESK_REDIS_PREFIX", redis_prefix)
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    pubsub = client.pubsub()
    await pubsub.subscribe(redis_prefix + CHANNEL)
    try:
        await announce_from_cli(("items",))
        async with asyncio.timeout(5):
            async for message in pubsub.listen():
                if message["type"] == "message":
                    assert message["data"] == '["items"]'
                    break
    finally:
        await pubsub.aclose()
        await client.aclose()
