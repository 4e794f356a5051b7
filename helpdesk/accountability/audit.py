"""The tamper-evident audit log: the events of each work order form a hash chain.

Entry n of a work order carries `seq` n, `prev_hash` (the hash of entry n-1, or 64 zeros) and
`hash` = SHA-256 over a canonical JSON of the entry (work order, seq, time, kind, actor, data, ip,
origin, prev_hash). Changing, inserting or deleting a row breaks the chain at that row (a deleted
last row is the exception: compare `chain_digest` with one kept elsewhere to catch that).

Concurrent writers (several processes, PostgreSQL): `append` first UPDATEs the work order's row,
which holds that row's lock (PostgreSQL) or the database write lock (SQLite) until commit, then
reads the chain's head. A second writer of the same work order waits at its UPDATE and, under READ
COMMITTED, reads the head the first committed. The unique key (work_order_id, seq) turns any writer
that bypasses this into an error rather than a fork. Work orders never wait for each other.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import os
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, inspect, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import ASGIApp, Receive, Scope, Send

from helpdesk.logs import request_id_var
from helpdesk.workorders.models import WorkOrder, WorkOrderEvent

GENESIS = "0" * 64
HASH_VERSION = 1

client_ip_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("audit_client_ip", default=None)
job_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("audit_job", default=None)
_PROCESS = f"{socket.gethostname()[:60]} pid={os.getpid()}"


class AuditContextMiddleware:
    """Remembers the caller's address (after uvicorn's proxy-header handling) for the audit log."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        token = client_ip_var.set(str(client[0])[:64] if client else None)
        try:
            await self.app(scope, receive, send)
        finally:
            client_ip_var.reset(token)


@contextmanager
def job(name: str) -> Iterator[None]:
    """Marks events written by a background job (e.g. the sweep) with the job's name."""
    token = job_var.set(name)
    try:
        yield
    finally:
        job_var.reset(token)


def current_origin() -> str:
    """Which process wrote the entry, and for which request or job."""
    rid, name = request_id_var.get(), job_var.get()
    parts = [_PROCESS]
    if name:
        parts.append(f"job={name}")
    if rid and rid != "-":
        parts.append(f"req={rid}")
    return " ".join(parts)[:128]


def _iso(at: datetime) -> str:
    if at.tzinfo is None:  # the database hands back UTC; UTCDateTime makes it aware
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(
    *,
    work_order_id: str,
    seq: int,
    at: datetime,
    kind: str,
    actor: str,
    data: Any,
    ip: str | None,
    origin: str | None,
    prev_hash: str,
) -> bytes:
    """The bytes that are hashed: sorted keys, no spaces, UTF-8."""
    entry = {
        "v": HASH_VERSION,
        "work_order_id": work_order_id,
        "seq": seq,
        "at": _iso(at),
        "kind": kind,
        "actor": actor,
        "data": data,
        "ip": ip,
        "origin": origin,
        "prev_hash": prev_hash,
    }
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def entry_hash(event: Any) -> str:
    """The hash of a WorkOrderEvent or of a row with the same columns."""
    return hashlib.sha256(
        canonical(
            work_order_id=event.work_order_id,
            seq=event.seq,
            at=event.at,
            kind=event.kind,
            actor=event.actor,
            data=event.data,
            ip=event.ip,
            origin=event.origin,
            prev_hash=event.prev_hash,
        )
    ).hexdigest()


def normalise(data: dict[str, Any]) -> dict[str, Any]:
    """What the JSON column will hand back (tuples become lists, enums strings, times ISO text), so
    the hash is over what is stored."""
    out: dict[str, Any] = json.loads(json.dumps(data, default=str, allow_nan=False))
    return out


# The chain's last entry (built once: every step of a call reads it)
HEAD = (
    select(WorkOrderEvent.seq, WorkOrderEvent.hash)
    .where(WorkOrderEvent.work_order_id == bindparam("work_order_id"))
    .order_by(WorkOrderEvent.seq.desc())
    .limit(1)
)


async def append(
    session: AsyncSession, wo: WorkOrder, *, kind: str, actor: str, at: datetime, data: dict[str, Any]
) -> WorkOrderEvent:
    """Adds the next entry of the work order's chain and flushes; the caller commits."""
    # The lock: an UPDATE of the work order's row, held until the caller commits. When the flush
    # writes the row anyway (the step changed the work order: the usual case), that UPDATE is the
    # lock; otherwise one of its own.
    wo.updated_at = at
    state = inspect(wo)
    rewritten = state.persistent and wo in session and session.is_modified(wo, include_collections=False)
    await session.flush()  # the work order row must exist before it can be locked
    if not rewritten:
        await session.execute(
            update(WorkOrder)
            .where(WorkOrder.id == wo.id)
            .values(updated_at=at)
            .execution_options(synchronize_session=False)
        )
    head = (await session.execute(HEAD, {"work_order_id": wo.id})).first()
    event = WorkOrderEvent(
        work_order_id=wo.id,
        at=at,
        kind=kind,
        actor=actor,
        data=normalise(data),
        seq=(head.seq + 1) if head else 1,
        prev_hash=head.hash if head else GENESIS,
        ip=client_ip_var.get(),
        origin=current_origin(),
    )
    event.hash = entry_hash(event)
    session.add(event)
    await session.flush()
    return event


@dataclass(frozen=True)
class Broken:
    event_id: int
    work_order_id: str
    seq: int
    problem: str

    def __str__(self) -> str:
        return f"event {self.event_id} (work order {self.work_order_id}, seq {self.seq}): {self.problem}"


@dataclass
class VerifyResult:
    chains: int = 0
    entries: int = 0
    broken: list[Broken] | None = None
    digest: str = ""

    @property
    def ok(self) -> bool:
        return not self.broken

    @property
    def first(self) -> Broken | None:
        return min(self.broken, key=lambda b: b.event_id) if self.broken else None


ENTRY_COLUMNS = (
    WorkOrderEvent.id,
    WorkOrderEvent.work_order_id,
    WorkOrderEvent.seq,
    WorkOrderEvent.at,
    WorkOrderEvent.kind,
    WorkOrderEvent.actor,
    WorkOrderEvent.data,
    WorkOrderEvent.ip,
    WorkOrderEvent.origin,
    WorkOrderEvent.prev_hash,
    WorkOrderEvent.hash,
)


async def _entries(session: AsyncSession, work_order_id: str | None) -> AsyncIterator[Any]:
    """Plain rows straight from the database (never objects cached in the session)."""
    stmt = select(*ENTRY_COLUMNS).order_by(WorkOrderEvent.work_order_id, WorkOrderEvent.seq, WorkOrderEvent.id)
    if work_order_id is not None:
        stmt = stmt.where(WorkOrderEvent.work_order_id == work_order_id)
    result = await session.stream(stmt.execution_options(yield_per=1000))
    async for row in result:
        yield row


async def verify(session: AsyncSession, work_order_id: str | None = None) -> VerifyResult:
    """Walks every chain (or one work order's); records the first broken entry of each chain.

    The digest covers every chain's head: keep it somewhere else to detect a deleted tail later."""
    result = VerifyResult(broken=[])
    assert result.broken is not None
    digest = hashlib.sha256()
    current: str | None = None
    expected_seq, prev, chain_broken, head = 0, GENESIS, False, ""

    def close_chain() -> None:
        if current is not None:
            digest.update(f"{current}:{expected_seq}:{head}\n".encode())

    async for e in _entries(session, work_order_id):
        result.entries += 1
        if e.work_order_id != current:
            close_chain()
            current, expected_seq, prev, chain_broken = e.work_order_id, 0, GENESIS, False
            result.chains += 1
        expected_seq += 1
        head = e.hash
        if chain_broken:
            continue
        problem = None
        if e.seq != expected_seq:
            problem = f"seq {e.seq} where {expected_seq} was expected (an entry is missing or inserted)"
        elif e.prev_hash != prev:
            problem = "prev_hash does not match the previous entry's hash"
        elif e.hash != entry_hash(e):
            problem = "hash does not match the entry's content (the row was changed)"
        if problem:
            result.broken.append(Broken(e.id, e.work_order_id, e.seq, problem))
            chain_broken = True
        prev = e.hash
    close_chain()
    result.digest = digest.hexdigest()
    return result
