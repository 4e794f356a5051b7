"""What the journey keeps in the database so Redis can be rebuilt from it (docs/redis.md,
"When Redis loses its data"): each agent's chosen state, and the generation of the shared state."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from helpdesk.db import Base


class AgentStatus(Base):
    """The state an agent chose (ready/away/offline) and when their last socket came and went:
    a reconnect within the grace, or a Redis restart, gives them back this state."""

    __tablename__ = "agent_status"

    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), default="away")
    state_at: Mapped[datetime]
    connected_at: Mapped[datetime | None]
    disconnected_at: Mapped[datetime | None]


class SharedStateEpoch(Base):
    """One row per rebuild of the shared state: Redis carries the latest epoch and the run id of the
    Redis server it was written to; a different run id or an older epoch means Redis restarted
    (empty or from an older snapshot) and is rebuilt from the database."""

    __tablename__ = "shared_state_epochs"

    epoch: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    redis_run_id: Mapped[str] = mapped_column(String(64), default="")
    reason: Mapped[str] = mapped_column(String(32))
    repaired: Mapped[str] = mapped_column(String(255), default="")  # "waiting=3 rooms=1 agents=2 ..."
    at: Mapped[datetime]
