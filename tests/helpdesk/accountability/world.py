"""A small province for the accountability tests: city → county A → township A1, and county B,
with a supervisor in each unit and agents in A, A1 and B."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from helpdesk.accountability.notify import NotifyEvent
from helpdesk.accounts.models import Role, Staff
from helpdesk.db import make_engine, make_session_factory
from helpdesk.org.models import OrgUnit, ServiceItem, UnitLevel
from helpdesk.workorders import service as wos
from helpdesk.workorders.models import WorkOrder
from tests.helpdesk.factories import create_tables, make_applicant, make_item, make_staff, make_unit


@dataclass
class World:
    units: dict[str, OrgUnit]
    staff: dict[str, Staff]
    item: ServiceItem

    def id(self, name: str) -> int:
        return self.staff[name].id


async def build_world(s: AsyncSession) -> World:
    city = await make_unit(s, name="保定市", level=UnitLevel.city)
    a = await make_unit(s, parent=city, name="莲池区")
    a1 = await make_unit(s, parent=a, name="五尧乡", level=UnitLevel.township)
    b = await make_unit(s, parent=city, name="竞秀区")
    units = {"city": city, "a": a, "a1": a1, "b": b}
    staff = {
        "admin": await make_staff(s, unit=city, role=Role.admin, username=f"admin{city.id}"),
        "sup_city": await make_staff(s, unit=city, role=Role.supervisor),
        "sup_a": await make_staff(s, unit=a, role=Role.supervisor),
        "sup_a1": await make_staff(s, unit=a1, role=Role.supervisor),
        "sup_b": await make_staff(s, unit=b, role=Role.supervisor),
        "agent_a": await make_staff(s, unit=a),
        "agent_a1": await make_staff(s, unit=a1),
        "agent_a1b": await make_staff(s, unit=a1),
        "agent_b": await make_staff(s, unit=b),
    }
    item = await make_item(s, units=[a, a1, b])
    await s.commit()
    return World(units, staff, item)


async def callback(s: AsyncSession, w: World, unit: str, now: datetime) -> WorkOrder:
    """A call back requested from the applicant page: unit-owned, nobody has it yet."""
    applicant = await make_applicant(s, phone="13800000000")
    wo = await wos.create_callback(s, applicant_id=applicant.id, item_id=w.item.id, unit_id=w.units[unit].id,
                                   phone="13800000000", preferred_time=None, note=None, reason="requested",
                                   now=now)
    await s.commit()
    return wo


@dataclass
class Inbox:
    """A notify sink that remembers what it was given."""

    events: list[NotifyEvent] = field(default_factory=list)

    async def __call__(self, event: NotifyEvent) -> None:
        self.events.append(event)

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]

    def take(self) -> list[tuple[str, list[int]]]:
        out = [(e.kind, sorted(e.staff_ids)) for e in self.events]
        self.events.clear()
        return out


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url"))


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    await create_tables(db_url)
    engine = make_engine(db_url)
    yield make_session_factory(engine)
    await engine.dispose()


async def reload(s: AsyncSession, wo_id: str) -> WorkOrder:
    wo = await s.scalar(select(WorkOrder).where(WorkOrder.id == wo_id).execution_options(populate_existing=True))
    assert wo is not None
    return wo


def fields(wo: WorkOrder, *names: str) -> dict[str, Any]:
    return {n: getattr(wo, n) for n in names}
