"""Each agent's chosen state (ready/away/offline) and socket comings and goings, in the database,
so that a reconnect within the grace or a Redis restart gives agents back the state they chose
instead of `away` (records.AgentStatus)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from helpdesk_queue.models import AgentState
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from helpdesk.db import upsert_insert
from helpdesk.journey.records import AgentStatus

CHOSEN = ("ready", "away")
FORGET_AFTER = timedelta(hours=24)  # a socket that never said goodbye (SIGKILL) is forgotten after this


async def _row(session: Any, staff_id: int, now: datetime) -> AgentStatus:
    row: AgentStatus | None = await session.get(AgentStatus, staff_id)
    if row is None:
        row = AgentStatus(staff_id=staff_id, state="away", state_at=now)
        session.add(row)
    return row


async def remember_state(engine: AsyncEngine, staff_id: int, state: str, now: datetime) -> None:
    """The agent asked for ready/away/offline: written before Redis changes. The pairing path starts
    here, so one statement in autocommit (one round trip, no BEGIN and COMMIT around it): an upsert,
    the row created when there is none yet."""
    statement = upsert_insert(engine.dialect)(AgentStatus).values(staff_id=staff_id, state=state, state_at=now)
    statement = statement.on_conflict_do_update(index_elements=[AgentStatus.staff_id], set_={
        "state": statement.excluded.state, "state_at": statement.excluded.state_at})
    async with engine.connect() as conn:
        await (await conn.execution_options(isolation_level="AUTOCOMMIT")).execute(statement)


async def connected(sessions: Any, staff_id: int, now: datetime, grace_s: float) -> AgentState:
    """A socket of the agent opened: returns the state to give back when Redis has none."""
    async with sessions() as session:
        row = await _row(session, staff_id, now)
        back = restorable(row, now, grace_s)
        row.connected_at, row.disconnected_at = now, None
        await session.commit()
    return "ready" if back == "ready" else "away"


async def disconnected(sessions: Any, staff_id: int, now: datetime) -> None:
    """The agent's last socket closed (on any process)."""
    async with sessions() as session:
        row = await _row(session, staff_id, now)
        row.disconnected_at = now
        await session.commit()


def restorable(row: AgentStatus, now: datetime, grace_s: float) -> str | None:
    """The chosen state if the agent is (or was, within the grace) connected; None otherwise."""
    if row.state not in CHOSEN or row.connected_at is None or now - row.connected_at > FORGET_AFTER:
        return None
    if row.disconnected_at is not None and (now - row.disconnected_at).total_seconds() > grace_s:
        return None
    return row.state


async def connected_agents(session: Any, now: datetime, grace_s: float) -> dict[int, str]:
    """Agents the database says are connected, with the state each chose (for a rebuild)."""
    rows = (await session.scalars(select(AgentStatus).where(AgentStatus.connected_at.is_not(None)))).all()
    out = {}
    for row in rows:
        state = restorable(row, now, grace_s)
        if state is not None:
            out[row.staff_id] = state
    return out
