"""What bench_pairing.py reads off the servers: a private redis-server, Redis's command counts and
CPU, the round trips in a `redis-cli monitor` capture, the server processes' CPU, and PostgreSQL's
commits and row counts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.conftest import free_port
from tests.journey.cluster import Proc


class RedisServer:
    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(tmp)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(5)


async def commandstats(r: Any) -> dict[str, int]:
    info = await r.info("commandstats")
    return {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in info.items()}


PIPELINE_GAP_S = 0.0001


def monitor_counts(path: Path, start: float, end: float) -> tuple[dict[str, int], int]:
    """(commands clients sent in [start, end) by name, estimated round trips) from a `redis-cli
    monitor` capture. Commands run inside Lua scripts ([0 lua]) are left out. A round trip is a run
    of commands from one connection less than 0.1 ms apart (a pipeline or MULTI/EXEC arrives in one
    write; a command sent after the previous reply is later than that on this machine)."""
    out: dict[str, int] = {}
    last: dict[str, float] = {}
    trips = 0
    with path.open(errors="replace") as f:
        for line in f:
            ts, _, rest = line.partition(" ")
            try:
                t = float(ts)
            except ValueError:
                continue
            if not start <= t < end or rest.startswith("[0 lua]") or "] " not in rest:
                continue
            client, cmdline = rest.split("] ", 1)
            cmd = cmdline.split(" ", 1)[0].strip().strip('"').lower()
            if cmd == "info":
                continue
            out[cmd] = out.get(cmd, 0) + 1
            if t - last.get(client, -1.0) > PIPELINE_GAP_S:
                trips += 1
            last[client] = t
    return out, trips


def cpu_s(procs: list[Proc]) -> float:
    """User + system CPU seconds the server processes have used so far (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for p in procs:
        assert p.popen is not None
        fields = Path(f"/proc/{p.popen.pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


async def redis_cpu_s(r: Any) -> float:
    info = await r.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: after.get(k, 0) - before.get(k, 0) for k in after if after.get(k, 0) - before.get(k, 0)}


async def pg_writes(pg: Any, schema: str) -> dict[str, float]:
    """The database's commits (the whole database: the bench is its only user) and the rows the
    schema's tables took, from PostgreSQL's statistics views."""
    commits = await pg.fetchval("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
    rows = await pg.fetchrow("SELECT coalesce(sum(n_tup_ins), 0) AS ins, coalesce(sum(n_tup_upd), 0) AS upd, "
                             "coalesce(sum(seq_scan), 0) + coalesce(sum(idx_scan), 0) AS scans "
                             "FROM pg_stat_user_tables WHERE schemaname = $1", schema)
    return {"commits": float(commits), "inserts": float(rows["ins"]), "updates": float(rows["upd"]),
            "scans": float(rows["scans"])}


