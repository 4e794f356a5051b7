"""The integration API (/api/v1/) for partner systems holding an API token: work orders (12345
hand-ins, status, timeline, listing, notes and outcomes). Every route checks its scope, the token's
unit (a token of a county sees that county's subtree only) and a per-token rate limit; every write
lands on the work order's hash-chained timeline with the token as actor."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk.access import unit_subtree_ids_select
from helpdesk.accounts.models import ApiToken
from helpdesk.applicants.models import Applicant
from helpdesk.deps import ClockDep, SessionDep
from helpdesk.errors import BadRequest, Conflict, NotFound
from helpdesk.integration.outbox import work_order_view
from helpdesk.integration.ratelimit import scoped
from helpdesk.integration.timeline import describe
from helpdesk.journey import units
from helpdesk.journey.routes import item_or_404
from helpdesk.journey.schemas import PHONE
from helpdesk.org.models import OrgUnit
from helpdesk.workorders import service as wos
from helpdesk.workorders.models import WorkOrder, WorkOrderEvent, WorkOrderStatus

router = APIRouter(prefix="/api/v1", tags=["integration"])

ReadToken = Annotated[ApiToken, scoped("workorders:read")]
WriteToken = Annotated[ApiToken, scoped("workorders:write")]
CLOSED = {WorkOrderStatus.resolved, WorkOrderStatus.closed, WorkOrderStatus.abandoned}


class HandInIn(BaseModel):
    """A request handed in from another system, e.g. a 12345 hotline ticket: it becomes a call-back."""

    item: str = Field(min_length=1, max_length=64, description="Service item code.")
    unit: str | None = Field(None, max_length=64, description="Unit code; default: the item's highest unit.")
    phone: str = Field(max_length=32, pattern=PHONE)
    name: str | None = Field(None, max_length=100)
    text: str = Field(min_length=1, max_length=4000, description="The citizen's request in their words.")
    external_ref: str = Field(min_length=1, max_length=128, description="The partner's ticket id (idempotency).")
    preferred_time: str | None = Field(None, max_length=64)


class NoteIn(BaseModel):
    text: str = Field(min_length=1, max_length=4000)


class OutcomeIn(BaseModel):
    outcome: Literal["resolved", "callback_missed"]
    note: str = Field("", max_length=4000)


def actor(token: ApiToken) -> str:
    return f"t:{token.prefix}"


async def token_unit_path(session: AsyncSession, token: ApiToken) -> str | None:
    if token.unit_id is None:
        return None
    unit = await session.get(OrgUnit, token.unit_id)
    return unit.path if unit else "\0"  # a deleted unit sees nothing


async def in_scope(session: AsyncSession, token: ApiToken, wo: WorkOrder) -> bool:
    path = await token_unit_path(session, token)
    if path is None:
        return True
    for unit_id in (wo.unit_id, wo.handled_unit_id):
        unit = await session.get(OrgUnit, unit_id) if unit_id else None
        if unit is not None and unit.path.startswith(path):
            return True
    return False


async def find_work_order(session: AsyncSession, token: ApiToken, ref: str) -> WorkOrder:
    """By id or by number; someone else's unit answers as unknown (no probing)."""
    wo = await session.scalar(select(WorkOrder).where(or_(WorkOrder.id == ref, WorkOrder.number == ref)))
    if wo is None or not await in_scope(session, token, wo):
        raise NotFound(f"work order {ref!r} not found", code="unknown_work_order")
    return wo


async def full_view(session: AsyncSession, wo: WorkOrder) -> dict[str, Any]:
    events = (await session.scalars(select(WorkOrderEvent).where(WorkOrderEvent.work_order_id == wo.id)
                                    .order_by(WorkOrderEvent.seq))).all()
    return await work_order_view(session, wo) | {"timeline": [describe(e) for e in events]}


@router.post("/work-orders", status_code=201)
async def hand_in(body: HandInIn, token: WriteToken, session: SessionDep, clock: ClockDep) -> dict[str, Any]:
    """Creates a call-back work order from another system; the same external_ref answers the same order."""
    now = clock.now()
    issuer = f"api:{token.prefix}"
    applicant = await session.scalar(select(Applicant).where(Applicant.issuer == issuer,
                                                             Applicant.external_id == body.external_ref))
    if applicant is not None:
        wo = await session.scalar(select(WorkOrder).where(WorkOrder.applicant_id == applicant.id)
                                  .order_by(WorkOrder.created_at).limit(1))
        if wo is not None:
            return await full_view(session, wo) | {"created": False}
    item = await item_or_404(session, body.item)
    chain = await units.chain_for(session, item, body.unit)
    path = await token_unit_path(session, token)
    if path is not None and not chain[0].path.startswith(path):
        raise NotFound(f"service centre {chain[0].code!r} not found", code="unknown_unit")
    applicant = Applicant(issuer=issuer, external_id=body.external_ref, name=body.name, phone=body.phone,
                          created_at=now)
    session.add(applicant)
    await session.flush()
    wo = await wos.create_callback(session, applicant_id=applicant.id, item_id=item.id, unit_id=chain[0].id,
                                   phone=body.phone, preferred_time=body.preferred_time, note=body.text,
                                   reason="hand_in", now=now)
    wo.handoff = {"issuer": issuer, "ctx": {"external_ref": body.external_ref, "text": body.text}}
    await wos.record_event(session, wo, "handed_in", actor(token), now, external_ref=body.external_ref)
    await session.commit()
    return await full_view(session, wo) | {"created": True}


@router.get("/work-orders/{ref}")
async def read_work_order(ref: str, token: ReadToken, session: SessionDep) -> dict[str, Any]:
    return await full_view(session, await find_work_order(session, token, ref))


def encode_cursor(wo: WorkOrder) -> str:
    return base64.urlsafe_b64encode(f"{wo.updated_at.isoformat()}|{wo.id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        at, _, wo_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return datetime.fromisoformat(at), wo_id
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise BadRequest("cursor is not one this API gave out", code="bad_cursor") from exc


@router.get("/work-orders")
async def list_work_orders(
    token: ReadToken, session: SessionDep,
    unit: Annotated[str | None, Query(max_length=64, description="Unit code: that unit's subtree")] = None,
    status: Annotated[WorkOrderStatus | None, Query()] = None,
    updated_since: Annotated[datetime | None, Query(description="ISO time, inclusive")] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    """Oldest change first, so a partner polls with updated_since and follows next_cursor to the end."""
    stmt = select(WorkOrder)
    for path in filter(None, [await token_unit_path(session, token), await _unit_path(session, unit)]):
        stmt = stmt.where(WorkOrder.unit_id.in_(unit_subtree_ids_select(path)))
    if status is not None:
        stmt = stmt.where(WorkOrder.status == status)
    if updated_since is not None:
        stmt = stmt.where(WorkOrder.updated_at >= updated_since)
    if cursor:
        at, wo_id = decode_cursor(cursor)
        stmt = stmt.where(or_(WorkOrder.updated_at > at, and_(WorkOrder.updated_at == at, WorkOrder.id > wo_id)))
    rows = (await session.scalars(stmt.order_by(WorkOrder.updated_at, WorkOrder.id).limit(limit + 1))).all()
    page = rows[:limit]
    return {"items": [await work_order_view(session, wo) for wo in page],
            "next_cursor": encode_cursor(page[-1]) if len(rows) > limit else None}


async def unit_by_code(session: AsyncSession, code: str) -> OrgUnit:
    unit = await session.scalar(select(OrgUnit).where(OrgUnit.code == code))
    if unit is None:
        raise NotFound(f"unit {code!r} not found", code="unknown_unit")
    return unit


async def _unit_path(session: AsyncSession, code: str | None) -> str | None:
    return (await unit_by_code(session, code)).path if code is not None else None


@router.post("/work-orders/{ref}/notes", status_code=201)
async def add_note(ref: str, body: NoteIn, token: WriteToken, session: SessionDep, clock: ClockDep) -> dict[str, Any]:
    wo = await find_work_order(session, token, ref)
    await wos.record_event(session, wo, "note", actor(token), clock.now(), text=body.text)
    await session.commit()
    return await full_view(session, wo)


@router.post("/work-orders/{ref}/outcome")
async def post_outcome(ref: str, body: OutcomeIn, token: WriteToken, session: SessionDep,
                       clock: ClockDep) -> dict[str, Any]:
    """A partner who handled the request (e.g. the hotline called back) reports how it ended."""
    wo = await find_work_order(session, token, ref)
    now = clock.now()
    if wo.status in CLOSED or wo.status in wos.OPEN_STATES:
        raise Conflict(f"work order {wo.number} is {wo.status}: no outcome can be posted", code="wrong_state")
    if body.outcome == "resolved":
        wo.status = WorkOrderStatus.resolved
        wo.escalate_at = None
        await wos.record_event(session, wo, "resolved", actor(token), now, note=body.note)
    else:
        await wos.record_event(session, wo, "callback_missed", actor(token), now, note=body.note)
    await session.commit()
    return await full_view(session, wo)
