"""One-thing-once packages (一件事一次办): e.g. 开办餐馆一件事 = business licence + food permit + sign
permit. The help page and hand-off links may name a package; routing uses its lead item; the work
order carries the package (and so lists every item); the figures count per package."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk.errors import BadRequest, NotFound
from helpdesk.integration.models import ServicePackage, ServicePackageItem
from helpdesk.org.models import ServiceItem


async def by_code(session: AsyncSession, code: str, *, active_only: bool = True) -> ServicePackage:
    pkg = await session.scalar(select(ServicePackage).where(ServicePackage.code == code))
    if pkg is None or (active_only and not pkg.active):
        raise NotFound(f"package {code!r} not found", code="unknown_package")
    return pkg


async def active(session: AsyncSession) -> Sequence[ServicePackage]:
    return (await session.scalars(select(ServicePackage).where(ServicePackage.active.is_(True))
                                  .order_by(ServicePackage.code))).all()


async def items_of(session: AsyncSession, pkg: ServicePackage) -> list[ServiceItem]:
    rows = await session.execute(select(ServiceItem)
                                 .join(ServicePackageItem, ServicePackageItem.item_id == ServiceItem.id)
                                 .where(ServicePackageItem.package_id == pkg.id).order_by(ServicePackageItem.position))
    return list(rows.scalars())


async def view(session: AsyncSession, pkg: ServicePackage) -> dict[str, Any]:
    lead = await session.get(ServiceItem, pkg.lead_item_id)
    return {"code": pkg.code, "name": pkg.name, "name_en": pkg.name_en, "active": pkg.active,
            "lead_item": lead.code if lead else None,
            "items": [{"code": i.code, "name": i.name, "name_en": i.name_en} for i in await items_of(session, pkg)]}


async def save(session: AsyncSession, *, code: str, name: str, name_en: str | None, item_codes: list[str],
               lead_item: str | None, active: bool, now: datetime) -> ServicePackage:
    """Creates or replaces a package by code (idempotent); the lead item defaults to the first."""
    if len(set(item_codes)) < 2:
        raise BadRequest("a package groups at least two different items", code="bad_package")
    found = {i.code: i for i in (await session.scalars(select(ServiceItem).where(ServiceItem.code.in_(item_codes))))}
    if missing := [c for c in item_codes if c not in found]:
        raise NotFound(f"unknown service items: {', '.join(missing)}", code="unknown_item")
    lead_code = lead_item or item_codes[0]
    if lead_code not in found:
        raise BadRequest("the lead item must be one of the package's items", code="bad_package")
    pkg = await session.scalar(select(ServicePackage).where(ServicePackage.code == code))
    if pkg is None:
        pkg = ServicePackage(code=code, created_at=now, name=name, lead_item_id=found[lead_code].id)
        session.add(pkg)
    pkg.name, pkg.name_en, pkg.lead_item_id, pkg.active = name, name_en, found[lead_code].id, active
    await session.flush()
    await session.execute(delete(ServicePackageItem).where(ServicePackageItem.package_id == pkg.id))
    session.add_all(ServicePackageItem(package_id=pkg.id, item_id=found[c].id, position=n)
                    for n, c in enumerate(dict.fromkeys(item_codes)))
    await session.flush()
    return pkg


async def handoff_entry(session: AsyncSession, code: str) -> dict[str, Any]:
    """What a work order keeps of its package: code, name and every item (so it lists them all)."""
    pkg = await by_code(session, code)
    return {"code": pkg.code, "name": pkg.name, "id": pkg.id,
            "items": [i.code for i in await items_of(session, pkg)]}
