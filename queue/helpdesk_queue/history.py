"""History seeds for the expected wait: what each line did at this weekday and hour on earlier weeks.

The app reads past calls from its database (helpdesk/journey/wait_history.py) and builds a
SeedTable; the QueueService asks it for an entry's seed, falling back from the line (unit and item)
to the item's department in the unit, then to the unit, when the line has too little history (a
new item, a new office)."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from helpdesk_queue.estimate import Seed
from helpdesk_queue.models import WaitingEntry, line_key

MIN_CALLS = 5  # fewer answered calls than this at a level: fall back to the next, wider one


@dataclass(frozen=True)
class PastCall:
    """One queued request of an earlier week, in the hour of the week being estimated."""

    unit_id: int
    item_id: int
    department_id: int
    occupied_s: float | None  # agent-occupied time (talk + wrap-up); None: the applicant gave up


def windows(now: datetime, weeks: int) -> list[tuple[datetime, datetime]]:
    """[start, end) of the same weekday and hour in each of the `weeks` weeks before `now` (in
    now's time zone: pass local time, where opening hours live)."""
    hour = now.replace(minute=0, second=0, microsecond=0)
    return [(hour - timedelta(weeks=w), hour - timedelta(weeks=w) + timedelta(hours=1)) for w in range(1, weeks + 1)]


def seed_of(calls: list[PastCall]) -> Seed | None:
    served = [c.occupied_s for c in calls if c.occupied_s is not None]
    if len(served) < MIN_CALLS:
        return None
    mean = statistics.fmean(served)
    cv = statistics.stdev(served) / mean if mean > 0 else 1.0
    return Seed(mean, cv, len(served), (len(calls) - len(served)) / len(calls))


class SeedTable:
    """Seeds by line, by (unit, department) and by unit; called with a WaitingEntry (HistorySource)."""

    def __init__(self, calls: Iterable[PastCall] = ()) -> None:
        groups: dict[object, list[PastCall]] = {}
        for c in calls:
            for key in (line_key(c.unit_id, c.item_id), ("dept", c.unit_id, c.department_id), ("unit", c.unit_id)):
                groups.setdefault(key, []).append(c)
        self.seeds = {key: seed for key, group in groups.items() if (seed := seed_of(group)) is not None}

    def __call__(self, entry: WaitingEntry) -> Seed | None:
        for key in (entry.line, ("dept", entry.unit_id, entry.department_id), ("unit", entry.unit_id)):
            found = self.seeds.get(key)
            if found is not None:
                return found
        return None
