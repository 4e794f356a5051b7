"""What the agent sees when an offer rings, and what each side learns when a room opens."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from helpdesk.accounts.models import Staff
from helpdesk.applicants.models import Applicant
from helpdesk.org.models import OrgUnit, ServiceItem
from helpdesk.workorders.models import ChatMessage, WorkOrder, WorkOrderEvent

HISTORY_LIMIT = 5
# The applicant's earlier requests, built once (every offer reads it; building costs more than running)
HISTORY = (
    select(WorkOrder.number, ServiceItem.name, ServiceItem.name_en, WorkOrder.outcome, WorkOrder.status,
           WorkOrder.ended_at, WorkOrder.notes)
    .join(ServiceItem, ServiceItem.id == WorkOrder.item_id)
    .where(WorkOrder.applicant_id == bindparam("applicant_id"), WorkOrder.id != bindparam("work_order_id"))
    .order_by(WorkOrder.created_at.desc())
    .limit(HISTORY_LIMIT)
)

# A pairing step's rows in one round trip: the work order with its item, unit and applicant and,
# on answering, the agent and the agent's unit. Loaded into the session (and held by the caller:
# the identity map is weak), so the record, the outbox view, the offer context and the names that
# follow find them there instead of reading each with its own SELECT. Built once.
_AGENT_UNIT = aliased(OrgUnit)
_STEP_ROWS = (
    select(WorkOrder, ServiceItem, OrgUnit, Applicant)
    .outerjoin(ServiceItem, ServiceItem.id == WorkOrder.item_id)
    .outerjoin(OrgUnit, OrgUnit.id == WorkOrder.unit_id)
    .outerjoin(Applicant, Applicant.id == WorkOrder.applicant_id)
    .where(WorkOrder.id == bindparam("work_order_id"))
)
_ANSWER_ROWS = (
    _STEP_ROWS.add_columns(Staff, _AGENT_UNIT)
    .outerjoin(Staff, Staff.id == bindparam("agent_id"))
    .outerjoin(_AGENT_UNIT, _AGENT_UNIT.id == Staff.unit_id)
)


async def step_rows(session: AsyncSession, work_order_id: str, agent_id: int | None = None) -> tuple[Any, ...] | None:
    """(work order, item, unit, applicant[, agent, agent's unit]) or None when there is no such
    work order; keep the tuple while the session works with them."""
    if agent_id is None:
        row = (await session.execute(_STEP_ROWS, {"work_order_id": work_order_id})).first()
    else:
        row = (await session.execute(_ANSWER_ROWS, {"work_order_id": work_order_id, "agent_id": agent_id})).first()
    return None if row is None else tuple(row)


async def offer_context(session: AsyncSession, wo: WorkOrder, waited_s: float, fallback_level: int) -> dict[str, Any]:
    item = await session.get(ServiceItem, wo.item_id)
    unit = await session.get(OrgUnit, wo.unit_id)
    applicant = await session.get(Applicant, wo.applicant_id)
    rows = await session.execute(HISTORY, {"applicant_id": wo.applicant_id, "work_order_id": wo.id})
    return {
        "item": {"id": wo.item_id, "code": item.code if item else None, "name": item.name if item else None,
                 "name_en": item.name_en if item else None, "remote_inspection": bool(item and item.remote_inspection)},
        "unit": {"id": wo.unit_id, "name": unit.name if unit else None, "name_en": unit.name_en if unit else None},
        "applicant": {"name": applicant.name if applicant else None, "phone": applicant.phone if applicant else None},
        "handoff": wo.handoff,
        "priority": wo.priority,
        "channel": wo.channel.value,
        "number": wo.number,
        "waited_s": round(waited_s, 1),
        "fallback_level": fallback_level,
        "transfer": await transfer_context(session, wo),
        "history": [
            {"number": r.number, "item": {"name": r.name, "name_en": r.name_en},
             "outcome": r.outcome.value if r.outcome else r.status.value,
             "ended_at": r.ended_at.isoformat() if r.ended_at else None, "notes": (r.notes or "")[:200]}
            for r in rows
        ],
    }


async def peer_names(session: AsyncSession, wo: WorkOrder) -> tuple[dict[str, Any], dict[str, Any]]:
    """(what the applicant sees of the agent, what the agent sees of the applicant)."""
    agent = await session.get(Staff, wo.agent_id) if wo.agent_id else None
    applicant = await session.get(Applicant, wo.applicant_id)
    unit = await session.get(OrgUnit, agent.unit_id) if agent else None
    agent_side = {"role": "agent", "name": agent.display_name if agent else "", "unit": unit.name if unit else ""}
    # No name given: "" and each page says "applicant" in its own language.
    applicant_side = {"role": "applicant", "name": (applicant.name if applicant else None) or ""}
    return agent_side, applicant_side


async def transfer_context(session: AsyncSession, wo: WorkOrder) -> dict[str, Any] | None:
    """What the target agent reads before accepting: who transferred, why, and the call so far."""
    if wo.transferred_from_id is None:
        return None
    parent = await session.get(WorkOrder, wo.transferred_from_id)
    if parent is None:
        return None
    agent = await session.get(Staff, parent.agent_id) if parent.agent_id else None
    note = await session.scalar(select(WorkOrderEvent.data).where(
        WorkOrderEvent.work_order_id == wo.id, WorkOrderEvent.kind == "transfer_note").limit(1))
    chat = (await session.scalars(select(ChatMessage).where(ChatMessage.work_order_id == parent.id)
                                  .order_by(ChatMessage.id).limit(50))).all()
    return {
        "from_work_order": parent.id, "from_number": parent.number,
        "from_agent": agent.display_name if agent else None, "note": (note or {}).get("note"),
        "notes": parent.notes, "chat": [{"sender_kind": c.sender_kind, "text": c.text} for c in chat],
    }
