"""The integration API's catalogue side: units, items, opening hours, one-thing-once packages, and
hand-off links for partners that cannot sign tokens themselves."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import or_, select

from helpdesk.accounts.models import ApiToken
from helpdesk.applicants.handoff import issue_handoff
from helpdesk.deps import ClockDep, SessionDep, SettingsDep
from helpdesk.errors import NotFound
from helpdesk.integration import packages
from helpdesk.integration.api import token_unit_path, unit_by_code
from helpdesk.integration.ratelimit import scoped
from helpdesk.journey.routes import item_or_404
from helpdesk.journey.schemas import PHONE
from helpdesk.org.calendar import load_calendar, open_intervals
from helpdesk.org.models import OrgUnit, ServiceItem, ServiceItemUnit

router = APIRouter(prefix="/api/v1", tags=["integration"])
CatalogToken = Annotated[ApiToken, scoped("catalog:read")]
HandoffToken = Annotated[ApiToken, scoped("handoff:write")]


def unit_view(unit: OrgUnit, parents: dict[int, str]) -> dict[str, Any]:
    return {"code": unit.code, "name": unit.name, "name_en": unit.name_en, "level": str(unit.level),
            "parent": parents.get(unit.parent_id) if unit.parent_id else None}


@router.get("/units")
async def list_units(token: CatalogToken, session: SessionDep) -> list[dict[str, Any]]:
    stmt = select(OrgUnit).order_by(OrgUnit.path)
    if (path := await token_unit_path(session, token)) is not None:
        stmt = stmt.where(OrgUnit.path.startswith(path, autoescape=True))
    rows = (await session.scalars(stmt)).all()
    codes = {u.id: u.code for u in (await session.scalars(select(OrgUnit))).all()}
    return [unit_view(u, codes) for u in rows]


@router.get("/items")
async def list_items(
    token: CatalogToken, session: SessionDep,
    unit: Annotated[str | None, Query(max_length=64, description="Only items this unit handles")] = None,
    q: Annotated[str | None, Query(max_length=100, description="Part of the code or name")] = None,
    offset: Annotated[int, Query(ge=0)] = 0, limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    stmt = select(ServiceItem).order_by(ServiceItem.code)
    if unit:
        u = await unit_by_code(session, unit)
        stmt = stmt.where(ServiceItem.id.in_(select(ServiceItemUnit.item_id).where(ServiceItemUnit.unit_id == u.id)))
    if q:
        stmt = stmt.where(or_(ServiceItem.code.contains(q, autoescape=True),
                              ServiceItem.name.contains(q, autoescape=True)))
    rows = (await session.scalars(stmt.offset(offset).limit(limit + 1))).all()
    return {"items": [{"code": i.code, "name": i.name, "name_en": i.name_en, "video_help": i.video_help,
                       "remote_inspection": i.remote_inspection} for i in rows[:limit]],
            "next_offset": offset + limit if len(rows) > limit else None}


@router.get("/units/{code}/hours")
async def unit_hours(code: str, token: CatalogToken, session: SessionDep, clock: ClockDep,
                     days: Annotated[int, Query(ge=1, le=60)] = 14) -> dict[str, Any]:
    """The weekly hours and the next days' actual opening (holidays and make-up days applied)."""
    unit = await unit_by_code(session, code)
    path = await token_unit_path(session, token)
    if path is not None and not unit.path.startswith(path):
        raise NotFound(f"unit {code!r} not found", code="unknown_unit")
    cal = await load_calendar(session, unit.id)
    now = clock.now()
    today = now.astimezone(cal.tz).date()
    upcoming = []
    for n in range(days):
        day = today + timedelta(days=n)
        spans = open_intervals(day, cal.hours, cal.closed_days, cal.workdays, cal.tz)
        hhmm = [[a.astimezone(cal.tz).strftime("%H:%M"), b.astimezone(cal.tz).strftime("%H:%M")] for a, b in spans]
        upcoming.append({"date": day.isoformat(), "open": hhmm})
    return {"unit": unit.code, "timezone": str(cal.tz), "open_now": cal.is_open(now), "weekly": cal.hours,
            "days": upcoming}


@router.get("/packages")
async def list_packages(token: CatalogToken, session: SessionDep) -> list[dict[str, Any]]:
    return [await packages.view(session, p) for p in await packages.active(session)]


class HandoffLinkIn(BaseModel):
    subject: str = Field(min_length=1, max_length=128, description="The applicant's id in the partner's system.")
    item: str | None = Field(None, max_length=64, description="Service item code (or give a package).")
    package: str | None = Field(None, max_length=64, description="One-thing-once package code.")
    name: str | None = Field(None, max_length=100)
    phone: str | None = Field(None, max_length=32, pattern=PHONE)
    reason: str | None = Field(None, max_length=500, description="Shown to the agent, e.g. a rejection reason.")
    priority: int = Field(0, ge=-100, le=100)
    ttl_s: int = Field(600, ge=30, le=1800)


@router.post("/handoff-links", status_code=201)
async def handoff_link(body: HandoffLinkIn, token: HandoffToken, session: SessionDep, settings: SettingsDep,
                       clock: ClockDep) -> dict[str, Any]:
    """A single-use help link signed by the helpdesk, for a partner that cannot sign tokens itself."""
    ctx: dict[str, Any] = {"partner": token.name}
    if body.reason:
        ctx["reason"] = body.reason
    if body.package:
        pkg = await packages.by_code(session, body.package)
        item = await session.get(ServiceItem, pkg.lead_item_id)
        assert item is not None
        ctx["package"] = pkg.code
    elif body.item:
        item = await item_or_404(session, body.item)
    else:
        raise NotFound("give an item or a package", code="unknown_item")
    now = clock.now()
    jwt_token, jti = issue_handoff(settings, subject=body.subject, item=item.code, now=now, ttl_s=body.ttl_s,
                                   name=body.name, phone=body.phone, priority=body.priority, ctx=ctx)
    query = {"item": item.code, "t": jwt_token} | ({"package": body.package} if body.package else {})
    expires = now + timedelta(seconds=min(body.ttl_s, settings.handoff_max_age_s))
    return {"url": f"{settings.public_base_url.rstrip('/')}/help?{urlencode(query)}", "token": jwt_token,
            "jti": jti, "expires_at": expires.isoformat()}

