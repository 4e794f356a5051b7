"""Fixtures of the inspection tests: a small world (unit, items, staff, applicant, work order)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import helpdesk_inspection.models  # noqa: F401 - registers the insp_ tables before create_all
import pytest
from helpdesk_inspection import checklists
from helpdesk_inspection.live import LiveMedia
from helpdesk_inspection.schemas import PointIn
from helpdesk_inspection.service import InspectionService
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import helpdesk.models as hm
from helpdesk.clock import FakeClock
from helpdesk.config import Settings

NOW = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)


@dataclass
class World:
    unit_id: int
    food_item: int  # inspection-enabled, with a checklist
    bare_item: int  # inspection-enabled, no checklist
    plain_item: int  # not open to inspection
    agent: Any
    other_agent: Any
    supervisor: Any
    applicant_id: str
    work_order: str
    extra: dict[str, str] = field(default_factory=dict)


async def make_work_order(session: AsyncSession, world: World, item_id: int, number: str) -> str:
    wo = hm.WorkOrder(
        number=number,
        applicant_id=world.applicant_id,
        item_id=item_id,
        unit_id=world.unit_id,
        agent_id=world.agent.id,
        status=hm.WorkOrderStatus.in_call,
        channel=hm.Channel.video,
        created_at=NOW,
        updated_at=NOW,
    )
    session.add(wo)
    await session.flush()
    return wo.id


@pytest.fixture
async def world(db_sessions: async_sessionmaker[AsyncSession]) -> World:
    async with db_sessions() as s:
        unit = hm.OrgUnit(code="bd", name="保定市行政审批局", level=hm.UnitLevel.city, path="/")
        dept = hm.Department(code="sc", name="市场监管")
        s.add_all([unit, dept])
        await s.flush()
        items = [
            hm.ServiceItem(code=f"I{n}", name=name, department_id=dept.id, remote_inspection=flag)
            for n, (name, flag) in enumerate(
                [("食品经营许可（小餐饮）", True), ("公共场所卫生许可", True), ("个体工商户登记", False)]
            )
        ]
        staff = [
            hm.Staff(username=u, display_name=u, password_hash="x", role=r, unit_id=unit.id)
            for u, r in [("agent1", hm.Role.agent), ("agent2", hm.Role.agent), ("boss", hm.Role.supervisor)]
        ]
        applicant = hm.Applicant(name="张三", phone="13800000000", created_at=NOW)
        s.add_all([*items, *staff, applicant])
        await s.flush()
        await checklists.save(
            s,
            item_id=items[0].id,
            title="小餐饮现场核查",
            now=NOW,
            points=[
                PointIn(key="K1", title="加工场所布局", guidance="请拍摄操作间全景", compliance="生熟分开"),
                PointIn(key="K2", title="冷藏设施", guidance="打开冰箱", compliance="温度≤5℃"),
                PointIn(key="K3", title="消毒设施", guidance="拍摄消毒柜", compliance="正常运转"),
            ],
        )
        w = World(unit.id, items[0].id, items[1].id, items[2].id, staff[0], staff[1], staff[2], applicant.id, "")
        w.work_order = await make_work_order(s, w, items[0].id, "WO-1")
        await s.commit()
        return w


@pytest.fixture
def sent() -> list[tuple[str, dict[str, Any]]]:
    return []


@pytest.fixture
async def service(
    settings: Settings, clock: FakeClock, sent: list[tuple[str, dict[str, Any]]]
) -> AsyncIterator[InspectionService]:
    async def send(member: str, message: dict[str, Any]) -> None:
        sent.append((member, message))

    live = LiveMedia(settings.recordings_dir)
    yield InspectionService(settings=settings, clock=clock, send_to_member=send, live=live)
    await live.close_all()
