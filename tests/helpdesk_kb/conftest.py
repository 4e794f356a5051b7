"""KB fixtures: jieba once per test session, a small org (units, departments, items, staff), the KB
component on the test's index folder, and an API client whose caller is chosen per request."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import helpdesk_kb.models  # noqa: F401 - registers the kb_ tables before create_schema runs
import httpx
import pytest
from fastapi import FastAPI, Header
from helpdesk_kb.analysis import init_jieba
from helpdesk_kb.component import Kb
from helpdesk_kb.errors import install_error_handler
from helpdesk_kb.index import KbIndex
from helpdesk_kb.perms import set_editor_departments
from helpdesk_kb.routes import make_router
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import helpdesk.models  # noqa: F401 - registers the app's tables
from helpdesk.accounts.models import Role, Staff
from helpdesk.applicants.models import Applicant
from helpdesk.clock import FakeClock
from helpdesk.config import Settings
from helpdesk.org.models import Department, OrgUnit, ServiceItem, UnitLevel
from helpdesk.workorders.models import Channel, WorkOrder, WorkOrderStatus


@pytest.fixture(scope="session", autouse=True)
def jieba_ready() -> None:
    """jieba's dictionary costs ~1.5 s to load: once per test session."""
    init_jieba()


@dataclass
class World:
    city: OrgUnit
    county: OrgUnit
    scjg: Department  # 市场监管
    wsjk: Department  # 卫生健康
    change_item: ServiceItem  # 企业变更登记（营业执照变更）
    food_item: ServiceItem  # 食品经营许可（小餐饮）
    hygiene_item: ServiceItem  # 公共场所卫生许可
    agent: Staff
    supervisor: Staff
    editor_scjg: Staff
    editor_wsjk: Staff


async def build_world(session: AsyncSession, now: Any) -> World:
    city = OrgUnit(code="C1", name="保定市", level=UnitLevel.city, path="")
    session.add(city)
    await session.flush()
    city.path = f"/{city.id}/"
    county = OrgUnit(code="C2", name="竞秀区", level=UnitLevel.county, parent_id=city.id, path="")
    session.add(county)
    await session.flush()
    county.path = f"/{city.id}/{county.id}/"
    scjg = Department(code="SCJG", name="市场监管")
    wsjk = Department(code="WSJK", name="卫生健康")
    session.add_all([scjg, wsjk])
    await session.flush()
    items = [
        ServiceItem(code="SCJG-002", name="企业变更登记（营业执照变更）", department_id=scjg.id),
        ServiceItem(code="SCJG-006", name="食品经营许可（小餐饮）", department_id=scjg.id),
        ServiceItem(code="WSJK-001", name="公共场所卫生许可", department_id=wsjk.id),
    ]
    session.add_all(items)

    def staff(username: str, role: Role, unit: OrgUnit, editor: bool = False) -> Staff:
        return Staff(
            username=username,
            display_name=username,
            password_hash="x",
            role=role,
            unit_id=unit.id,
            kb_editor=editor,
            created_at=now,
        )

    people = [
        staff("agent", Role.agent, county),
        staff("super", Role.supervisor, county),
        staff("ed_scjg", Role.agent, city, True),
        staff("ed_wsjk", Role.agent, city, True),
    ]
    session.add_all(people)
    await session.flush()
    await set_editor_departments(session, people[2].id, [scjg.id])
    await set_editor_departments(session, people[3].id, [wsjk.id])
    await session.commit()
    return World(city, county, scjg, wsjk, *items, *people)


async def make_work_order(session: AsyncSession, world: World, now: Any) -> WorkOrder:
    applicant = Applicant(name="张三", phone="13800000000", created_at=now)
    session.add(applicant)
    await session.flush()
    wo = WorkOrder(
        number=f"WO{now:%H%M%S%f}",
        applicant_id=applicant.id,
        item_id=world.change_item.id,
        unit_id=world.county.id,
        agent_id=world.agent.id,
        status=WorkOrderStatus.in_call,
        channel=Channel.video,
        created_at=now,
        updated_at=now,
    )
    session.add(wo)
    await session.commit()
    return wo


@pytest.fixture
async def world(session: AsyncSession, clock: FakeClock) -> World:
    return await build_world(session, clock.now())


@pytest.fixture
def kb(settings: Settings, clock: FakeClock, db_sessions: async_sessionmaker[AsyncSession]) -> Iterator[Kb]:
    component = Kb(settings, clock, KbIndex(settings.kb_index_dir), sessions=db_sessions)
    yield component
    component.close()


@pytest.fixture
def sent() -> list[tuple[str, Any, dict[str, Any]]]:
    """What the send-to-call hook received."""
    return []


@pytest.fixture
async def api(
    kb: Kb,
    db_sessions: async_sessionmaker[AsyncSession],
    world: World,
    sent: list[tuple[str, Any, dict[str, Any]]],
) -> AsyncIterator[httpx.AsyncClient]:
    """A client on an app with only the KB router; header X-Staff picks the caller by username."""

    async def get_session() -> AsyncIterator[AsyncSession]:
        async with db_sessions() as s:
            yield s

    async def current_staff(x_staff: str = Header("agent")) -> Staff:
        from sqlalchemy import select

        async with db_sessions() as s:
            found = await s.scalar(select(Staff).where(Staff.username == x_staff))
        assert found is not None
        return found

    async def on_send(work_order_id: str, staff: Any, payload: dict[str, Any]) -> dict[str, Any]:
        sent.append((work_order_id, staff, payload))
        return {"message_id": len(sent)}

    app = FastAPI()
    app.state.helpdesk = SimpleNamespace(components={"kb": kb})
    install_error_handler(app)
    app.include_router(make_router(get_session, current_staff, on_send_to_call=on_send))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


@pytest.fixture
async def work_order(session: AsyncSession, world: World, clock: FakeClock) -> WorkOrder:
    return await make_work_order(session, world, clock.now())


@pytest.fixture
def add_article(db_sessions: async_sessionmaker[AsyncSession], kb: Kb, clock: FakeClock) -> Any:
    """Create (and by default publish) an article as the system, then index it like a route would."""
    from helpdesk_kb import service
    from helpdesk_kb.schemas import ArticleIn

    async def add(title: str, body: str = "", *, publish: bool = True, **fields: Any) -> str:
        async with db_sessions() as s:
            article = await service.create_article(
                s, staff=None, data=ArticleIn(title=title, body=body, **fields), now=clock.now()
            )
            if publish:
                await service.publish(s, staff=None, article_id=article.id, now=clock.now())
            await s.commit()
            await kb.reindex_articles(s, [article.id])
            return article.id

    return add
