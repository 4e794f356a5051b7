"""Every query on the org tree, departments and service items."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk.org.models import Department, Holiday, OrgUnit, ServiceItem, ServiceItemUnit


def path_ids(path: str) -> list[int]:
    """"/1/4/9/" → [1, 4, 9] (root first)."""
    return [int(part) for part in path.strip("/").split("/") if part]


async def get_unit(session: AsyncSession, unit_id: int) -> OrgUnit | None:
    return await session.get(OrgUnit, unit_id)


async def get_unit_by_code(session: AsyncSession, code: str) -> OrgUnit | None:
    return await session.scalar(select(OrgUnit).where(OrgUnit.code == code))


async def list_units(session: AsyncSession) -> Sequence[OrgUnit]:
    return (await session.scalars(select(OrgUnit).order_by(OrgUnit.path, OrgUnit.id))).all()


async def units_by_ids(session: AsyncSession, ids: Sequence[int]) -> Sequence[OrgUnit]:
    if not ids:
        return []
    return (await session.scalars(select(OrgUnit).where(OrgUnit.id.in_(ids)))).all()


async def subtree_units(session: AsyncSession, path: str) -> Sequence[OrgUnit]:
    stmt = select(OrgUnit).where(OrgUnit.path.startswith(path, autoescape=True)).order_by(OrgUnit.path)
    return (await session.scalars(stmt)).all()


async def holidays_for_units(session: AsyncSession, unit_ids: Sequence[int]) -> Sequence[Holiday]:
    """Global holidays (unit_id null) and those of the given units."""
    stmt = select(Holiday).where(Holiday.unit_id.is_(None) | Holiday.unit_id.in_(list(unit_ids)))
    return (await session.scalars(stmt)).all()


async def get_item_by_code(session: AsyncSession, code: str) -> ServiceItem | None:
    return await session.scalar(select(ServiceItem).where(ServiceItem.code == code))


async def list_items_with_departments(session: AsyncSession) -> Sequence[tuple[ServiceItem, Department]]:
    stmt = (
        select(ServiceItem, Department)
        .join(Department, Department.id == ServiceItem.department_id)
        .order_by(Department.code, ServiceItem.code)
    )
    return [(item, dept) for item, dept in (await session.execute(stmt)).all()]


async def get_department(session: AsyncSession, department_id: int) -> Department | None:
    return await session.get(Department, department_id)


async def item_unit_ids(session: AsyncSession, item_id: int) -> list[int]:
    stmt = select(ServiceItemUnit.unit_id).where(ServiceItemUnit.item_id == item_id).order_by(
        ServiceItemUnit.unit_id
    )
    return list((await session.scalars(stmt)).all())
