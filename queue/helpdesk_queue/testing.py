"""Test support shared by this component's tests and the app's: a hand-driven clock and factories."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from helpdesk_queue.events import QueueEvent
from helpdesk_queue.models import AgentPresence, AgentState, QueueSettings, WaitingEntry
from helpdesk_queue.service import QueueService
from helpdesk_queue.store import QueueStore

T0 = 1_764_300_000.0  # a fixed epoch second; time moves only when a test says so
CITY, COUNTY, TOWN, OTHER_TOWN = 1, 10, 100, 101  # TOWN and OTHER_TOWN both sit under COUNTY
ITEM, DEPT = 7, 70


class FakeNow:
    """A now() callable advanced by hand, so tests never sleep."""

    def __init__(self, start: float = T0) -> None:
        self.t = start

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


def make_entry(
    ticket: str,
    *,
    at: float = T0,
    priority: int = 0,
    chain: tuple[int, ...] = (TOWN, COUNTY, CITY),
    item: int = ITEM,
    dept: int = DEPT,
) -> WaitingEntry:
    return WaitingEntry(ticket, f"wo-{ticket}", list(chain), item, dept, priority=priority, enqueued_at=at)


def make_agent(
    agent_id: int,
    *,
    unit: int = TOWN,
    items: tuple[int, ...] = (ITEM,),
    depts: tuple[int, ...] = (),
    capacity: int = 1,
    state: AgentState = "ready",
    idle_since: float = T0,
    heartbeat: float = T0,
) -> AgentPresence:
    return AgentPresence(
        agent_id, unit, set(items), set(depts), capacity=capacity, state=state,
        idle_since=idle_since, last_heartbeat=heartbeat,
    )  # fmt: skip


@dataclass
class Harness:
    """A service over a store with a fake clock, recording every event it emits."""

    service: QueueService
    now: FakeNow
    events: list[QueueEvent] = field(default_factory=list)

    @classmethod
    def build(cls, store: QueueStore, now: FakeNow, settings: QueueSettings | None = None) -> Harness:
        events: list[QueueEvent] = []

        async def sink(event: QueueEvent) -> None:
            events.append(event)

        return cls(QueueService(store, now=now, emit=sink, settings=settings), now, events)

    def of(self, kind: type[Any]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    def clear(self) -> None:
        self.events.clear()
