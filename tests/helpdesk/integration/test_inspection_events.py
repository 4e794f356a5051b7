"""An inspection's outcome lands on the work order's timeline in the same transaction, and so in the
outbox as inspection.passed / inspection.failed."""

from __future__ import annotations

from helpdesk_inspection import checklists
from helpdesk_inspection.models import InspectionOutcome, MarkResult
from helpdesk_inspection.schemas import PointIn
from sqlalchemy import select

from helpdesk.accounts.models import Role
from helpdesk.integration.models import IntegrationEvent
from helpdesk.workorders.models import WorkOrderEvent, WorkOrderStatus
from tests.helpdesk.factories import api_app, make_item, make_staff, make_unit, make_work_order


async def test_inspection_outcomes_reach_the_timeline_and_the_outbox(settings, clock, session) -> None:
    unit = await make_unit(session)
    item = await make_item(session, units=[unit], remote_inspection=True)
    agent = await make_staff(session, unit=unit, role=Role.agent)
    await checklists.save(session, item_id=item.id, title="小餐饮", now=clock.now(),
                          points=[PointIn(title="洗手设施", guidance="看水池")])
    orders = [await make_work_order(session, unit=unit, item=item, agent_id=agent.id,
                                    status=WorkOrderStatus.in_call) for _ in range(2)]
    await session.commit()
    async with api_app(settings, clock) as app:
        service = app.state.helpdesk.components["inspection"].service
        for wo, outcome, result in ((orders[0], InspectionOutcome.passed, MarkResult.passed),
                                    (orders[1], InspectionOutcome.failed, MarkResult.failed)):
            async with app.state.helpdesk.sessions() as s:
                insp = await service.start(s, staff=agent, work_order_id=wo.id, room=None)
                await service.consent(s, applicant_id=wo.applicant_id, inspection_id=insp.id, accept=True)
                await service.mark(s, staff=agent, inspection_id=insp.id, point_key=insp.point_keys[0], result=result)
                await service.end(s, staff=agent, inspection_id=insp.id, outcome=outcome)
                await s.commit()
    kinds = (await session.execute(select(WorkOrderEvent.work_order_id, WorkOrderEvent.kind)
                                   .where(WorkOrderEvent.kind.like("inspection_%")))).all()
    assert sorted(kinds) == sorted([(orders[0].id, "inspection_passed"), (orders[1].id, "inspection_failed")])
    events = (await session.scalars(select(IntegrationEvent.type).where(IntegrationEvent.type.like("inspection.%"))))
    assert sorted(events.all()) == ["inspection.failed", "inspection.passed"]
