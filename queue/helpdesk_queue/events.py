"""Events the dispatcher emits; the app turns them into WebSocket messages and work-order records."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

RevokeReason = Literal["timeout", "declined", "left", "taken"]


@dataclass(frozen=True)
class Offered:
    """An offer rings the agent until `expires_at` (epoch s)."""

    ticket: str
    agent_id: int
    work_order_id: str
    expires_at: float
    fallback_level: int
    priority: int = 0
    waited_s: float = 0.0


@dataclass(frozen=True)
class OfferRevoked:
    """The offer is gone: `timeout`/`declined` (the agent missed it), `left` (the applicant left),
    `taken` (withdrawn because the agent went away or offline; the applicant keeps their place)."""

    ticket: str
    agent_id: int
    reason: RevokeReason


@dataclass(frozen=True)
class Connected:
    """The agent accepted: the app opens the room. Pass `line` back to `call_ended`."""

    ticket: str
    agent_id: int
    work_order_id: str
    fallback_level: int
    waited_s: float
    line: str


@dataclass(frozen=True)
class PositionsChanged:
    """Positions may have moved in these lines. Routing by index leaves `tickets` empty (the app
    refreshes the applicants of a line by line); `joined` names the (ticket, line) pairs that
    entered the queue in this change, so the process holding such a socket starts following it."""

    tickets: tuple[str, ...]
    lines: tuple[str, ...]
    joined: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class AgentStateChanged:
    """The agent's presence changed (the `agent.state` message)."""

    agent_id: int
    state: str
    active_calls: int
    capacity: int
    missed_offers: int


@dataclass(frozen=True)
class Abandoned:
    """The applicant left before being connected; the work order records the wait."""

    ticket: str
    work_order_id: str
    waited_s: float


QueueEvent = Offered | OfferRevoked | Connected | PositionsChanged | AgentStateChanged | Abandoned
EventSink = Callable[[QueueEvent], Awaitable[None]]
