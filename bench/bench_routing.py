"""Routing decision time: 1,000 waiting applicants, 200 agents, memory store (optionally Redis).

Measures plan() (heap-indexed) against plan_naive() (an O(entries × agents) scan taking the same
decisions), and a whole dispatch() pass (snapshot, plan, atomic reserve and claim, events) with
either planner, in two situations: one agent frees up while 199 are busy (the steady state), and
all 200 agents ready at once (the morning burst). Writes the figures into bench/RESULTS.md.

    .venv/bin/python bench/bench_routing.py [--redis redis://127.0.0.1:6379/0] [--no-write]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import helpdesk_queue.dispatch as dispatch_mod
from helpdesk_queue.memory import MemoryQueueStore
from helpdesk_queue.models import AgentPresence, Assignment, QueueSettings, WaitingEntry
from helpdesk_queue.routing import plan, plan_naive
from helpdesk_queue.service import QueueService
from helpdesk_queue.store import QueueStore
from results import write_section

N_ENTRIES, N_AGENTS, NOW = 1000, 200, 1_764_300_000.0
CITY, COUNTIES, TOWNS_PER_COUNTY, ITEMS, DEPTS = 1, 5, 5, 20, 5
RESULTS = Path(__file__).with_name("RESULTS.md")


def world(seed: int = 1) -> tuple[list[WaitingEntry], list[AgentPresence]]:
    """A city, 5 counties, 25 townships; 20 items in 5 departments; waits up to 10 minutes."""
    rng = random.Random(seed)
    counties = [10 + c for c in range(COUNTIES)]
    towns = [(100 + 10 * c + t, counties[c]) for c in range(COUNTIES) for t in range(TOWNS_PER_COUNTY)]
    entries = []
    for i in range(N_ENTRIES):
        town, county = rng.choice(towns)
        item = rng.randrange(ITEMS)
        entries.append(
            WaitingEntry(
                f"t{i:04}", f"wo{i}", [town, county, CITY], item, item % DEPTS,
                priority=1 if rng.random() < 0.1 else 0, enqueued_at=NOW - rng.uniform(0, 600),
            )
        )  # fmt: skip
    agents = []
    for a in range(N_AGENTS):
        unit = rng.choice(towns)[0] if a < 120 else rng.choice(counties) if a < 180 else CITY
        depts = {rng.randrange(DEPTS)} if rng.random() < 0.3 else set()
        agents.append(
            AgentPresence(
                a, unit, set(rng.sample(range(ITEMS), 3)), depts, capacity=1 + (rng.random() < 0.2),
                state="ready", idle_since=NOW - rng.uniform(0, 300), last_heartbeat=NOW,
            )
        )  # fmt: skip
    return entries, agents


def busy_but_one(agents: list[AgentPresence], free_id: int) -> list[AgentPresence]:
    out = []
    for a in agents:
        b = AgentPresence(**{**a.__dict__})
        if a.agent_id != free_id:
            b.state, b.active_calls = "busy", b.capacity
        out.append(b)
    return out


def pct(samples: list[float]) -> tuple[float, float]:
    qs = statistics.quantiles(samples, n=100, method="inclusive")
    return qs[49] * 1000, qs[98] * 1000


Planner = Callable[[list[WaitingEntry], list[AgentPresence], float, float], list[Assignment]]
PLANNERS: dict[str, Planner] = {"indexed": plan, "naive scan": plan_naive}


def time_plans(entries: list[WaitingEntry], agents: list[AgentPresence], n: int) -> dict[str, list[float]]:
    """Both planners interleaved on the same input, so machine noise hits them alike."""
    out: dict[str, list[float]] = {name: [] for name in PLANNERS}
    for planner in PLANNERS.values():
        planner(entries, agents, NOW, 120)  # warm-up
    for _ in range(n):
        for name, planner in PLANNERS.items():
            t = time.perf_counter()
            planner(entries, agents, NOW, 120)
            out[name].append(time.perf_counter() - t)
    return out


async def load(store: QueueStore, entries: list[WaitingEntry], agents: list[AgentPresence]) -> None:
    for e in entries:
        await store.add_entry(e)
    for a in agents:
        await store.upsert_agent(a)


async def time_dispatch(
    make_store: Callable[[], Awaitable[QueueStore]],
    agents: list[AgentPresence],
    steady: bool,
    n: int,
    planners: dict[str, Planner],
) -> dict[str, list[float]]:
    """Time dispatch() passes with each planner in turn; untimed set-up restores the store."""
    entries, _ = world()
    settings = QueueSettings(presence_ttl_s=1e9)
    out: dict[str, list[float]] = {name: [] for name in planners}

    async def sink(_: object) -> None:
        return None

    store = await make_store()
    await load(store, entries, busy_but_one(agents, 0) if steady else agents)
    rng = random.Random(2)
    free_id = 0
    for _ in range(n):
        before, free_id = free_id, rng.randrange(N_AGENTS)  # a call ends somewhere
        states = busy_but_one(agents, free_id)
        if steady:
            await store.upsert_agent(states[before])
        for name, planner in planners.items():
            if steady:
                await store.upsert_agent(states[free_id])
            else:
                store = await make_store()
                await load(store, entries, agents)
            dispatch_mod.plan = planner  # the whole pass with this planner
            svc = QueueService(store, now=lambda: NOW, emit=sink, settings=settings)
            t = time.perf_counter()
            offers = await svc.dispatch()
            out[name].append(time.perf_counter() - t)
            for o in offers:
                await store.release(o.ticket, o.agent_id, exclude_agent=False)
    dispatch_mod.plan = plan
    return out


def write_results(text: str) -> None:
    """Replace only the "## Routing" section of bench/RESULTS.md (other sections are others')."""
    write_section("Routing", text)


async def redis_rows(url: str) -> list[float]:
    """The steady-state pass on RedisQueueStore (one snapshot round trip per list, Lua claims)."""
    from helpdesk_queue.redis_store import RedisQueueStore
    from redis.asyncio import Redis

    client = Redis.from_url(url, decode_responses=True)
    prefix = f"bench:{uuid.uuid4().hex[:8]}:"

    async def fresh() -> QueueStore:
        keys = [k async for k in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        return RedisQueueStore(client, prefix=prefix)

    try:
        return (await time_dispatch(fresh, world()[1], True, 100, {"indexed": plan}))["indexed"]
    finally:
        await fresh()
        await client.aclose()


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--redis", help="also time dispatch() on RedisQueueStore at this URL")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    load_before = os.getloadavg()[0]
    entries, agents = world()
    rows: list[tuple[str, str, int, list[float]]] = []
    started = time.perf_counter()
    assert plan(entries, agents, NOW, 120) == plan_naive(entries, agents, NOW, 120)

    async def memory() -> QueueStore:
        return MemoryQueueStore()

    snapshot = MemoryQueueStore()  # plan() sees what a pass sees: the store's copies
    await load(snapshot, entries, busy_but_one(agents, 0))
    steady_entries, steady_agents = await snapshot.list_waiting(), await snapshot.list_agents()
    runs: list[tuple[str, int, dict[str, list[float]]]] = [
        ("plan(), 1 agent free", 200, time_plans(steady_entries, steady_agents, 200)),
        ("plan(), 200 agents free", 60, time_plans(steady_entries, agents, 60)),
        ("dispatch() pass, 1 agent free", 150, await time_dispatch(memory, agents, True, 150, PLANNERS)),
        ("dispatch() pass, 200 agents free", 20, await time_dispatch(memory, agents, False, 20, PLANNERS)),
    ]
    for what, n, by_planner in runs:
        for label, samples in by_planner.items():
            rows.append((what, label, n, samples))
    if args.redis:
        rows.append(("dispatch() pass, 1 agent free, Redis", "indexed", 100, await redis_rows(args.redis)))
    elapsed = time.perf_counter() - started

    lines = ["| measurement | planner | runs | p50 ms | p99 ms |", "|---|---|---|---|---|"]
    for what, label, n, samples in rows:
        p50, p99 = pct(samples)
        lines.append(f"| {what} | {label} | {n} | {p50:.2f} | {p99:.2f} |")
    table = "\n".join(lines)
    print(table)
    machine = (
        f"Python {platform.python_version()}, {os.cpu_count()} cores, load average {load_before:.1f} before"
        f" and {os.getloadavg()[0]:.1f} after the run (other sessions share the machine: p99 mostly"
        " measures their contention)"
    )
    print(f"\n(total {elapsed:.1f} s; {machine})")
    if not args.no_write:
        cmd = ".venv/bin/python bench/bench_routing.py" + (" --redis " + args.redis if args.redis else "")
        write_results(
            "## Routing\n\n"
            f"{N_ENTRIES} waiting applicants (25 townships, 5 counties, 1 city; 20 items; waits up to\n"
            f"10 min, 10% priority), {N_AGENTS} agents (120 township, 60 county, 20 city; 3 item skills,\n"
            "30% a department skill, 20% capacity 2). `indexed` is `plan()` (agents in heaps per unit\n"
            "and skill); the baseline `naive scan` is `plan_naive()` (every agent for every entry, the\n"
            "same decisions: asserted equal), timed interleaved with it on the same input. A dispatch()\n"
            "pass is what runs after every change: the store snapshot, the plan, one atomic reserve +\n"
            "claim per offer, the events (the naive rows swap only the planner). `1 agent free`: 199\n"
            "agents busy, one call ends (the steady state, one offer); `200 agents free`: the morning\n"
            "burst (about 240 offers). Command:\n\n"
            f"```\n{cmd}\n```\n\n{table}\n\n"
            f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, total {elapsed:.1f} s; {machine}.\n"
        )


if __name__ == "__main__":
    asyncio.run(main())
