"""Bench: what the unavoidable parts of a pairing cost in this stack, measured bare, as a floor for
bench_pairing.py's "server CPU per pairing" (issue 15).

- fan-out: a bare `websockets` server (uvloop, no app) writing one ~250-byte text frame to each of N
  idle client sockets (N = the position updates of a pairing, ~85 in bench_pairing's default run);
  the clients run in a child process. CPU of the server per round of N frames.
- database: CPU of this process per SQLAlchemy session transaction (BEGIN, one `SELECT 1`, COMMIT,
  the pool's checkout ping included), per extra statement in it, and per raw asyncpg round trip.

Usage: .venv/bin/python bench/floor_parts.py [--frames 85]   (PostgreSQL on 127.0.0.1:5432, db `test`)
Prints its figures and writes the "Floor of a pairing's parts" section of bench/RESULTS.md; a few seconds.
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
import uvloop
from sqlalchemy import text
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from results import write_section

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


async def main(frames: int) -> None:
    frame_s = await fan_out(frames)
    txn, statement, round_trip = await database()
    rows = [f"| {frames} text frames from a bare `websockets` server, one to each idle socket | "
            f"{frame_s * 1e3:.2f} ms ({frame_s / frames * 1e6:.1f} µs a frame) |",
            f"| SQLAlchemy session transaction with one statement (checkout ping, BEGIN, COMMIT) | "
            f"{txn * 1e6:.0f} µs |",
            f"| each further statement in it | {statement * 1e6:.0f} µs |",
            f"| raw asyncpg round trip (the baseline) | {round_trip * 1e6:.0f} µs |"]
    print("\n".join(rows))
    write_section("Floor of a pairing's parts", "\n".join([
        "## Floor of a pairing's parts", "",
        f"Command: `.venv/bin/python bench/floor_parts.py --frames {frames}` (Python {platform.python_version()}, "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}). What the unavoidable parts of a pairing "
        "cost done bare, under bench_pairing's server CPU per pairing: the position frames (about 85 a pairing "
        "in its default run) and the database's transactions and statements. CPU of the process doing the work; "
        "the machine's CPU time per operation itself varies up to 2× between runs, so compare rows of one run.", "",
        "| part | CPU |", "|---|---|", *rows]))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=85)
    uvloop.run(main(ap.parse_args().frames))
