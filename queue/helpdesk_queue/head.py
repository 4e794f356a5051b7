"""The head of a line: waits drawn from how long the busy calls have already run.

For the first applicants of a line, when the next agents free up depends mostly on the calls now in
progress: a call that has run 20 minutes is (for talk times spread like these) nearer its end than
one that began a minute ago, and in the morning every call has just begun. The renewal model of
estimate.wait_range cannot see that; bench_expected_wait's oracle shows it is most of what an
estimate can know (docs/queue.md). So for the head we draw: each busy slot's remaining time given
how long its call or wrap-up has run (talk times lognormal with the line's mean and spread,
wrap-ups drawn from the unit's recorded ones), then the line served in order, each one ahead staying or
giving up, every later call drawn afresh. The same seed every time: the same state shows the same
numbers on every refresh.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from helpdesk_queue.models import STAFFED_STATES, AgentPresence, WaitingEntry
from helpdesk_queue.routing import eligible_level

DRAWS = 256
HEAD_POSITIONS = 48  # beyond this many departures the renewal model is as good (and cheaper)
HEAD_SLOTS = 64  # with more slots than this, departures are near-Poisson: the renewal model suffices
POOL = 4096


@dataclass
class Slots:
    """The slots of the agents who can serve an entry: free ones, busy ones with how long their call
    has run, and agents in wrap-up with how long it has run."""

    free: int = 0
    talking: list[float] = field(default_factory=list)
    wrapping: list[float] = field(default_factory=list)

    @property
    def staffed(self) -> int:
        return self.free + len(self.talking) + len(self.wrapping)


def slots_for(entry: WaitingEntry, agents: Iterable[AgentPresence], now: float, fallback_after_s: float,
              wrapup_s: float) -> Slots:
    out = Slots()
    for a in agents:
        if a.state not in STAFFED_STATES or eligible_level(entry, a, now, fallback_after_s) is None:
            continue
        if a.state == "wrap_up":
            began = a.wrapup_until - wrapup_s if a.wrapup_until is not None and wrapup_s > 0 else now
            out.wrapping.append(max(0.0, now - began))
            out.talking.extend([0.0] * (a.capacity - 1))
            continue
        busy = a.capacity - a.free if a.routable else a.capacity
        if busy > 0:  # the first call's age is known; further calls and ringing offers count as fresh
            first = 0.0 if a.call_since is None or a.active_calls == 0 else max(0.0, now - a.call_since)
            out.talking.extend([first] + [0.0] * (busy - 1))
        out.free += a.capacity - busy
    return out


@lru_cache(maxsize=64)
def _talk_pool(mean: int, cv_percent: int) -> np.ndarray:
    """A sorted sample of talk times: lognormal with this mean and coefficient of variation."""
    s2 = math.log(1 + (cv_percent / 100) ** 2)
    rng = np.random.default_rng(12345)
    return np.sort(rng.lognormal(math.log(max(mean, 1)) - s2 / 2, s2**0.5, POOL))


def _remaining(pool: np.ndarray, elapsed: float, rng: np.random.Generator, n: int) -> np.ndarray:
    """Draws of what is left of a duration from `pool` that has run `elapsed` so far."""
    if len(pool) == 0:
        return np.zeros(n)
    start = int(np.searchsorted(pool, elapsed, side="right"))
    if start >= len(pool):  # longer than anything seen: it could end any moment
        start = len(pool) - max(1, len(pool) // 50)
    return np.maximum(pool[rng.integers(start, len(pool), n)] - elapsed, 0.0)


def head_waits(slots: Slots, positions: int, talk_mean_s: float, cv: float, wraps: Sequence[float],
               stay: float) -> np.ndarray:
    """Draws (positions × DRAWS) of the wait of the applicant at each of the first `positions`
    places (beyond the free slots), assuming it stays; each one ahead stays with chance `stay`."""
    rng = np.random.default_rng(7)
    talk = _talk_pool(round(talk_mean_s), round(min(max(cv, 0.1), 3.0) * 100))
    wrap_pool = np.sort(np.asarray(wraps, dtype=float))

    def wrap(n: int) -> np.ndarray | float:  # a wrap-up drawn from the unit's recorded ones
        return wrap_pool[rng.integers(0, len(wrap_pool), n)] if len(wrap_pool) else 0.0

    columns = [_remaining(talk, e, rng, DRAWS) + wrap(DRAWS) for e in slots.talking]
    columns += [_remaining(wrap_pool, e, rng, DRAWS) for e in slots.wrapping]
    free_at = np.stack(columns + [np.zeros(DRAWS)] * slots.free, axis=1)
    rows = np.arange(DRAWS)
    out = np.empty((positions, DRAWS))
    for place in range(positions):
        slot = free_at.argmin(axis=1)
        freed = free_at[rows, slot]
        out[place] = freed
        stays = rng.random(DRAWS) < stay
        n = int(stays.sum())
        free_at[rows[stays], slot[stays]] = freed[stays] + talk[rng.integers(0, POOL, n)] + wrap(n)
    return out
