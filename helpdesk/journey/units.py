"""Which unit an applicant is served by, its fallback chain, and who is online for an item."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk.errors import NotFound
from helpdesk.org.models import OrgUnit, ServiceItem, ServiceItemUnit, UnitLevel

if TYPE_CHECKING:
    from helpdesk.journey.service import Journey


async def chain_for(session: AsyncSession, item: ServiceItem, unit_code: str | None) -> list[OrgUnit]:
    """The applicant's unit then its ancestors up to the city (nearest first).

    Without a unit code: the highest unit that handles the item (usually the city bureau)."""
    if unit_code:
        unit = await session.scalar(select(OrgUnit).where(OrgUnit.code == unit_code))
        if unit is None or unit.disabled:
            raise NotFound(f"service centre {unit_code!r} not found", code="unknown_unit")
    else:
        unit = await session.scalar(
            select(OrgUnit).join(ServiceItemUnit, ServiceItemUnit.unit_id == OrgUnit.id)
            .where(ServiceItemUnit.item_id == item.id, OrgUnit.disabled.is_(False))
            .order_by(func.length(OrgUnit.path), OrgUnit.id).limit(1))
        if unit is None:
            raise NotFound("no service centre handles this item", code="not_offered")
    ids = [int(x) for x in unit.path.strip("/").split("/") if x] or [unit.id]
    rows = {u.id: u for u in (await session.scalars(select(OrgUnit).where(OrgUnit.id.in_(ids)))).all()}
    chain = [rows[i] for i in reversed(ids) if i in rows and not rows[i].disabled]
    return [u for u in chain if u.level != UnitLevel.province] or chain


async def agents_for(journey: Journey, item: ServiceItem, unit_ids: list[int]) -> tuple[int, int]:
    """(agents ready with a free slot, agents online) for the item anywhere in the chain.

    An agent who is away is online: they will be back, so the applicant may wait for them."""
    ready = online = 0
    for agent in await journey.queue.store.list_agents():
        if agent.unit_id in unit_ids and agent.skilled_for(item.id, item.department_id):
            if agent.state != "offline":
                online += 1
            if agent.routable:
                ready += 1
    return ready, online
