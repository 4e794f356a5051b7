"""An agent's chosen state in the database (helpdesk.journey.agent_status): written in one autocommit
upsert on both backends, the row created the first time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from helpdesk.journey import agent_status
from helpdesk.journey.records import AgentStatus
from tests.conftest import fresh_database
from tests.helpdesk.factories import T0, make_staff, make_unit


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url"))


async def test_the_chosen_state_is_created_then_replaced_and_committed(url: str) -> None:
    async with fresh_database(url) as (engine, sessions):
        async with sessions() as s:
            unit = await make_unit(s)
            staff = await make_staff(s, unit=unit)
            await s.commit()
        await agent_status.remember_state(engine, staff.id, "ready", T0)  # no row yet: created
        await agent_status.remember_state(engine, staff.id, "away", T0 + timedelta(seconds=5))
        async with sessions() as s:  # another connection sees it: committed without a commit call
            rows = (await s.scalars(select(AgentStatus))).all()
        assert [(r.staff_id, r.state, r.state_at) for r in rows] == [(staff.id, "away", T0 + timedelta(seconds=5))]
        connected = await agent_status.connected(sessions, staff.id, T0 + timedelta(seconds=6), 30)
        assert connected == "away"  # the rest of the row's life goes on as before
