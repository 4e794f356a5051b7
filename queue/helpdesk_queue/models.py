"""The queue's data: waiting entries, agent presence, settings and errors (plain dataclasses)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

EntryState = Literal["waiting", "offered"]
AgentState = Literal["offline", "ready", "offered", "busy", "wrap_up", "away"]
AGENT_STATES: tuple[AgentState, ...] = ("offline", "ready", "offered", "busy", "wrap_up", "away")
# States in which an agent takes new offers when it also has a free slot (capacity > 1 agents
# keep taking calls while busy or ringing).
WORKING_STATES: frozenset[str] = frozenset({"ready", "offered", "busy"})
# States counted as "staffed" for the expected wait: the agent will free up and take the next one.
STAFFED_STATES: frozenset[str] = frozenset({"ready", "offered", "busy", "wrap_up"})

# Priorities are bounded so the Redis sorted-set score keeps millisecond precision.
PRIORITY_MIN, PRIORITY_MAX = -1000, 1000


def line_key(unit_id: int, item_id: int) -> str:
    """One waiting line per unit and service item: the key used for positions and handle times."""
    return f"{unit_id}:{item_id}"


@dataclass
class WaitingEntry:
    """One applicant in the queue; `enqueued_at` never changes so a decline costs nobody their turn."""

    ticket: str
    work_order_id: str
    unit_chain: list[int]  # the applicant's unit first, then its ancestors up to the city
    item_id: int
    department_id: int
    priority: int = 0  # higher first (e.g. returning after an approval rejection)
    enqueued_at: float = 0.0  # epoch seconds
    state: EntryState = "waiting"
    offered_to: int | None = None
    fallback_level: int = 0  # the level of the current or last offer (0 = own unit)
    offer_expires_at: float | None = None
    declined_by: list[int] = field(default_factory=list)  # agents never re-offered this entry
    # A warm transfer to a named colleague: only that agent is offered the entry, until they decline
    # or miss it; then the pin lapses and the entry is routed like any other (nobody loses their turn).
    pinned_agent: int | None = None
    # Fallback levels opened so far: the routing index holds the entry at unit_chain[0..reach]. The
    # dispatcher raises it when the entry's fallback timer fires (docs/queue.md, "Indexes").
    reach: int = 0

    def __post_init__(self) -> None:
        if not self.unit_chain:
            raise ValueError("unit_chain needs at least the applicant's unit")
        if not PRIORITY_MIN <= self.priority <= PRIORITY_MAX:
            raise ValueError(f"priority must be within [{PRIORITY_MIN}, {PRIORITY_MAX}]")

    @property
    def active_pin(self) -> int | None:
        pin = self.pinned_agent
        return pin if pin is not None and pin not in self.declined_by else None

    @property
    def unit_id(self) -> int:
        return self.unit_chain[0]

    @property
    def line(self) -> str:
        return line_key(self.unit_chain[0], self.item_id)

    def sort_key(self) -> tuple[int, float, str]:
        """Queue order: priority desc, then enqueued_at asc, then ticket (a stable tie-break)."""
        return (-self.priority, self.enqueued_at, self.ticket)


@dataclass
class AgentPresence:
    """An agent's live presence; `active_calls + pending_offers` never exceeds `capacity`."""

    agent_id: int
    unit_id: int
    item_ids: set[int] = field(default_factory=set)
    department_ids: set[int] = field(default_factory=set)
    capacity: int = 1
    active_calls: int = 0  # connected calls
    pending_offers: int = 0  # offers ringing now
    state: AgentState = "offline"
    idle_since: float = 0.0  # when the agent last became free; smaller = longer idle
    missed_offers: int = 0  # declined or timed-out offers in a row
    last_heartbeat: float = 0.0
    wrapup_until: float | None = None
    call_since: float | None = None  # when its first current call began (the expected wait uses it)

    @property
    def free(self) -> int:
        return max(0, self.capacity - self.active_calls - self.pending_offers)

    @property
    def routable(self) -> bool:
        return self.state in WORKING_STATES and self.free > 0

    def skilled_for(self, item_id: int, department_id: int) -> bool:
        return item_id in self.item_ids or department_id in self.department_ids


def clone_entry(entry: WaitingEntry) -> WaitingEntry:
    """A copy sharing no lists; skips __init__ because the memory store copies on every read."""
    new = object.__new__(WaitingEntry)
    new.__dict__.update(entry.__dict__)
    new.unit_chain, new.declined_by = list(entry.unit_chain), list(entry.declined_by)
    return new


def clone_agent(agent: AgentPresence) -> AgentPresence:
    new = object.__new__(AgentPresence)
    new.__dict__.update(agent.__dict__)
    new.item_ids, new.department_ids = set(agent.item_ids), set(agent.department_ids)
    return new


@dataclass(frozen=True)
class Assignment:
    """One routing decision: offer `ticket` to `agent_id`, reached at `fallback_level`."""

    ticket: str
    agent_id: int
    fallback_level: int


@dataclass(frozen=True)
class QueueSettings:
    """The dispatcher's knobs (the app fills them from helpdesk.config.Settings)."""

    offer_timeout_s: float = 20.0
    missed_offers_before_away: int = 2
    fallback_after_s: float = 120.0
    default_handle_time_s: float = 300.0
    wrapup_s: float = 0.0
    presence_ttl_s: float = 45.0  # no heartbeat for this long: the agent goes offline
    aht_window: int = 50  # handle-time samples kept per line
    # "index": routing reads only the heads and agent sets a change touches (the default);
    # "scan": every pass reads the whole queue and every agent (the benchmark's baseline only).
    routing: str = "index"


@dataclass(frozen=True)
class QueueStatus:
    """What the applicant sees (the `queue.status` message)."""

    ticket: str
    work_order_id: str
    state: EntryState
    position: int
    expected_wait_s: float | None  # None: no staffed agent, offer a callback
    agents_ready: int
    fallback_level: int
    expected_wait_low_s: int | None = None  # the range that holds for ~80 % of applicants
    expected_wait_high_s: int | None = None


class QueueError(Exception):
    """A caller's mistake (unknown ticket, not your offer): the app maps it to a 4xx."""

    code = "conflict"
    status_code = 409

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnknownTicket(QueueError):
    code, status_code = "not_found", 404


class UnknownAgent(QueueError):
    code, status_code = "not_found", 404


class InvalidState(QueueError):
    """An agent may ask for ready, away or offline only."""

    code, status_code = "bad_request", 400


class NotOffered(QueueError):
    """Only the agent the ticket is offered to may accept or decline it."""


class OfferExpired(QueueError):
    """The countdown ran out before the accept arrived."""
