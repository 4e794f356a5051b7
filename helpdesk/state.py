"""What the lifespan builds once per process and hands to routes through deps.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from helpdesk.clock import Clock
from helpdesk.config import Settings
from helpdesk.security import Signer


@dataclass
class AppState:
    settings: Settings
    clock: Clock
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    signer: Signer
    redis: Any | None = None  # redis.asyncio.Redis when HELPDESK_REDIS_URL is set
    # Components wired by helpdesk.app (queue, signaling hub, dispatcher, KB index, ...).
    components: dict[str, Any] = field(default_factory=dict)
