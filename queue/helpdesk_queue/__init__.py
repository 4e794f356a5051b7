"""Waiting lines, agent presence and capacity, routing, position and expected wait.

The app builds one `QueueService` per process over a `MemoryQueueStore` (one process) or a
`RedisQueueStore` (several processes) and turns its events into WebSocket messages.
"""

from helpdesk_queue.estimate import expected_wait, positions
from helpdesk_queue.events import (
    Abandoned,
    AgentStateChanged,
    Connected,
    EventSink,
    Offered,
    OfferRevoked,
    PositionsChanged,
    QueueEvent,
)
from helpdesk_queue.memory import MemoryQueueStore
from helpdesk_queue.models import (
    AgentPresence,
    Assignment,
    InvalidState,
    NotOffered,
    OfferExpired,
    QueueError,
    QueueSettings,
    QueueStatus,
    UnknownAgent,
    UnknownTicket,
    WaitingEntry,
    line_key,
)
from helpdesk_queue.routing import eligible_level, plan, plan_naive
from helpdesk_queue.service import QueueService
from helpdesk_queue.store import QueueStore

__all__ = [
    "Abandoned",
    "AgentPresence",
    "AgentStateChanged",
    "Assignment",
    "Connected",
    "EventSink",
    "InvalidState",
    "MemoryQueueStore",
    "NotOffered",
    "OfferExpired",
    "OfferRevoked",
    "Offered",
    "PositionsChanged",
    "QueueError",
    "QueueEvent",
    "QueueService",
    "QueueSettings",
    "QueueStatus",
    "QueueStore",
    "UnknownAgent",
    "UnknownTicket",
    "WaitingEntry",
    "eligible_level",
    "expected_wait",
    "line_key",
    "plan",
    "plan_naive",
    "positions",
]
