"""Admin side of the integration: webhook subscriptions, the delivery log with dead letters to replay,
applicant messages and their templates, one-thing-once packages. Admins only."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import AnyHttpUrl, BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk.deps import ClockDep, CurrentAdmin, SessionDep, StateDep
from helpdesk.errors import BadRequest, NotFound
from helpdesk.integration import messages, packages, sender
from helpdesk.integration.models import (
    ApplicantMessage,
    EventDelivery,
    IntegrationEvent,
    MessageTemplate,
    ServicePackage,
    WebhookSubscription,
)
from helpdesk.integration.outbox import ALL_TYPES
from helpdesk.org.models import OrgUnit
from helpdesk.workorders.models import WorkOrder

router = APIRouter(prefix="/api/admin", tags=["integration admin"])


class SubscriptionIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    url: AnyHttpUrl
    events: list[str] = Field(default_factory=lambda: ["*"], max_length=len(ALL_TYPES) + 1)
    unit: str | None = Field(None, max_length=64, description="Only events of this unit's subtree.")
    secret: str | None = Field(None, min_length=32, max_length=128, description="Default: generated, shown once.")


def subscription_view(sub: WebhookSubscription, unit_code: str | None = None) -> dict[str, Any]:
    return {"id": sub.id, "name": sub.name, "url": sub.url, "events": sub.events, "unit": unit_code,
            "active": sub.active, "created_at": sub.created_at.isoformat()}


@router.get("/webhooks")
async def list_webhooks(admin: CurrentAdmin, session: SessionDep) -> dict[str, Any]:
    subs = (await session.scalars(select(WebhookSubscription).order_by(WebhookSubscription.id))).all()
    codes = {u.id: u.code for u in (await session.scalars(select(OrgUnit))).all()}
    return {"event_types": ALL_TYPES,
            "subscriptions": [subscription_view(s, codes.get(s.unit_id) if s.unit_id else None) for s in subs]}


@router.post("/webhooks", status_code=201)
async def create_webhook(body: SubscriptionIn, admin: CurrentAdmin, session: SessionDep,
                         clock: ClockDep) -> dict[str, Any]:
    """The signing secret is shown in this answer only."""
    unknown = [e for e in body.events if e != "*" and e not in ALL_TYPES]
    if unknown or not body.events:
        raise BadRequest(f"unknown event types {unknown}; known: {ALL_TYPES}", code="bad_events")
    unit = None
    if body.unit:
        unit = await session.scalar(select(OrgUnit).where(OrgUnit.code == body.unit))
        if unit is None:
            raise NotFound(f"unit {body.unit!r} not found", code="unknown_unit")
    secret = body.secret or secrets.token_urlsafe(32)
    sub = WebhookSubscription(name=body.name, url=str(body.url), secret=secret, events=sorted(set(body.events)),
                              unit_id=unit.id if unit else None, active=True, created_by=admin.id,
                              created_at=clock.now())
    session.add(sub)
    await session.commit()
    return subscription_view(sub, body.unit) | {"secret": secret}


@router.delete("/webhooks/{sub_id}")
async def deactivate_webhook(sub_id: int, admin: CurrentAdmin, session: SessionDep) -> dict[str, Any]:
    """Stops new deliveries; the log and pending rows stay (pending ones are still sent)."""
    sub = await session.get(WebhookSubscription, sub_id)
    if sub is None:
        raise NotFound(f"webhook subscription {sub_id} not found")
    sub.active = False
    await session.commit()
    return subscription_view(sub)


@router.get("/webhook-deliveries")
async def delivery_log(admin: CurrentAdmin, session: SessionDep,
                       status: Annotated[Literal["pending", "delivered", "dead"] | None, Query()] = None,
                       subscription: Annotated[int | None, Query()] = None,
                       limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[dict[str, Any]]:
    """The delivery log, newest first; status=dead lists the dead letters."""
    stmt = (select(EventDelivery, IntegrationEvent.type, WorkOrder.number)
            .join(IntegrationEvent, IntegrationEvent.id == EventDelivery.event_id)
            .outerjoin(WorkOrder, WorkOrder.id == IntegrationEvent.work_order_id))
    if status:
        stmt = stmt.where(EventDelivery.status == status)
    if subscription:
        stmt = stmt.where(EventDelivery.subscription_id == subscription)
    rows = (await session.execute(stmt.order_by(EventDelivery.created_at.desc()).limit(limit))).all()
    return [{"id": d.id, "event_id": d.event_id, "event_type": etype, "work_order": number,
             "subscription_id": d.subscription_id, "status": d.status, "attempts": d.attempts,
             "last_status": d.last_status, "last_error": d.last_error, "next_attempt_at": _iso(d.next_attempt_at),
             "delivered_at": _iso(d.delivered_at), "created_at": _iso(d.created_at)} for d, etype, number in rows]


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


@router.post("/webhook-deliveries/{delivery_id}/replay")
async def replay_delivery(delivery_id: str, admin: CurrentAdmin, session: SessionDep, clock: ClockDep,
                          state: StateDep) -> dict[str, Any]:
    row = await sender.replay(session, delivery_id, clock.now())
    if row is None:
        raise NotFound(f"delivery {delivery_id} not found")
    await session.commit()
    if (s := state.components.get("outbox_sender")) is not None:
        s.wake.set()
    return {"id": row.id, "status": row.status}


@router.get("/messages")
async def message_log(admin: CurrentAdmin, session: SessionDep,
                      limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[dict[str, Any]]:
    rows = (await session.scalars(select(ApplicantMessage).order_by(ApplicantMessage.created_at.desc())
                                  .limit(limit))).all()
    return [{"id": m.id, "template": m.template, "language": m.language, "phone": mask(m.phone), "status": m.status,
             "attempts": m.attempts, "last_error": m.last_error, "created_at": _iso(m.created_at),
             "sent_at": _iso(m.sent_at)} for m in rows]


def mask(phone: str) -> str:
    return phone[:3] + "*" * max(len(phone) - 7, 0) + phone[-4:] if len(phone) > 7 else "*" * len(phone)


class TemplateIn(BaseModel):
    body: str = Field(min_length=1, max_length=500)


@router.get("/message-templates")
async def list_templates(admin: CurrentAdmin, session: SessionDep) -> list[dict[str, Any]]:
    rows = {(t.key, t.language): t for t in (await session.scalars(select(MessageTemplate))).all()}
    return [{"key": key, "language": lang, "body": rows[(key, lang)].body if (key, lang) in rows else default,
             "default": default, "fields": sorted(messages.FIELDS[key]),
             "updated_at": _iso(rows[(key, lang)].updated_at) if (key, lang) in rows else None}
            for key, by_lang in messages.DEFAULT_TEMPLATES.items() for lang, default in by_lang.items()]


@router.put("/message-templates/{key}/{language}")
async def save_template(key: str, language: Literal["zh-CN", "en"], body: TemplateIn, admin: CurrentAdmin,
                        session: SessionDep, clock: ClockDep) -> dict[str, Any]:
    messages.check_template(key, body.body)
    row = await session.scalar(select(MessageTemplate).where(MessageTemplate.key == key,
                                                             MessageTemplate.language == language))
    if row is None:
        row = MessageTemplate(key=key, language=language, body=body.body, updated_at=clock.now())
        session.add(row)
    row.body, row.updated_by, row.updated_at = body.body, admin.id, clock.now()
    await session.commit()
    return {"key": key, "language": language, "body": row.body}


class PackageIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    name_en: str | None = Field(None, max_length=200)
    items: list[str] = Field(min_length=2, max_length=50)
    lead_item: str | None = Field(None, max_length=64)
    active: bool = True


@router.get("/packages")
async def admin_packages(admin: CurrentAdmin, session: SessionDep) -> list[dict[str, Any]]:
    return [await packages.view(session, p) for p in await _all_packages(session)]


async def _all_packages(session: AsyncSession) -> list[ServicePackage]:
    return list((await session.scalars(select(ServicePackage).order_by(ServicePackage.code))).all())


@router.put("/packages/{code}")
async def save_package(code: str, body: PackageIn, admin: CurrentAdmin,
                       session: SessionDep, clock: ClockDep) -> dict[str, Any]:
    pkg = await packages.save(session, code=code, name=body.name, name_en=body.name_en, item_codes=body.items,
                              lead_item=body.lead_item, active=body.active, now=clock.now())
    await session.commit()
    return await packages.view(session, pkg)
