"""Pairing and relay latency over two server processes sharing Redis and PostgreSQL.

1,000 applicants wait (spread over `--lines` waiting lines) and 300 agents are online but away,
their sockets spread over two uvicorn processes. Then agents turn ready one after the other:
pairing latency = agent sends `agent.state ready` → both the agent and the applicant hold
`room.joined` (the agent accepts its offer at once, in between). Then relay latency of a
`signal` from applicant to agent, same process versus across processes, and Redis commands per
pairing from INFO commandstats deltas (the background rate measured while idle is subtracted).

Runs its own redis-server on a free port (so other users of 6379 do not skew the counts) and a
fresh PostgreSQL schema in database `test`; both are removed at the end.

Two runs, each on fresh processes, Redis and schema: the baseline with the full-scan planner
(HELPDESK_QUEUE_ROUTING=scan: every routing pass and tick reads the whole queue and every agent),
then routing by index (the default). `--sockets N` opens sockets for the first N applicants only
(the heads of the lines, who get paired): a 10,000-waiting run with the same 1,000 sockets keeps
the position fan-out per line equal, so the CPU per pairing shows what the queue's length costs.

    .venv/bin/python bench/bench_pairing.py [--applicants 1000] [--agents 300] [--lines 10]
        [--sockets N] [--routing both|index|scan] [--write]

BENCH_SQL_ECHO=1 logs the servers' SQL, BENCH_KEEP=1 keeps their logs, BENCH_SPY_NATIVE=1 makes
`--py-spy` sample C frames too (it then pauses the servers: their timings are not the usual ones).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import gc
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import asyncpg  # noqa: E402
import redis.asyncio as aioredis  # noqa: E402
import uvloop  # noqa: E402
from pairing_probes import (  # noqa: E402
    RedisServer,
    commandstats,
    cpu_s,
    delta,
    monitor_counts,
    pg_writes,
    redis_cpu_s,
)
from pairing_report import report, section  # noqa: E402
from pairing_seed import seed  # noqa: E402
from websockets.asyncio.client import ClientConnection, connect  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402

import helpdesk.models  # noqa: E402,F401 - registers every table
from helpdesk.config import DEV_SECRET  # noqa: E402
from helpdesk.security import APPLICANT_COOKIE, CSRF_COOKIE, STAFF_COOKIE, Signer  # noqa: E402
from tests.conftest import free_port  # noqa: E402
from tests.journey.cluster import Proc, cluster_env  # noqa: E402

SIGNER = Signer(DEV_SECRET)
# BENCH_SPY_NATIVE=1: py-spy also samples C frames (uvloop, asyncpg); it must pause the process for that
SPY_MODE = ["--native"] if os.environ.get("BENCH_SPY_NATIVE") else ["--nonblocking"]
# The idle window spans one reconcile interval (HELPDESK_RECONCILE_INTERVAL_S, 10 s by default): the
# leader's reconciler pass is averaged into the background, not caught in full or missed by chance.
IDLE_S = 10.5


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))]


@dataclass
class Sock:
    """One browser socket: a reader that timestamps the messages the bench waits for."""

    member: str
    proc: Proc
    cookie: str
    ws: ClientConnection | None = None
    waiters: dict[str, asyncio.Future[tuple[float, dict[str, Any]]]] = field(default_factory=dict)
    received: int = 0
    kinds: collections.Counter[str] = field(default_factory=collections.Counter)
    reader: asyncio.Task[None] | None = None
    on_offer: Any = None

    async def open(self) -> dict[str, Any]:
        self.ws = await connect(self.proc.ws_url, additional_headers={"Cookie": self.cookie},
                                max_queue=None, open_timeout=30)
        welcome = json.loads(await self.ws.recv())
        self.reader = asyncio.create_task(self._read())
        return dict(welcome)

    def wait(self, key: str) -> asyncio.Future[tuple[float, dict[str, Any]]]:
        fut = self.waiters.get(key)
        if fut is None:
            fut = self.waiters[key] = asyncio.get_running_loop().create_future()
        return fut

    async def _read(self) -> None:
        assert self.ws is not None
        with contextlib.suppress(ConnectionClosed):
            async for raw in self.ws:
                t = time.perf_counter()
                self.received += 1
                msg = json.loads(raw)
                kind = msg["type"]
                self.kinds[kind] += 1
                if kind == "offer" and self.on_offer is not None:
                    await self.on_offer(self, msg)
                key = {"room.joined": "room.joined", "signal": "signal", "offer": "offer"}.get(kind)
                if key is not None:
                    fut = self.wait(key)
                    if not fut.done():
                        fut.set_result((t, msg))

    async def send(self, msg: dict[str, Any]) -> None:
        assert self.ws is not None
        await self.ws.send(json.dumps(msg))

    async def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(), 2)
        if self.reader is not None:
            self.reader.cancel()


async def gather_limited(n: int, coros: list[Any], label: str) -> list[Any]:
    sem = asyncio.Semaphore(n)
    done = 0
    step = max(1, len(coros) // 5)

    async def one(c: Any) -> Any:
        nonlocal done
        async with sem:
            out = await c
        done += 1
        if done % step == 0 or done == len(coros):
            log(f"  {label}: {done}/{len(coros)}")
        return out

    return await asyncio.gather(*(one(c) for c in coros))


async def run(args: argparse.Namespace, routing: str) -> dict[str, Any]:
    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="bench-pairing-"))
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    pg = await asyncpg.connect(host="127.0.0.1", port=5432, user="postgres", database="test")
    await pg.execute(f'CREATE SCHEMA "{schema}"')
    db_url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/test?options=-csearch_path%3D{schema}"
    redis_server = RedisServer(tmp) if args.redis is None else None
    redis_url = args.redis or redis_server.url  # type: ignore[union-attr]
    prefix = f"bench:{uuid.uuid4().hex[:8]}:"
    procs: list[Proc] = []
    socks: list[Sock] = []
    try:
        log(f"seeding {args.applicants} applicants, {args.agents} agents, {args.lines} lines "
            f"(PostgreSQL schema {schema})")
        grace_s = 120
        data = await seed(db_url, redis_url, prefix, args.applicants, args.agents, args.lines, grace_s)
        env = cluster_env(db_url, redis_url, prefix, tmp, heartbeat_interval_s=120, offer_timeout_s=120,
                          reconnect_grace_s=grace_s, queue_routing=routing,
                          **({"database_echo": 1} if os.environ.get("BENCH_SQL_ECHO") else {}))
        procs = [Proc(n, free_port(), env, tmp / f"proc-{n}.log") for n in ("A", "B")]
        for p in procs:
            p.start(profile=Path(args.profile) / f"proc-{p.name}.prof" if args.profile else None)
            await p.wait_ready(60)
        log(f"two processes up ({routing} routing): {procs[0].url}, {procs[1].url}")
        csrf = SIGNER.new_csrf_token()

        def staff_cookie(sid: int, pv: str) -> str:
            return f"{STAFF_COOKIE}={SIGNER.dumps('staff-session', {'sid': sid, 'pv': pv})}; {CSRF_COOKIE}={csrf}"

        def applicant_cookie(aid: str) -> str:
            return f"{APPLICANT_COOKIE}={SIGNER.dumps('applicant-session', {'aid': aid})}; {CSRF_COOKIE}={csrf}"

        agents = [Sock(f"s:{sid}", procs[i % 2], staff_cookie(sid, pv)) for i, (sid, pv) in enumerate(data["staff"])]
        # Line i % lines; process (i // lines) % 2: every line has applicants on both processes.
        applicants = [Sock(f"a:{aid}", procs[(i // args.lines) % 2], applicant_cookie(aid))
                      for i, aid in enumerate(data["applicants"][: args.sockets or None])]
        socks = agents + applicants

        async def accept(sock: Sock, offer: dict[str, Any]) -> None:
            await sock.send({"type": "offer.accept", "ticket": offer["ticket"]})

        for a in agents:
            a.on_offer = accept
        t = time.monotonic()
        await gather_limited(50, [a.open() for a in agents], "agent sockets (away)")
        await gather_limited(50, [a.open() for a in applicants], "applicant sockets")
        connect_s = time.monotonic() - t
        by_room = {room: applicants[i] for room, i in data["rooms"].items() if i < len(applicants)}
        r = aioredis.Redis.from_url(redis_url, decode_responses=True)
        assert await r.zcard(prefix + "q:all") == args.applicants
        load_before = os.getloadavg()[0]
        gc.collect()
        gc.freeze()  # the clients' 1,300 sockets: a full collection of them paused this side 100-230 ms
        log(f"{args.applicants} waiting; measuring the idle background for {IDLE_S:.0f} s")
        port = redis_url.rsplit(":", 1)[1].split("/")[0]
        capture = tmp / "monitor.txt"
        with capture.open("wb") as out:
            monitor = subprocess.Popen(["redis-cli", "-p", port, "monitor"], stdout=out)
        await asyncio.sleep(1.0)
        c0, t_idle, w_idle = await commandstats(r), time.monotonic(), time.time()
        cpu0, rcpu0 = cpu_s(procs), await redis_cpu_s(r)
        await asyncio.sleep(IDLE_S)
        c1, w_idle_end = await commandstats(r), time.time()
        cpu1, rcpu1 = cpu_s(procs), await redis_cpu_s(r)
        idle_s = time.monotonic() - t_idle
        background = {k: v / idle_s for k, v in delta(c1, c0).items() if k not in ("info",)}

        # ---- pairing: one agent after another turns ready ----------------------------------------
        pairings: list[dict[str, Any]] = []
        t_pair = time.monotonic()
        c2, w_pair = await commandstats(r), time.time()
        cpu2, rcpu2 = cpu_s(procs), await redis_cpu_s(r)
        pg2 = await pg_writes(pg, schema)
        kinds0 = sum((s.kinds for s in socks), collections.Counter())
        spies = [subprocess.Popen(["py-spy", "record", "--pid", str(p.popen.pid), "--rate", "250", "--format", "raw",
                                   *SPY_MODE, "-o", str(Path(args.py_spy) / f"proc-{p.name}.txt")],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                 for p in procs if p.popen is not None] if args.py_spy else []
        for n, agent in enumerate(agents):
            if time.monotonic() - started > args.budget_s:
                log(f"  time budget spent: stopping after {n} pairings")
                break
            joined, offered = agent.wait("room.joined"), agent.wait("offer")
            t0 = time.perf_counter()
            await agent.send({"type": "agent.state", "state": "ready"})
            t_agent, msg = await asyncio.wait_for(joined, 30)
            applicant = by_room[msg["room"]]
            t_app, _ = await asyncio.wait_for(applicant.wait("room.joined"), 30)
            t_offer = offered.result()[0] if offered.done() else t0
            pairings.append({"ms": (max(t_agent, t_app) - t0) * 1000, "offer_ms": (t_offer - t0) * 1000,
                             "at": time.monotonic() - t_pair,
                             "room": msg["room"], "agent": agent,
                             "applicant": applicant, "cross": agent.proc is not applicant.proc})
            if (n + 1) % 50 == 0:
                recent = [p["ms"] for p in pairings[-50:]]
                log(f"  paired {n + 1}/{len(agents)}: last 50 p50 {statistics.median(recent):.1f} ms")
        c3, w_pair_end = await commandstats(r), time.time()
        cpu3, rcpu3 = cpu_s(procs), await redis_cpu_s(r)
        await asyncio.sleep(1.1)  # PostgreSQL publishes a backend's counters at most once a second
        pg3 = await pg_writes(pg, schema)
        kinds = sum((s.kinds for s in socks), collections.Counter()) - kinds0
        for spy in spies:  # py-spy writes its samples on SIGINT
            spy.send_signal(signal.SIGINT)
            spy.wait(30)
        pair_s = time.monotonic() - t_pair
        monitor.terminate()
        monitor.wait(5)
        worst = sorted(pairings, key=lambda pr: -pr["ms"])[:6]
        slowest = ", ".join(f"{pr['ms']:.0f} (offer {pr['offer_ms']:.0f}) @ {pr['at']:.1f}"
                            for pr in sorted(worst, key=lambda pr: pr["at"]))
        log(f"slowest pairings (ms @ s into the phase): {slowest}")
        log("pairing done; counting the monitor capture")
        sent_idle, trips_idle = monitor_counts(capture, w_idle, w_idle_end)
        sent_pair, trips_pair = monitor_counts(capture, w_pair, w_pair_end)
        sent_bg = {k: v / (w_idle_end - w_idle) for k, v in sent_idle.items() if k != "info"}
        sent_net = {k: (v - sent_bg.get(k, 0) * (w_pair_end - w_pair)) / len(pairings)
                    for k, v in sent_pair.items() if k != "info"}
        sent_per_pairing = {k: v for k, v in sent_net.items() if v >= 0.5}
        idle_len, pair_len = w_idle_end - w_idle, w_pair_end - w_pair
        trips_per = (trips_pair - trips_idle / idle_len * pair_len) / len(pairings)
        cpu_bg, rcpu_bg = (cpu1 - cpu0) / idle_len, (rcpu1 - rcpu0) / idle_len
        cpu_per = ((cpu3 - cpu2) - cpu_bg * pair_len) / len(pairings)
        rcpu_per = ((rcpu3 - rcpu2) - rcpu_bg * pair_len) / len(pairings)
        used = delta(c3, c2)
        used.pop("info", None)
        net = {k: v - background.get(k, 0) * pair_s for k, v in used.items()}
        per_pairing = {k: v / len(pairings) for k, v in net.items() if v / len(pairings) >= 0.5}

        # ---- relay: applicant → agent, same process vs across ------------------------------------
        relay: dict[str, list[float]] = {"same process": [], "cross process": []}
        for kind, cross in (("same process", False), ("cross process", True)):
            rooms = [pr for pr in pairings if pr["cross"] is cross][: args.relay_rooms]
            for i in range(args.relay_samples):
                pair = rooms[i % len(rooms)]
                agent = pair["agent"]
                agent.waiters.pop("signal", None)
                got = agent.wait("signal")
                t0 = time.perf_counter()
                await pair["applicant"].send({"type": "signal", "room": pair["room"], "candidate": {
                    "candidate": f"candidate:{i} 1 udp 2122260223 192.0.2.2 {40000 + i} typ host",
                    "sdpMid": "0", "sdpMLineIndex": 0}})
                t1, _ = await asyncio.wait_for(got, 10)
                relay[kind].append((t1 - t0) * 1000)
        log("relay measured")
        await r.aclose()
        ms = [p["ms"] for p in pairings]
        return {
            "routing": routing, "sockets": len(applicants),
            "applicants": args.applicants, "agents": args.agents, "lines": args.lines, "connect_s": connect_s,
            "pairings": len(pairings), "pair_p50": pct(ms, 50), "pair_p99": pct(ms, 99), "pair_max": max(ms),
            "pair_cross_p50": pct([p["ms"] for p in pairings if p["cross"]], 50),
            "pair_same_p50": pct([p["ms"] for p in pairings if not p["cross"]], 50),
            "pair_s": pair_s, "relay": {k: (pct(v, 50), pct(v, 99), len(v)) for k, v in relay.items()},
            "per_pairing": per_pairing, "per_pairing_total": sum(per_pairing.values()),
            "sent_per_pairing": sent_per_pairing, "sent_total": sum(sent_per_pairing.values()),
            "sent_bg_per_s": sum(sent_bg.values()), "trips": trips_per,
            "slowest": slowest,
            "kinds": {k: v / len(pairings) for k, v in kinds.most_common(6)},
            "pg": {k: (pg3[k] - pg2[k]) / len(pairings) for k in pg2}, "trips_bg": trips_idle / idle_len,
            "cpu_ms": cpu_per * 1000, "redis_cpu_ms": rcpu_per * 1000, "cpu_bg": cpu_bg, "rcpu_bg": rcpu_bg,
            "load_before": load_before,
            "background_per_s": sum(background.values()),
            "background": dict(sorted(background.items(), key=lambda kv: -kv[1])[:6]),
            "messages": sum(s.received for s in socks),
            "took_s": time.monotonic() - started,
        }
    finally:
        for p in procs:
            if args.profile:
                p.stop()
            p.kill()
        for s in socks:  # the servers are gone: no close handshakes to wait for
            if s.reader is not None:
                s.reader.cancel()
        if redis_server is not None:
            redis_server.stop()
        await pg.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await pg.close()
        gc.unfreeze()  # this run's sockets may go now
        if not os.environ.get("BENCH_KEEP"):  # the processes' logs, kept to read
            shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--applicants", default="1000", help="waiting applicants; a comma list runs each size")
    ap.add_argument("--agents", type=int, default=300)
    ap.add_argument("--lines", type=int, default=10, help="waiting lines (items) the applicants spread over")
    ap.add_argument("--sockets", type=int, default=0, help="open sockets for the first N applicants only (0: all)")
    ap.add_argument("--routing", choices=("both", "index", "scan"), default="both",
                    help="both: the scan baseline, then routing by index, in the same invocation")
    ap.add_argument("--relay-samples", type=int, default=200)
    ap.add_argument("--relay-rooms", type=int, default=50)
    ap.add_argument("--redis", default=None, help="use this Redis instead of a private redis-server")
    ap.add_argument("--profile", default=None, help="run the processes under cProfile, files in this folder")
    ap.add_argument("--py-spy", default=None,
                    help="sample the servers with py-spy (pip install py-spy) while pairing; raw stacks here")
    ap.add_argument("--timeout-s", type=float, default=420.0, help="hard bound of each run")
    ap.add_argument("--budget-s", type=float, default=150.0, help="stop pairing after this much run time")
    ap.add_argument("--write", action="store_true", help="write the section of bench/RESULTS.md")
    args = ap.parse_args()
    sizes = [int(n) for n in str(args.applicants).split(",")]
    modes = ["scan", "index"] if args.routing == "both" else [args.routing]
    results = []
    for size in sizes:
        for mode in modes:
            args.applicants = size
            # the clients' loop is uvloop, as the servers' (uvicorn's default when installed): 1,300
            # sockets in one process should cost the shared cores as little as they can
            res = uvloop.run(asyncio.wait_for(run(args, mode), args.timeout_s))
            print()
            print(f"### {size} waiting, {mode} routing")
            print(report(res))
            results.append(res)
    text = section(results, ".venv/bin/python bench/bench_pairing.py " + " ".join(sys.argv[1:]))
    print()
    print(text)
    if args.write:
        from results import write_section

        print(f"written to {write_section('Pairing by index', text)}")


if __name__ == "__main__":
    main()
