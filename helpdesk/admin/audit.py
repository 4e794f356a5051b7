"""Appends to and verifies the administration audit chain (helpdesk.admin.models)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk.accountability.audit import GENESIS, Broken, VerifyResult, canonical, client_ip_var, current_origin
from helpdesk.accountability.audit import normalise as _normalise
from helpdesk.admin.models import ADMIN_CHAIN, AdminEvent, AuditHead
from helpdesk.db import upsert_insert


def event_hash(e: Any) -> str:
    return hashlib.sha256(canonical(
        work_order_id=ADMIN_CHAIN, seq=e.seq, at=e.at, kind=e.kind, actor=e.actor, data=e.data, ip=e.ip,
        origin=e.origin, prev_hash=e.prev_hash)).hexdigest()


async def record(session: AsyncSession, *, kind: str, actor: str, at: datetime, target: str | None = None,
                 before: Any = None, after: Any = None, **extra: Any) -> AdminEvent:
    """Adds the next entry (who, when, what, before → after) and flushes; the caller commits, so the
    entry lands in the same transaction as the change it describes."""
    head = await _advance_head(session)
    if head is None:  # the chain's first entry: a concurrent first writer waits on this row, then skips
        await session.execute(upsert_insert(session.get_bind().dialect)(AuditHead)
                              .values(name=ADMIN_CHAIN, seq=0, hash=GENESIS).on_conflict_do_nothing())
        head = await _advance_head(session)
        if head is None:
            raise RuntimeError("the audit chain's head row vanished while it was being written")
    seq, prev = int(head.seq), str(head.hash)
    data = {"target": target, "before": before, "after": after} | extra
    event = AdminEvent(seq=seq, at=at, kind=kind, actor=actor, data=_normalise(data), ip=client_ip_var.get(),
                       origin=current_origin(), prev_hash=prev)
    event.hash = event_hash(event)
    session.add(event)
    await session.execute(update(AuditHead).where(AuditHead.name == ADMIN_CHAIN).values(hash=event.hash)
                          .execution_options(synchronize_session=False))
    await session.flush()
    return event


async def _advance_head(session: AsyncSession) -> Any:
    """Takes the next seq (and the previous hash), locking the head row until the commit: writers in
    other transactions wait here, so the chain stays one line."""
    return (await session.execute(
        update(AuditHead).where(AuditHead.name == ADMIN_CHAIN).values(seq=AuditHead.seq + 1)
        .returning(AuditHead.seq, AuditHead.hash).execution_options(synchronize_session=False))).first()


def actor_of(staff: Any) -> str:
    return "cli" if staff is None else f"staff:{staff.id}:{staff.username}"


def diff(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the fields that changed, before and after."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}


COLUMNS = (AdminEvent.id, AdminEvent.seq, AdminEvent.at, AdminEvent.kind, AdminEvent.actor, AdminEvent.data,
           AdminEvent.ip, AdminEvent.origin, AdminEvent.prev_hash, AdminEvent.hash)


async def verify(session: AsyncSession) -> VerifyResult:
    """Walks the chain from the first entry; the digest covers the head (compare it with
    `audit_heads` and with a copy kept elsewhere to catch a deleted tail)."""
    result = VerifyResult(broken=[])
    assert result.broken is not None
    prev, expected = GENESIS, 0
    stream = await session.stream(select(*COLUMNS).order_by(AdminEvent.seq).execution_options(yield_per=1000))
    async for e in stream:
        result.entries += 1
        expected += 1
        problem = None
        if e.seq != expected:
            problem = f"seq {e.seq} where {expected} was expected (an entry is missing or inserted)"
        elif e.prev_hash != prev:
            problem = "prev_hash does not match the previous entry's hash"
        elif e.hash != event_hash(e):
            problem = "hash does not match the entry's content (the row was changed)"
        if problem:
            result.broken.append(Broken(e.id, ADMIN_CHAIN, e.seq, problem))
            break
        prev = e.hash
    head = (await session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.name == ADMIN_CHAIN))).first()
    if not result.broken and head is not None and (head.seq, head.hash) != (expected, prev):
        result.broken.append(Broken(0, ADMIN_CHAIN, int(head.seq),
                                    f"the chain ends at seq {expected} but its head says {head.seq} "
                                    "(entries at the end were deleted)"))
    result.chains = 1 if result.entries else 0
    result.digest = hashlib.sha256(f"{ADMIN_CHAIN}:{expected}:{prev}\n".encode()).hexdigest()
    return result
