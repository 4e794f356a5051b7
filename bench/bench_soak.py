"""Soak: the full journey over the real HTTP + WebSocket API for a long time, on two server processes
sharing Redis and PostgreSQL (loopback only), with simulated applicants and agents.

Applicants arrive at random (Poisson, --rate per second), open the help page, queue, wait, talk
(fake SDP/candidates relayed through the servers; a sample of calls, --rtc-share, negotiate real
aiortc peers and exchange a data-channel message), chat, sometimes drop their socket and come back
through the other process, sometimes give up while waiting, hang up (or ask the agent to) and rate.
Agents accept (sometimes decline) offers, answer, and wrap up every call. Every --restart-min minutes
one server process is stopped gracefully (SIGTERM: `reconnect` + 1012 to its sockets) and started
again: clients move to the other process, as behind the compose file's proxy.
With --kill-min N, every N minutes a process (A and B in turn) is SIGKILLed under load instead (no
drain): every call must resume or be recorded as dropped, and no work order may be lost.

Reported: client-side errors by kind, lost work orders (every request that got a work-order id must be
in the database with a final status afterwards: must be 0), server RSS over time (growth after the
warm-up), Redis keys left, server log lines at WARNING/ERROR, pairing latency from /metrics.

Usage: .venv/bin/python bench/bench_soak.py [--minutes 30] [--rate 0.5] [--agents 8]
Needs PostgreSQL (127.0.0.1:5432, database `test`, trust) and Redis (127.0.0.1:6379). Bounded: the run
stops after --minutes plus at most 3 minutes of draining. Writes the "Soak" section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from results import write_section  # noqa: E402
from soak_people import Cluster, Stats, agent, applicant, log  # noqa: E402
from soak_report import FINAL, KILL_SECTION, log_levels, redis_keys, scrape, summarize  # noqa: E402

from tests.journey.cluster import Proc, cluster_env, delete_keys  # noqa: E402

PG = "127.0.0.1", 5432


# ---- servers ---------------------------------------------------------------------------------
class ServeProc(Proc):
    """`helpdesk serve` as the container runs it (DrainingServer: graceful shutdown)."""

    def start(self, profile: Path | None = None) -> None:  # no profiling here
        out = self.log_path.open("ab")
        helpdesk = Path(sys.executable).with_name("helpdesk")
        self.popen = subprocess.Popen([str(helpdesk), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                                      cwd=REPO, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                      start_new_session=True)
        out.close()

    def rss_kb(self) -> int | None:
        if self.popen is None or self.popen.poll() is not None:
            return None
        for line in Path(f"/proc/{self.popen.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return None




# ---- setup, sampling, checks ---------------------------------------------------------------------
async def prepare(schema: str, agents: int) -> tuple[str, dict[str, Any], list[str]]:
    import asyncpg

    from helpdesk.accounts.service import Skill
    from helpdesk.db import make_engine, make_session_factory
    from tests.conftest import create_schema
    from tests.helpdesk.factories import PASSWORD, make_staff
    from tests.journey.live import seed

    conn = await asyncpg.connect(host=PG[0], port=PG[1], user="postgres", database="test")
    await conn.execute(f'CREATE SCHEMA "{schema}"')
    await conn.close()
    url = f"postgresql+asyncpg://postgres@{PG[0]}:{PG[1]}/test?options=-csearch_path%3D{schema}"
    await create_schema(url)
    engine = make_engine(url)
    try:
        sessions = make_session_factory(engine)

        class Db:
            pass

        db = Db()
        db.sessions = sessions  # type: ignore[attr-defined]
        data = await seed(db)  # type: ignore[arg-type]
        names = [data["agent"].username]
        async with sessions() as s:
            for i in range(agents - 1):
                staff = await make_staff(s, unit=data["county"], skills=[Skill(item_id=data["item"].id)],
                                         display_name=f"坐席{i}")
                names.append(staff.username)
            await s.commit()
        return url, {"item": data["item"].code, "unit": data["county"].code, "password": PASSWORD}, names
    finally:
        await engine.dispose()


async def final_statuses(url: str, ids: set[str]) -> Counter[str]:
    from sqlalchemy import select

    from helpdesk.db import make_engine, make_session_factory
    from helpdesk.workorders.models import WorkOrder

    engine = make_engine(url)
    found: Counter[str] = Counter()
    try:
        async with make_session_factory(engine)() as s:
            result = await s.execute(select(WorkOrder.id, WorkOrder.status, WorkOrder.ended_reason)
                                     .where(WorkOrder.id.in_(list(ids))))
            rows = {wo_id: (status, reason) for wo_id, status, reason in result.all()}
        for wo in ids:
            status, reason = rows.get(wo, (None, None))
            found[str(status.value) if status is not None else "missing"] += 1
            if reason is not None:
                found["ended:" + reason] += 1
    finally:
        await engine.dispose()
    return found


async def drop_schema(schema: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(host=PG[0], port=PG[1], user="postgres", database="test")
    await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    await conn.close()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    me = asyncio.current_task()
    assert me is not None
    for sig in (signal.SIGTERM, signal.SIGINT):  # stopped early: the finally below still cleans up
        asyncio.get_running_loop().add_signal_handler(sig, me.cancel)
    tmp = Path(args.workdir or f"/tmp/helpdesk-soak-{uuid.uuid4().hex[:6]}")
    tmp.mkdir(parents=True, exist_ok=True)
    schema, prefix = f"soak_{uuid.uuid4().hex[:10]}", f"hdsoak:{uuid.uuid4().hex[:8]}:"
    redis_url = "redis://127.0.0.1:6379/0"
    db_url, seed, agents = await prepare(schema, args.agents)
    env = cluster_env(db_url, redis_url, prefix, tmp, heartbeat_interval_s=5.0, reconnect_grace_s=30.0,
                      offer_timeout_s=15.0, log_format="json", log_level="WARNING")
    procs = [ServeProc(n, int(p), env, tmp / f"proc-{n.lower()}.log")
             for n, p in (("A", free_port()), ("B", free_port()))]
    cluster = Cluster(procs)
    cluster.killing = bool(args.kill_min)
    stats = Stats()
    stop_agents = asyncio.Event()
    rss: list[tuple[float, int, int]] = []  # (t, A kB, B kB)
    t0 = time.monotonic()
    try:
        for p in procs:
            p.start()
            await p.wait_ready()
        log(f"servers up: {[p.url for p in procs]}; logs in {tmp}")
        agent_tasks = [asyncio.create_task(agent(cluster, stats, u, seed["password"], stop_agents, args))
                       for u in agents]
        await asyncio.sleep(2)
        deadline = t0 + args.minutes * 60
        applicants: set[asyncio.Task[None]] = set()
        n = 0
        next_sample = next_progress = time.monotonic()
        next_restart = t0 + args.restart_min * 60 if args.restart_min else float("inf")
        next_kill = t0 + args.kill_min * 60 if args.kill_min else float("inf")
        kills = 0
        peak_calls = 0
        restarts = 0
        background: set[asyncio.Task[None]] = set()
        while time.monotonic() < deadline:
            now = time.monotonic()
            if now >= next_sample:
                a_kb, b_kb = procs[0].rss_kb() or 0, procs[1].rss_kb() or 0
                rss.append((now - t0, a_kb, b_kb))
                next_sample = now + args.sample_s
                peak_calls = max(peak_calls, await calls_in_progress(db_url))
            if now >= next_progress:
                log(f"t={now - t0:6.0f}s applicants started {n}, active {len(applicants)}, work orders "
                    f"{len(stats.issued)}, errors {sum(stats.errors.values())}, RSS A {rss[-1][1] / 1024:.0f} MB "
                    f"B {rss[-1][2] / 1024:.0f} MB, restarts {restarts}")
                next_progress = now + 60
            if now >= next_restart and len(cluster.live()) == 2:
                victim = procs[0]  # always A: B lives through the run, for the memory-growth figure
                restarts += 1
                next_restart = now + args.restart_min * 60
                background.add(asyncio.create_task(restart(cluster, victim, stats)))
            if now >= next_kill and len(cluster.live()) == 2:
                victim = procs[kills % 2]  # A and B in turn: every process dies under load
                kills += 1
                next_kill = now + args.kill_min * 60
                background.add(asyncio.create_task(sigkill(cluster, victim, stats)))
            if len(applicants) < args.max_active:
                n += 1
                task = asyncio.create_task(guard(applicant(cluster, stats, seed, n, args), stats, f"applicant-{n}"))
                applicants.add(task)
                task.add_done_callback(applicants.discard)
            await asyncio.sleep(random.expovariate(args.rate))
        log(f"arrivals stopped after {n} applicants; draining (at most 180 s)")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(180):
                while applicants:
                    await asyncio.sleep(1)
        for t in applicants:
            stats.error("applicant still running at the end", t.get_name())
            t.cancel()
        stop_agents.set()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(30):
                await asyncio.gather(*agent_tasks, return_exceptions=True)
        for t in agent_tasks:
            t.cancel()
        await asyncio.sleep(3)  # the last wrap-ups commit
        rss.append((time.monotonic() - t0, procs[0].rss_kb() or 0, procs[1].rss_kb() or 0))
        statuses = await final_statuses(db_url, stats.issued)
        metrics = [await scrape(p) for p in procs]
        waiting_left = sum(m.get("helpdesk_queue_length{state=waiting}", 0) for m in metrics[:1])
        keys = await redis_keys(redis_url, prefix)
        levels = Counter[str]()
        for p in procs:
            levels.update(log_levels(p))
        return {"stats": stats, "statuses": statuses, "rss": rss, "metrics": metrics, "keys": keys,
                "levels": levels, "applicants": n, "restarts": restarts, "took": time.monotonic() - t0,
                "waiting_left": waiting_left, "peak_calls": peak_calls}
    finally:
        for p in procs:
            p.kill()
        await delete_keys(redis_url, prefix)
        await drop_schema(schema)


async def guard(coro: Any, stats: Stats, name: str) -> None:
    try:
        await coro
    except Exception as exc:
        stats.error(f"actor crashed: {type(exc).__name__}", f"{name}: {exc!r}")


async def restart(cluster: Cluster, proc: ServeProc, stats: Stats) -> None:
    """A rolling update of one replica: SIGTERM (drain), wait, start again."""
    cluster.restarting.add(proc.name)
    try:
        log(f"restarting {proc.name} (SIGTERM)")
        assert proc.popen is not None
        proc.popen.terminate()
        await asyncio.to_thread(proc.popen.wait, 30)
        proc.start()
        await proc.wait_ready(60)
        log(f"{proc.name} back")
        stats.events["graceful restarts"] += 1
    except Exception as exc:
        stats.error("restart failed", repr(exc))
    finally:
        cluster.restarting.discard(proc.name)


async def sigkill(cluster: Cluster, proc: ServeProc, stats: Stats) -> None:
    """A crash: SIGKILL (no drain, no socket closes, no lock released), then the orchestrator starts
    it again. Its clients reconnect to the other process; its calls resume there or end as dropped."""
    cluster.restarting.add(proc.name)
    try:
        log(f"SIGKILL {proc.name}")
        proc.kill()
        stats.events["SIGKILLs"] += 1
        await asyncio.sleep(2)
        proc.start()
        await proc.wait_ready(60)
        log(f"{proc.name} back after SIGKILL")
    except Exception as exc:
        stats.error("restart after SIGKILL failed", repr(exc))
    finally:
        cluster.restarting.discard(proc.name)


async def calls_in_progress(url: str) -> int:
    from sqlalchemy import func, select

    from helpdesk.db import make_engine
    from helpdesk.workorders.models import WorkOrder, WorkOrderStatus

    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return int(await conn.scalar(select(func.count()).select_from(WorkOrder)
                                         .where(WorkOrder.status == WorkOrderStatus.in_call)) or 0)
    finally:
        await engine.dispose()


def free_port() -> int:
    from tests.conftest import free_port as fp

    return fp()



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=0.5, help="applicant arrivals per second")
    parser.add_argument("--agents", type=int, default=8)
    parser.add_argument("--max-active", type=int, default=60, help="applicants in flight at most")
    parser.add_argument("--hold-min", type=float, default=3.0)
    parser.add_argument("--hold-max", type=float, default=12.0)
    parser.add_argument("--max-wait", type=float, default=150.0, help="an applicant waits at most this long")
    parser.add_argument("--rtc-share", type=float, default=0.1)
    parser.add_argument("--drop-share", type=float, default=0.05)
    parser.add_argument("--abandon-share", type=float, default=0.1)
    parser.add_argument("--decline-share", type=float, default=0.05)
    parser.add_argument("--restart-min", type=float, default=10.0, help="0: never restart a process")
    parser.add_argument("--kill-min", type=float, default=0.0,
                        help="SIGKILL a process (A and B in turn) every this many minutes; 0: never")
    parser.add_argument("--sample-s", type=float, default=15.0, help="RSS sampling interval")
    parser.add_argument("--workdir", help="server logs (default: a new /tmp/helpdesk-soak-* folder)")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    if args.seed is not None:
        random.seed(args.seed)
    load = os.getloadavg()[0]
    res = asyncio.run(run(args))
    lines = summarize(res, args, load)
    print("\n".join(lines))
    stats: Stats = res["stats"]
    if stats.error_samples:
        print("\nfirst errors:\n  " + "\n  ".join(stats.error_samples))
    if not args.no_write:
        if args.kill_min:  # its own section: the graceful soak's figures stay
            lines[0] = KILL_SECTION
        path = write_section(lines[0].removeprefix("## "), "\n".join(lines))
        print(f"wrote the {lines[0]!r} section of {path}")
    lost = sum(v for k, v in res["statuses"].items() if k not in FINAL and not k.startswith("ended:"))
    sys.exit(1 if lost else 0)


if __name__ == "__main__":
    main()
