"""Position and expected wait: what the applicant sees while waiting (docs/queue.md explains it)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from helpdesk_queue.head import HEAD_POSITIONS, HEAD_SLOTS, head_waits, slots_for
from helpdesk_queue.models import STAFFED_STATES, AgentPresence, QueueSettings, QueueStatus, WaitingEntry
from helpdesk_queue.routing import eligible_level, queue_order, reachable_level

Z80 = 1.2816  # the 10th and 90th percentiles of a normal: a range that holds for ~80 % of applicants
PRIOR_CALLS = 30  # history for this weekday and hour weighs as this many of today's calls
ABANDON_AHEAD = 0.5  # of the line's abandonment share, how much falls on those still ahead (calibrated)
MIN_RELATIVE_ERROR = 0.03
HEAD_ABANDON_AHEAD = 0.8  # in the head's draws, of the abandonment share (calibrated on the bench)
SPREAD = 0.75  # the renewal approximation overstates the waits' spread (calibrated on bench_expected_wait)


@dataclass(frozen=True)
class Seed:
    """What history says about a line for this weekday and hour (helpdesk_queue.history): the mean
    agent-occupied time per call (talk + wrap-up), its coefficient of variation, how many calls
    that rests on, and the share of queued applicants who gave up."""

    occupied_s: float
    cv: float = 1.0
    calls: int = 0
    abandon_share: float = 0.0


# The seed of an entry's line (falling back to its department or unit when the line is new), or None.
HistorySource = Callable[[WaitingEntry], "Seed | None"]


@dataclass(frozen=True)
class LineModel:
    occupied_s: float  # mean agent-occupied time per call, wrap-up included
    cv: float  # coefficient of variation of that time
    abandon: float  # share of queued applicants who give up
    calls: float  # how many calls the estimate rests on (history counted as PRIOR_CALLS)


def wrapup_key(unit_id: int) -> str:
    """The store's sample list of wrap-up times in a unit (recorded when an agent leaves wrap-up)."""
    return f"wrapup|{unit_id}"


def positions(entries: Iterable[WaitingEntry]) -> dict[str, int]:
    """1-based position of each entry within its line (same unit and item).

    A waiting entry counts the waiting entries of its line ahead of it in queue order; entries
    already being offered are out of the count and report position 1 themselves.
    """
    seen: dict[str, int] = {}
    out: dict[str, int] = {}
    for entry in queue_order(entries):
        if entry.state == "offered":
            out[entry.ticket] = 1
            continue
        seen[entry.line] = seen.get(entry.line, 0) + 1
        out[entry.ticket] = seen[entry.line]
    return out


def expected_wait(
    position: int, staffed_slots: int, free_slots: int, handle_times: Sequence[float], default_s: float
) -> float | None:
    """The point of `wait_range` for the applicant `position`-th in line with no history and no
    abandonment: the expected time until enough slots have freed (see wait_range)."""
    model = line_model(handle_times, (), None, default_s)
    found = wait_range(position, staffed_slots, free_slots, model)
    return None if found is None else found[0]


def line_model(talk: Sequence[float], wrapups: Sequence[float], seed: Seed | None, default_s: float) -> LineModel:
    """What the line's next calls will take: today's finished calls (talk, plus the unit's wrap-ups:
    an agent wrapping up takes no call) blended with history for this weekday and hour.

    History weighs as PRIOR_CALLS calls, so the morning's first calls (the short ones end first)
    move the estimate only gradually; with no history, default_s weighs as one call."""
    wrap = sum(wrapups) / len(wrapups) if wrapups else 0.0
    prior_calls = PRIOR_CALLS if seed is not None else 1
    prior = seed.occupied_s if seed is not None else default_s
    n = len(talk)
    today = sum(talk) / n + wrap if n else prior
    occupied = (prior_calls * prior + n * today) / (prior_calls + n)
    cv = seed.cv if seed is not None else 1.0  # no history: exponential (the most spread plausible)
    if n >= 10:  # enough of today's calls to say how spread they are
        mean = sum(talk) / n
        sd = (sum((t - mean) ** 2 for t in talk) / (n - 1)) ** 0.5
        cv = (prior_calls * cv + n * (sd / (mean + wrap) if mean + wrap > 0 else cv)) / (prior_calls + n)
    abandon = seed.abandon_share if seed is not None else 0.0
    return LineModel(occupied, min(max(cv, 0.1), 3.0), min(max(abandon, 0.0), 0.9), prior_calls + n)


def wait_range(position: int, staffed: int, free: int, model: LineModel) -> tuple[float, float, float] | None:
    """(expected, low, high) seconds for the applicant `position`-th in line; None with no eligible
    agent staffed. low..high holds for ~80 % of applicants (the 10th to the 90th percentile).

    The applicant is served at the m-th departure, m = position − free (the free slots take the
    first ones), fewer when some of the m − 1 ahead give up first (each does with probability
    ABANDON_AHEAD × the line's abandonment share). With every slot busy, departures come every
    occupied/N on average; the first comes after the busy slots' residual time, (1 + c²)/2 of that.
    Inter-departure times of N renewal processes have squared CV c² ≈ 1 − (1 − cv²)/N (one slot:
    the calls' own spread; many: Poisson). The spread of the wait adds that of the departures, of
    how many ahead stay, and of the occupied-time estimate itself; a gamma with that mean and
    variance gives the range, and its median the point shown."""
    if staffed <= 0:
        return None
    if position <= free:
        return (0.0, 0.0, 0.0)
    gap = model.occupied_s / staffed
    ahead = position - free - 1
    leave = ABANDON_AHEAD * model.abandon
    stay = ahead * (1 - leave)
    c2 = 1 - (1 - model.cv**2) / staffed
    mean = gap * ((1 + c2) / 2 + stay)
    var = SPREAD * gap**2 * ((1 + c2) / 2 * c2 + stay * c2 + ahead * leave * (1 - leave))
    known = max(MIN_RELATIVE_ERROR, 0.5 * model.cv / model.calls**0.5)  # how well occupied_s is known (calibrated)
    wider = var + (mean * known) ** 2  # the range also spans what we do not know
    return (gamma_quantile(mean, var, 0.0), gamma_quantile(mean, wider, -Z80), gamma_quantile(mean, wider, Z80))


def head_range(draws: np.ndarray) -> tuple[float, float, float]:
    """(median, low, high): the 50th, 10th and 90th percentiles of one place's drawn waits (the draws
    hold the spread; widening them as wait_range does made the range hold for 86-89 % on the bench)."""
    mid, low, high = (float(q) for q in np.quantile(draws, (0.5, 0.1, 0.9)))
    return mid, low, high


def head_draws(entry: WaitingEntry, agents: Sequence[AgentPresence], now: float, settings: QueueSettings,
               model: LineModel, wraps: Sequence[float], places: int) -> np.ndarray | None:
    """Drawn waits of the line's first `places` places (head.head_waits), or None where the renewal
    model is as good: many slots, or places far behind the head."""
    slots = slots_for(entry, agents, now, settings.fallback_after_s, settings.wrapup_s)
    if not 0 < slots.staffed <= HEAD_SLOTS or places - slots.free > HEAD_POSITIONS:
        return None
    wrap = sum(wraps) / len(wraps) if wraps else 0.0
    talk = max(1.0, model.occupied_s - wrap)
    return head_waits(slots, places, talk, model.cv * model.occupied_s / talk, wraps,
                      1 - HEAD_ABANDON_AHEAD * model.abandon)


def gamma_quantile(mean: float, var: float, z: float) -> float:
    """The quantile at normal deviate z of the gamma distribution with this mean and variance (a wait
    for k departures is about Gamma(k)), by the Wilson-Hilferty cube approximation (within ~5 % even
    for k = 1). z = 0: the median."""
    k = mean**2 / var
    c = 1 / (9 * k)
    return mean * max(0.0, 1 - c + z * c**0.5) ** 3


def staffing_key(entry: WaitingEntry, now: float, fallback_after_s: float) -> tuple[object, ...]:
    """What `staffing` depends on besides the agents: entries with equal keys have equal staffing."""
    return (*entry.unit_chain, -1, entry.item_id, entry.department_id, *sorted(entry.declined_by), -1,
            entry.active_pin, reachable_level(entry, now, fallback_after_s))  # fmt: skip


def staffing(
    entry: WaitingEntry, agents: Iterable[AgentPresence], now: float, fallback_after_s: float
) -> tuple[int, int, int]:
    """(staffed slots, free slots, ready agents) among the agents eligible for `entry` now."""
    staffed = free = ready = 0
    for a in agents:
        if a.state not in STAFFED_STATES or eligible_level(entry, a, now, fallback_after_s) is None:
            continue
        staffed += a.capacity
        if a.routable:
            free += a.free
            ready += a.state == "ready"
    return staffed, free, ready


def build_statuses(
    tickets: Iterable[str],
    entries: Sequence[WaitingEntry],
    agents: Sequence[AgentPresence],
    handle_times: Mapping[str, Sequence[float]],
    now: float,
    settings: QueueSettings,
    history: HistorySource | None = None,
    ranks: Mapping[str, int] | None = None,
    staffed: dict[tuple[object, ...], tuple[int, int, int]] | None = None,
) -> dict[str, QueueStatus]:
    """Statuses of queued tickets from one snapshot; `handle_times` maps line → recent talk times and
    wrapup_key(unit) → recent wrap-up times; `history` gives each line's seed. `ranks`: positions
    already known (the store's line_positions), so `entries` may hold only the asked tickets instead
    of their whole lines. `staffed`: the staffing of each kind of entry (staffing_key) found so far
    with these same `agents`, filled in here: a caller that keeps its agents for a while (the
    positions' rounds) keeps this with them, and a round does not go over every agent again."""
    tickets = list(tickets)
    pos = dict(ranks) if ranks is not None else positions(entries)
    by_ticket = {e.ticket: e for e in entries}
    out: dict[str, QueueStatus] = {}
    seen = staffed if staffed is not None else {}  # applicants alike share the staffing
    models: dict[str, LineModel] = {}
    heads: dict[tuple[object, ...], np.ndarray | None] = {}  # drawn waits of the head, per staffing
    places: dict[str, int] = {}  # the furthest place asked for in each line
    for ticket in tickets:
        if (asked := by_ticket.get(ticket)) is not None:
            places[asked.line] = max(places.get(asked.line, 0), pos[ticket])
    for ticket in tickets:
        entry = by_ticket.get(ticket)
        if entry is None:
            continue
        key = staffing_key(entry, now, settings.fallback_after_s)
        if key not in seen:
            seen[key] = staffing(entry, agents, now, settings.fallback_after_s)
        slots, free, ready = seen[key]
        if entry.state == "offered":
            found: tuple[float, float, float] | None = (0.0, 0.0, 0.0)
            level = entry.fallback_level
        else:
            if entry.line not in models:
                models[entry.line] = line_model(
                    handle_times.get(entry.line, ()), handle_times.get(wrapup_key(entry.unit_id), ()),
                    history(entry) if history is not None else None, settings.default_handle_time_s)
            model, wraps = models[entry.line], handle_times.get(wrapup_key(entry.unit_id), ())
            if key not in heads:  # staffing says first whether the head's draws apply at all
                heads[key] = head_draws(entry, agents, now, settings, model, wraps, places[entry.line]) \
                    if 0 < slots <= HEAD_SLOTS and places[entry.line] - free <= HEAD_POSITIONS else None
            drawn = heads[key]
            if drawn is not None and pos[ticket] > free:
                found = head_range(drawn[pos[ticket] - 1])
            else:
                found = wait_range(pos[ticket], slots, free, model)
            level = reachable_level(entry, now, settings.fallback_after_s)
        wait, low, high = (None, None, None) if found is None else (round(found[0]), *map(round, found[1:]))
        out[ticket] = QueueStatus(ticket, entry.work_order_id, entry.state, pos[ticket], wait, ready, level,
                                  low, high)
    return out
