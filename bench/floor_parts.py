"""Bench: what the unavoidable parts of a pairing cost in this stack, measured bare, as a floor for
bench_pairing.py's "server CPU per pairing" (issue 15).

- fan-out: a bare `websockets` server (uvloop, no app) writing one ~250-byte text frame to each of N
  idle client sockets (N = the frames a pairing writes, ~92 in bench_pairing's default run);
  the clients run in a child process. CPU of the server per round of N frames.
- database: CPU of this process per SQLAlchemy session transaction (BEGIN, one `SELECT 1`, COMMIT,
  the pool's checkout ping included), per extra statement in it, and per raw asyncpg round trip.
- Redis: CPU per round trip of the app's own client (`helpdesk.app.redis_client`, hiredis) running a
  registered script, and per pub/sub message received by a subscriber reading `pubsub.listen()` as
  the signaling hub does (the publisher is a child process, one message every 2 ms).
- the sum: each part times how often a pairing needs it (the counts of bench_pairing's default run,
  as options), done bare: the least a pairing costs in this stack before any of the app's logic.

Usage: .venv/bin/python bench/floor_parts.py [--frames 92] [--pg-trips 17] [--redis-trips 8] [--deliveries 7]
(PostgreSQL on 127.0.0.1:5432, db `test`; Redis on 127.0.0.1:6379.) Prints its figures and writes the
"Floor of a pairing's parts" section of bench/RESULTS.md; under a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import resource
import sys
from pathlib import Path

import asyncpg
import redis.asyncio as aioredis
import uvloop
from sqlalchemy import text
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from results import write_section

from helpdesk.app import redis_client
from helpdesk.db import make_engine, make_session_factory
from tests.conftest import free_port

PG = "postgresql://postgres@127.0.0.1:5432/test"
ROUNDS = 300
STATUS = json.dumps({"type": "queue.status", "ticket": "x" * 32, "work_order": "y" * 32, "state": "waiting",
                     "position": 17, "expected_wait_s": 312.5, "expected_wait_low_s": 200,
                     "expected_wait_high_s": 420, "agents_ready": 3, "fallback_level": 0})


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def clients(port: int, n: int) -> None:
    async def run() -> None:
        socks = [await connect(f"ws://127.0.0.1:{port}", compression=None) for _ in range(n)]

        async def drain(s: object) -> None:
            async for _ in s:  # type: ignore[attr-defined]
                pass

        await asyncio.gather(*(drain(s) for s in socks), return_exceptions=True)

    uvloop.run(run())


async def fan_out(n: int) -> float:
    conns: list[ServerConnection] = []

    async def handler(ws: ServerConnection) -> None:
        conns.append(ws)
        await ws.wait_closed()

    port = free_port()
    async with serve(handler, "127.0.0.1", port, compression=None):
        child = multiprocessing.Process(target=clients, args=(port, n), daemon=True)
        child.start()
        while len(conns) < n:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        c0 = cpu_s()
        for _ in range(ROUNDS):
            for ws in conns:
                await ws.send(STATUS)
            await asyncio.sleep(0.02)  # a pairing's interval, roughly
        per_round = (cpu_s() - c0) / ROUNDS
        child.kill()
    return per_round


async def database() -> tuple[float, float, float]:
    engine = make_engine(PG.replace("postgresql://", "postgresql+asyncpg://"))
    sessions = make_session_factory(engine)
    n = 1000

    async def per(statements: int) -> float:
        c0 = cpu_s()
        for _ in range(n):
            async with sessions() as s:
                for _ in range(statements):
                    await s.execute(text("SELECT 1"))
                await s.commit()
        return (cpu_s() - c0) / n

    await per(1)  # warm: pool, compiled cache
    one, five = await per(1), await per(5)
    await engine.dispose()
    raw = await asyncpg.connect(PG)
    c0 = cpu_s()
    for _ in range(n):
        await raw.fetchval("SELECT 1")
    round_trip = (cpu_s() - c0) / n
    await raw.close()
    return one, (five - one) / 4, round_trip


REDIS = "redis://127.0.0.1:6379/0"


def publisher(channel: str, n: int) -> None:
    async def run() -> None:
        r = aioredis.Redis.from_url(REDIS)
        for _ in range(n):
            await r.publish(channel, "M" + STATUS)
            await asyncio.sleep(0.002)  # one at a time, as a pairing's publishes arrive: no batched reads
        await r.aclose()

    uvloop.run(run())


async def redis_parts() -> tuple[float, float]:
    """(CPU per round trip of a registered script, CPU per pub/sub message received)."""
    r = redis_client(REDIS)
    script = r.register_script("return redis.call('EXISTS', KEYS[1])")
    n = 2000
    await script(keys=["floor:none"])
    c0 = cpu_s()
    for _ in range(n):
        await script(keys=["floor:none"])
    trip = (cpu_s() - c0) / n
    channel = f"floor:{os.getpid()}"
    pubsub = r.pubsub()
    await pubsub.subscribe(channel)
    child = multiprocessing.Process(target=publisher, args=(channel, n), daemon=True)
    got, c0 = 0, 0.0
    child.start()
    async for item in pubsub.listen():
        if item.get("type") == "message":
            got += 1
            if got == 1:
                c0 = cpu_s()  # the first message starts the clock: the child's start-up is not counted
            elif got == n:
                break
    delivery = (cpu_s() - c0) / (n - 1)
    child.join(10)
    await pubsub.aclose()
    await r.aclose()
    return trip, delivery


async def raw_transaction() -> float:
    """CPU of BEGIN + COMMIT around statements with raw asyncpg (what a transaction adds to them)."""
    conn = await asyncpg.connect(PG)
    stmt = await conn.prepare("SELECT 1")
    n = 1000

    async def per(statements: int) -> float:
        c0 = cpu_s()
        for _ in range(n):
            async with conn.transaction():
                for _ in range(statements):
                    await stmt.fetchval()
        return (cpu_s() - c0) / n

    await per(1)
    one = await per(1)
    await conn.close()
    return one


async def main(args: argparse.Namespace) -> None:
    frames = args.frames
    frame_s = await fan_out(frames)
    txn, statement, round_trip = await database()
    raw_txn = await raw_transaction()
    trip, delivery = await redis_parts()
    parts = [(f"{frames} frames", frame_s),
             (f"{args.pg_trips} PostgreSQL round trips (raw asyncpg)", args.pg_trips * round_trip),
             (f"{args.redis_trips} Redis round trips", args.redis_trips * trip),
             (f"{args.deliveries} pub/sub messages received", args.deliveries * delivery)]
    floor = sum(v for _, v in parts)
    rows = [f"| {frames} text frames from a bare `websockets` server, one to each idle socket | "
            f"{frame_s * 1e3:.2f} ms ({frame_s / frames * 1e6:.1f} µs a frame) |",
            f"| SQLAlchemy session transaction with one statement (checkout ping, BEGIN, COMMIT) | "
            f"{txn * 1e6:.0f} µs |",
            f"| each further statement in it | {statement * 1e6:.0f} µs |",
            f"| raw asyncpg round trip (the baseline) | {round_trip * 1e6:.0f} µs |",
            f"| raw asyncpg transaction with one statement (BEGIN, statement, COMMIT) | {raw_txn * 1e6:.0f} µs |",
            f"| Redis round trip: a registered script through the app's client (hiredis) | {trip * 1e6:.0f} µs |",
            f"| Redis pub/sub message received (`pubsub.listen()`) | {delivery * 1e6:.0f} µs |",
            f"| **a pairing's I/O done bare**: {'; '.join(f'{k} {v * 1e3:.2f} ms' for k, v in parts)} | "
            f"**{floor * 1e3:.2f} ms** |"]
    if args.beside:
        rows.append(f"| bench_pairing's server CPU per pairing, run in the same minutes (`--beside`) | "
                    f"{args.beside:.1f} ms ({args.beside / (floor * 1e3):.1f}× the bare floor) |")
    print("\n".join(rows))
    write_section("Floor of a pairing's parts", "\n".join([
        "## Floor of a pairing's parts", "",
        f"Command: `.venv/bin/python bench/floor_parts.py --frames {frames} --pg-trips {args.pg_trips} "
        f"--redis-trips {args.redis_trips} --deliveries {args.deliveries}"
        f"{f' --beside {args.beside}' if args.beside else ''}` (Python {platform.python_version()}, "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}). What the unavoidable parts of a pairing "
        "cost done bare, under bench_pairing's server CPU per pairing. The counts are those of bench_pairing's "
        "default run (1,000 waiting): frames written (87 `queue.status`, the offer, two `room.joined`, two "
        "`agent.state`), PostgreSQL round trips (13 statements, two BEGIN/COMMIT "
        "pairs: `BENCH_SQL_ECHO=1`), Redis round trips and PUBLISH per pairing. CPU of the process doing the "
        "work; the machine's CPU time per operation itself varies up to 2× between runs, so compare rows of one "
        "run. The last row is the least a pairing costs here with every part done bare and none of the app's "
        "logic (authorisation, the work-order chain, the positions' estimates, routing) on top.", "",
        "| part | CPU |", "|---|---|", *rows]))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=92, help="frames a pairing writes (87 positions + 5 of its own)")
    ap.add_argument("--pg-trips", type=int, default=17, help="PostgreSQL round trips per pairing")
    ap.add_argument("--redis-trips", type=int, default=8, help="Redis round trips per pairing")
    ap.add_argument("--deliveries", type=int, default=7, help="pub/sub messages received per pairing")
    ap.add_argument("--beside", type=float, default=None,
                    help="bench_pairing's server CPU ms per pairing measured just before, to set beside the floor")
    uvloop.run(main(ap.parse_args()))
