"""Bench: how far the expected wait shown to applicants is from the wait they then had.

A discrete-event simulation drives the real QueueService (memory store, fake clock): one line of one
unit, N single-call agents who accept every offer at once; Poisson arrivals at a load of 70/85/95 %;
talk times lognormal with mean 8 min and CV 0.8, then a wrap-up of 30-90 s (uniform) during which
the agent takes no call; exponential patience whose mean is calibrated (by a quick simulation of
the same queue) so that 10 % of the applicants who have to wait give up. Days of 8 hours, each starting with an empty
queue and a fresh store (a process started in the morning); history is what the same line did on
earlier weeks (300 calls drawn from the same distributions, 10 % abandonment).

For every applicant who had to wait and was served, the first `queue.status` it saw is compared
with its actual wait: relative error = (shown − actual) / max(actual, 60 s). Printed per case, for
the estimate (with its range) and for the baseline, today's formula position × AHT / agents (AHT =
mean of the line's last 50 talk times, 300 s before any call of the day has ended), in the same run:
median |error|, share within ±25 %, bias (Σ shown − Σ actual) / Σ actual, the range's coverage
(share of actual waits inside low..high), and the median |error| of applicants who joined in the
first 20 minutes of a day: separate mornings (fresh store, nothing ended yet today) opening with
N + N/2 applicants at the door within two minutes, then Poisson arrivals, until 300 of them have had
to wait. Steady state = joined after the first hour of a day.

Beside them, the floor (bench/wait_oracle.py): what an oracle that knows the exact distributions and
the present state (how long each busy call has run, or, "blind", not) can reach, and the largest share
of applicants any estimate can bring within ±15 % (steady) and ±25 % (first 20 minutes).

Usage: .venv/bin/python bench/bench_expected_wait.py [--applicants 2000] [--seed 7] [--no-write]
Writes the "Expected wait" section of bench/RESULTS.md. CPU-bound, about four minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import math
import os
import platform
import random
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "queue"))
from helpdesk_queue.estimate import Seed, positions, staffing  # noqa: E402
from helpdesk_queue.events import Connected, Offered, QueueEvent  # noqa: E402
from helpdesk_queue.memory import MemoryQueueStore  # noqa: E402
from helpdesk_queue.models import AgentPresence, QueueSettings, WaitingEntry  # noqa: E402
from helpdesk_queue.service import QueueService  # noqa: E402
from results import write_section  # noqa: E402
from wait_oracle import WaitOracle  # noqa: E402

SECTION = "Expected wait"
TALK_MEAN, TALK_CV = 480.0, 0.8
WRAP_LOW, WRAP_HIGH = 30.0, 90.0
OCCUPIED_MEAN = TALK_MEAN + (WRAP_LOW + WRAP_HIGH) / 2
ABANDON = 0.10
DAY_S = 8 * 3600.0
UNIT, ITEM, DEPT = 100, 7, 70
LINE = f"{UNIT}:{ITEM}"
DEFAULT_AHT = 300.0
ORACLES = ("oracle", "blind")  # the floors, knowing how long the busy calls have run or not
MORNING_WAITERS = 300  # applicants who had to wait in the first 20 minutes of a day, per case


def talk_time(rng: random.Random) -> float:
    s2 = math.log(1 + TALK_CV**2)
    return rng.lognormvariate(math.log(TALK_MEAN) - s2 / 2, s2**0.5)


def wrap_time(rng: random.Random) -> float:
    return rng.uniform(WRAP_LOW, WRAP_HIGH)


# ---- patience calibration: a plain FCFS simulation of the same queue ---------------------------


def abandon_share(agents: int, rate: float, patience: float, seed: int, n: int = 6000) -> float:
    """Share of the applicants who had to wait that gave up: FCFS, N servers, exponential patience,
    days of DAY_S starting empty."""
    rng = random.Random(seed)
    gave_up = waited = 0
    t = DAY_S
    free_at: list[float] = []
    for _ in range(n):
        t += rng.expovariate(rate)
        if t >= DAY_S:
            t, free_at = 0.0, [0.0] * agents  # a new day: everyone free
        start = max(t, free_at[0])
        if start > t:
            waited += 1
            if start - t > rng.expovariate(1 / patience):
                gave_up += 1  # leaves before an agent is free: the agent's time is untouched
                continue
        heapq.heapreplace(free_at, start + talk_time(rng) + wrap_time(rng))
    return gave_up / max(1, waited)


def calibrate_patience(agents: int, rate: float, seed: int) -> float:
    """Mean patience giving ABANDON abandonment (bisection on a log scale)."""
    lo, hi = 5.0, 50_000.0
    for _ in range(18):
        mid = math.sqrt(lo * hi)
        if abandon_share(agents, rate, mid, seed) > ABANDON:
            lo = mid
        else:
            hi = mid
    return math.sqrt(lo * hi)


# ---- the simulation over the real service ------------------------------------------------------


@dataclass
class Record:
    joined: float  # seconds since the start of its day
    shown: float
    low: float
    high: float
    baseline: float
    # The floors (wait_oracle): the best value any estimate could show, knowing how long the busy calls
    # have run ("oracle") or not ("blind"), and the most any estimate gets within ±15 % and ±25 %.
    oracle: float = 0.0
    blind: float = 0.0
    chances: dict[str, list[float]] = field(default_factory=dict)
    waited: float | None = None  # None: gave up


@dataclass
class Day:
    rng: random.Random
    agents: int
    rate: float
    patience: float
    history: Seed
    now: float = 0.0
    events: list[tuple[float, int, str, Any]] = field(default_factory=list)
    seq: int = 0
    records: dict[str, Record] = field(default_factory=dict)
    talk: dict[int, float] = field(default_factory=dict)
    pending: list[QueueEvent] = field(default_factory=list)
    oracles: dict[str, WaitOracle] = field(default_factory=dict)
    talking: dict[int, float] = field(default_factory=dict)  # agent → when its call began
    wrapping: dict[int, float] = field(default_factory=dict)  # agent → when its wrap-up began

    def at(self, t: float, kind: str, data: Any) -> None:
        self.seq += 1
        heapq.heappush(self.events, (t, self.seq, kind, data))

    async def run(self, day_start: float, arrivals: int, length_s: float = DAY_S, rush: int = 0) -> int:
        """Simulate one day (or morning) of up to `arrivals` applicants, the first `rush` of them in the
        first two minutes (people waiting at the door); returns how many arrived."""

        async def sink(event: QueueEvent) -> None:
            self.pending.append(event)

        settings = QueueSettings(wrapup_s=WRAP_HIGH + 30, presence_ttl_s=1e12, offer_timeout_s=1e9,
                                 fallback_after_s=1e9, default_handle_time_s=DEFAULT_AHT)
        self.svc = QueueService(MemoryQueueStore(), now=lambda: day_start + self.now, emit=sink,
                                settings=settings, history=lambda entry: self.history)
        for i in range(self.agents):
            await self.svc.agent_online(AgentPresence(i + 1, UNIT, {ITEM}, set(), state="ready"), "ready")
        t, n = 0.0, 0
        for _ in range(rush):
            n += 1
            self.at(self.rng.uniform(0, 120), "arrive", f"d{day_start:.0f}-{n}")
        while n < arrivals:
            t += self.rng.expovariate(self.rate)
            if t >= length_s:
                break
            n += 1
            self.at(t, "arrive", f"d{day_start:.0f}-{n}")
        while self.events:
            t, _, kind, data = heapq.heappop(self.events)
            self.now = t
            await getattr(self, kind)(data)
        return n

    async def settle(self) -> None:
        """Every offer is accepted at once; each accepted call is scheduled to end."""
        while self.pending:
            event = self.pending.pop(0)
            if isinstance(event, Offered):
                await self.svc.accept(event.ticket, event.agent_id)
            elif isinstance(event, Connected):
                record = self.records[event.ticket]
                record.waited = self.now - record.joined
                talk = talk_time(self.rng)
                self.talk[event.agent_id] = talk
                self.talking[event.agent_id] = self.now
                self.at(self.now + talk, "hang_up", event.agent_id)

    async def arrive(self, ticket: str) -> None:
        entry = WaitingEntry(ticket, f"wo-{ticket}", [UNIT], ITEM, DEPT, enqueued_at=self.svc._now())
        baseline = await self.baseline(entry)
        ahead = len(await self.svc.store.list_waiting())
        talking = [self.now - t for t in self.talking.values()]
        wrapping = [self.now - t for t in self.wrapping.values()]
        await self.svc.join(entry)
        status = await self.svc.status(ticket)
        if status is None or status.expected_wait_s is None:  # served at once (or nobody staffed)
            self.records[ticket] = Record(self.now, 0, 0, 0, 0)
        else:
            record = Record(self.now, status.expected_wait_s, status.expected_wait_low_s or 0,
                            status.expected_wait_high_s or 0, baseline)
            for name, oracle in self.oracles.items():
                best, record.chances[name] = oracle.judge(talking, wrapping, self.agents - len(talking) - len(wrapping),
                                                          ahead)
                setattr(record, name, best)
            self.records[ticket] = record
        await self.settle()
        if self.records[ticket].waited is None:
            self.at(self.now + self.rng.expovariate(1 / self.patience), "give_up", ticket)

    async def baseline(self, joining: WaitingEntry) -> float:
        """Today's formula (before this change) for the applicant about to join: (k − F) · AHT / busy."""
        entries = [*await self.svc.store.list_waiting(), joining]
        agents = await self.svc.store.list_agents()
        k = positions(entries)[joining.ticket]
        staffed, free, _ = staffing(joining, agents, self.svc._now(), 1e9)
        if k <= free:
            return 0.0
        talks = await self.svc.store.handle_times(LINE)
        aht = sum(talks) / len(talks) if talks else DEFAULT_AHT
        busy = staffed - free
        return (k - free) * aht / (busy if busy > 0 else staffed)

    async def give_up(self, ticket: str) -> None:
        if self.records[ticket].waited is None:
            await self.svc.leave(ticket)
            await self.settle()

    async def hang_up(self, agent_id: int) -> None:
        await self.svc.call_ended(agent_id, self.talk.pop(agent_id), LINE)
        del self.talking[agent_id]
        self.wrapping[agent_id] = self.now
        await self.settle()
        self.at(self.now + wrap_time(self.rng), "wrapped_up", agent_id)

    async def wrapped_up(self, agent_id: int) -> None:
        del self.wrapping[agent_id]
        await self.svc.agent_state(agent_id, "ready")
        await self.settle()


def history_seed(rng: random.Random) -> Seed:
    """What earlier weeks at this weekday and hour say: 300 calls of the same line."""
    calls = [talk_time(rng) + wrap_time(rng) for _ in range(300)]
    mean = statistics.fmean(calls)
    return Seed(mean, statistics.stdev(calls) / mean, len(calls), ABANDON)


async def simulate(agents: int, load: float, applicants: int, seed: int, with_oracle: bool = True) -> dict[str, Any]:
    rng = random.Random(seed)
    rate = load * agents / OCCUPIED_MEAN
    patience = calibrate_patience(agents, rate, seed)
    records: list[Record] = []
    arrived, day = 0, 0
    oracles = {name: WaitOracle(TALK_MEAN, TALK_CV, WRAP_LOW, WRAP_HIGH, patience, seed, blind=name == "blind")
               for name in (ORACLES if with_oracle else ())}
    while arrived < applicants:
        sim = Day(rng, agents, rate, patience, history_seed(rng), oracles=oracles)
        arrived += await sim.run(day * 86_400.0, applicants - arrived)
        records.extend(sim.records.values())
        day += 1
    queued = [r for r in records if r.waited is None or r.waited > 0]
    mornings: list[Record] = []  # opening: a small crowd at the door, nothing ended yet today
    while len([r for r in mornings if r.waited]) < MORNING_WAITERS:
        sim = Day(rng, agents, rate, patience, history_seed(rng), oracles=oracles)
        await sim.run(day * 86_400.0, 10**9, length_s=1200, rush=agents + max(2, agents // 2))
        mornings.extend(sim.records.values())
        day += 1
    return {"agents": agents, "load": load, "days": day, "patience": patience, "records": records,
            "mornings": mornings, "abandoned": sum(r.waited is None for r in queued) / max(1, len(queued))}


def errors(records: list[Record], which: str) -> list[float]:
    return [(getattr(r, which) - r.waited) / max(r.waited, 60.0) for r in records if r.waited is not None]


def summarise(res: dict[str, Any]) -> dict[str, Any]:
    served = [r for r in res["records"] if r.waited is not None and r.shown + r.baseline > 0]
    steady = [r for r in served if r.joined >= 3600]
    early = [r for r in res["mornings"] if r.waited is not None and r.shown + r.baseline > 0]
    out: dict[str, Any] = {"agents": res["agents"], "load": res["load"], "abandoned": res["abandoned"],
                           "waited": len(served), "early_n": len(early)}
    for which in ("shown", "baseline", *ORACLES):
        errs = errors(steady, which)
        out[which] = {
            "mae": statistics.median(abs(e) for e in errs) if errs else float("nan"),
            "within": sum(abs(e) <= 0.25 for e in errs) / len(errs) if errs else float("nan"),
            "bias": (sum(getattr(r, which) for r in steady) / sum(r.waited for r in steady) - 1) if steady else 0,
            "early": statistics.median(abs(e) for e in errors(early, which)) if early else float("nan"),
        }
    for name in ORACLES:
        out[name]["most15"] = statistics.fmean(r.chances[name][0] for r in steady) if steady else 0.0
        out[name]["most25_early"] = statistics.fmean(r.chances[name][1] for r in early) if early else 0.0
    out["coverage"] = sum(r.low - 1 <= r.waited <= r.high + 1 for r in steady) / len(steady) if steady else 0
    return out


def table(rows: list[dict[str, Any]]) -> list[str]:
    lines = ["| agents | load | waited / abandoned | median abs error | within ±25 % | bias | range coverage "
             "| first 20 min (n) |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        m, b = r["shown"], r["baseline"]
        lines.append(
            f"| {r['agents']} | {r['load']:.0%} | {r['waited']:,} / {r['abandoned']:.0%} "
            f"| **{m['mae']:.0%}** (was {b['mae']:.0%}) | {m['within']:.0%} (was {b['within']:.0%}) "
            f"| {m['bias']:+.0%} (was {b['bias']:+.0%}) | {r['coverage']:.0%} "
            f"| {m['early']:.0%} (was {b['early']:.0%}) ({r['early_n']}) |")
    return lines


def floor_table(rows: list[dict[str, Any]]) -> list[str]:
    lines = ["| agents | load | best median abs error | most within ±15 % | best first 20 min | most within ±25 %, "
             "first 20 min |", "|---|---|---|---|---|---|"]
    for r in rows:
        o, n = r["oracle"], r["blind"]
        lines.append(f"| {r['agents']} | {r['load']:.0%} | {o['mae']:.0%} / {n['mae']:.0%} "
                     f"| {o['most15']:.0%} / {n['most15']:.0%} | {o['early']:.0%} / {n['early']:.0%} "
                     f"| {o['most25_early']:.0%} / {n['most25_early']:.0%} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--applicants", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--agents", type=int, nargs="*", default=[3, 10, 30])
    parser.add_argument("--loads", type=float, nargs="*", default=[0.70, 0.85, 0.95])
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    began, cpu0, load_avg = time.perf_counter(), time.process_time(), os.getloadavg()[0]
    rows = []
    for agents in args.agents:
        for load in args.loads:
            res = asyncio.run(simulate(agents, load, args.applicants, args.seed + agents * 100 + int(load * 100)))
            row = summarise(res)
            rows.append(row)
            m, b, o, n = row["shown"], row["baseline"], row["oracle"], row["blind"]
            print(f"{agents:3d} agents {load:4.0%}: {res['days']:3d} days, abandoned {row['abandoned']:.1%}; "
                  f"median |err| {m['mae']:.1%} (baseline {b['mae']:.1%}), ±25 % {m['within']:.0%} "
                  f"({b['within']:.0%}), bias {m['bias']:+.1%} ({b['bias']:+.1%}), coverage {row['coverage']:.0%}, "
                  f"first 20 min {m['early']:.0%} ({b['early']:.0%}); floor {o['mae']:.1%}, "
                  f"first 20 min {o['early']:.0%}, most within ±15 % {o['most15']:.0%}, first 20 min within ±25 % "
                  f"{o['most25_early']:.0%}; blind floor {n['mae']:.1%}, most within ±15 % {n['most15']:.0%}",
                  flush=True)
    took, cpu = time.perf_counter() - began, time.process_time() - cpu0
    applicants = args.applicants * len(rows)
    body = [
        f"## {SECTION}",
        "",
        f"Command: `.venv/bin/python bench/bench_expected_wait.py --applicants {args.applicants} --seed {args.seed}` "
        f"(Python {platform.python_version()}, {os.cpu_count()} cores, load average {load_avg:.1f} before the run, "
        f"took {took:.0f} s, {cpu / applicants * 1000:.1f} ms of CPU per simulated applicant).",
        "A discrete-event simulation over the real QueueService (memory store, fake clock): one line, N agents "
        "accepting at once,",
        "Poisson arrivals, talk lognormal (mean 8 min, CV 0.8) plus a 30-90 s wrap-up, exponential patience "
        "calibrated to 10 %",
        "abandonment of those who wait, 8-hour days each starting empty with a fresh store, history = 300 calls "
        "of earlier weeks. Compared: the first",
        "`queue.status` an applicant who had to wait saw, against the wait it had; error = (shown − actual) / "
        "max(actual, 60 s).",
        "Steady state = joined after a day's first hour; \"first 20 min\" = median |error| of 300 applicants who "
        "waited in the first 20 minutes of mornings opening with N + N/2 people at the door (fresh store).",
        "Baseline (\"was\") in the same run: today's formula, position × AHT / busy agents, AHT = mean of the last "
        "50 talk times (300 s before any).",
        "",
        *table(rows),
        "",
        "Targets: steady-state median |error| ≤ 15 %, coverage 75-85 %, first 20 minutes ≤ 25 %, |bias| ≤ 10 %.",
        "",
        "What any estimate can reach in the same run (bench/wait_oracle.py), \"knowing / not knowing\" how long the "
        "busy calls have run: an oracle that knows the",
        "exact talk, wrap-up and patience distributions and the present state draws each applicant's wait 400 times "
        "and shows the value with the least",
        "expected error; \"most within ±τ\" is the mean over applicants of the best chance any single shown value has "
        "of landing within ±τ, so no",
        "estimator (ours included) gets a larger share: where it is under 50 %, a median |error| ≤ τ is out of reach.",
        "",
        *floor_table(rows),
    ]
    print("\n".join(body))
    if not args.no_write:
        print(f"wrote {write_section(SECTION, chr(10).join(body))}")


if __name__ == "__main__":
    main()
