"""What bench_pairing.py prints: one run's report, and the section it writes (the runs side by side:
baseline scan vs index, per queue size)."""

from __future__ import annotations

import os
import platform
import time
from typing import Any

COMMITS = "database-wide, pool pings included; statistics views lag by seconds: approximate"


def _row(r: dict[str, Any]) -> str:
    return (f"| {r['applicants']:,} | {r['sockets']:,} | {r['routing']} | {r['pairings']} | {r['pair_p50']:.1f} | "
            f"{r['pair_p99']:.1f} | **{r['cpu_ms']:.1f}** | {r['redis_cpu_ms']:.2f} | **{r['trips']:.1f}** | "
            f"{r['sent_total']:.0f} | {r['sent_per_pairing'].get('publish', 0):.1f} | {r['per_pairing_total']:.0f} | "
            f"**{r['background_per_s']:.0f}** | {r['cpu_bg'] * 100:.1f} % |")


def section(results: list[dict[str, Any]], command: str) -> str:
    first = results[0]
    lines = [
        "## Pairing by index",
        "",
        f"Command: `{command}` (Python {platform.python_version()}, {os.cpu_count()} cores, run "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}).",
        "",
        "Two `uvicorn helpdesk.app:create_app` processes on loopback (as `helpdesk serve` runs them: "
        f"the lean WebSocket protocol, no protocol pings, no permessage-deflate), a private `redis-server`, a fresh "
        f"PostgreSQL schema; {first['agents']} agents online but away, the applicants waiting over "
        f"{first['lines']} lines (written directly into the queue with the presence timers a join arms), "
        "sockets split over the two processes. Then the agents turn ready one after the other and accept "
        "at once: pairing = `agent.state ready` → both sides hold `room.joined`. Each row is its own run "
        "(fresh processes, Redis and schema). `scan` is the baseline: HELPDESK_QUEUE_ROUTING=scan, the "
        "full-scan planner (every routing pass and every tick reads the whole queue and every agent); "
        "`index` is the default. A run stops pairing when its time budget is spent.",
        "",
        "| waiting | applicant sockets | routing | pairings | p50 ms | p99 ms | server CPU ms / pairing | "
        "Redis CPU ms / pairing | Redis round trips / pairing | commands sent / pairing | PUBLISH / pairing | "
        "commands incl. Lua / pairing | idle Redis commands/s | idle server CPU |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        *(_row(r) for r in results),
        "",
    ]
    index = [r for r in results if r["routing"] == "index"]
    if len(index) >= 2:
        small, large = index[0], index[-1]
        lines.append(f"- Flat cost: server CPU per pairing with {large['applicants']:,} waiting is "
                     f"**{large['cpu_ms'] / small['cpu_ms']:.2f}×** the {small['applicants']:,} case "
                     f"({large['cpu_ms']:.1f} vs {small['cpu_ms']:.1f} ms); Redis round trips "
                     f"{large['trips']:.1f} vs {small['trips']:.1f}.")
    for r in results:
        sent = ", ".join(f"{k} {v:.1f}" for k, v in sorted(r["sent_per_pairing"].items(), key=lambda kv: -kv[1]))
        top = ", ".join(f"{k} {v:.1f}" for k, v in sorted(r["per_pairing"].items(), key=lambda kv: -kv[1])[:6])
        bg = ", ".join(f"{k} {v:.0f}/s" for k, v in r["background"].items())
        kinds, pg = ", ".join(f"{k} {v:.1f}" for k, v in r["kinds"].items()), r["pg"]
        lines.append(f"- {r['applicants']:,} waiting, {r['routing']}: commands sent per pairing {sent}; "
                     f"incl. Lua: {top}; idle: {bg}; pairing p50 cross-process {r['pair_cross_p50']:.1f} ms, "
                     f"same process {r['pair_same_p50']:.1f} ms; slowest (ms, of which until the agent has "
                     f"the offer, @ s into the pairing) "
                     f"{r['slowest']}; socket messages per pairing {kinds}; PostgreSQL per pairing "
                     f"{pg['commits']:.1f} commits ({COMMITS}), {pg['inserts']:.1f} rows "
                     f"inserted, {pg['updates']:.1f} updated; load average {r['load_before']:.1f} before "
                     f"pairing; run took {r['took_s']:.0f} s.")
    lines += [
        "- How: CPU = user+system of the two server processes from /proc over the pairing phase, the idle "
        "rate (measured for 10.5 s before, one reconcile interval, same sockets and queue) subtracted; "
        "Redis round trips from a "
        "`redis-cli monitor` capture (commands of one connection less than 0.1 ms apart = one pipelined "
        "write), idle rate subtracted; commands incl. Lua from INFO commandstats. Latency is wall-clock on "
        "a shared 2-core machine (see the load average): compare rows of the same run, not absolute values.",
        "- With fewer sockets than waiting applicants, the others wait without a socket (their presence "
        "checks still fire); the sockets are those of the heads of the lines, which get paired.",
    ]
    return "\n".join(lines) + "\n"


def report(res: dict[str, Any]) -> str:
    load = os.getloadavg()[0]
    lines = [
        f"{res['applicants']} waiting applicants over {res['lines']} lines, {res['agents']} agents; sockets split "
        f"evenly over two uvicorn processes (loopback), Redis {'private redis-server'}, PostgreSQL.",
        "",
        "| measurement | n | p50 ms | p99 ms |",
        "|---|---|---|---|",
        f"| pairing: agent ready → both have room.joined | {res['pairings']} | {res['pair_p50']:.1f} | "
        f"{res['pair_p99']:.1f} |",
    ]
    for kind, (p50, p99, n) in res["relay"].items():
        lines.append(f"| relay of one `signal`, {kind} | {n} | {p50:.2f} | {p99:.2f} |")
    top = ", ".join(f"{k} {v:.1f}" for k, v in sorted(res["per_pairing"].items(), key=lambda kv: -kv[1])[:8])
    sent = ", ".join(f"{k} {v:.1f}" for k, v in sorted(res["sent_per_pairing"].items(), key=lambda kv: -kv[1]))
    lines += [
        "",
        f"- CPU per pairing (load-independent): **{res['cpu_ms']:.0f} ms** of the two server processes "
        f"(user+system from /proc, idle background of {res['cpu_bg'] * 100:.0f} % of a core subtracted) "
        f"and {res['redis_cpu_ms']:.1f} ms of Redis (background {res['rcpu_bg'] * 100:.0f} %).",
        f"- Pairing p50 when agent and applicant sit on different processes: {res['pair_cross_p50']:.1f} ms, "
        f"on the same one: {res['pair_same_p50']:.1f} ms; worst {res['pair_max']:.1f} ms.",
        "- Socket messages per pairing, as the clients received them: "
        + ", ".join(f"{k} {v:.1f}" for k, v in res["kinds"].items()) + ".",
        f"- PostgreSQL per pairing: {res['pg']['commits']:.1f} commits ({COMMITS}), "
        f"{res['pg']['inserts']:.1f} rows inserted, "
        f"{res['pg']['updates']:.1f} updated, {res['pg']['scans']:.1f} table or index scans (statistics views).",
        f"- Redis round trips per pairing: **{res['trips']:.0f}** (estimated from a `redis-cli monitor` "
        f"capture: a pipeline or MULTI/EXEC is one; idle background of {res['trips_bg']:.0f}/s subtracted); "
        f"commands sent: {res['sent_total']:.0f} ({sent}); commands inside Lua scripts excluded.",
        f"- Counting the commands Lua scripts run inside Redis too (INFO commandstats): "
        f"{res['per_pairing_total']:.0f} per pairing: {top}.",
        f"- Idle background (heartbeats, leader tick, sweeps) with this load: {res['background_per_s']:.0f} "
        f"commands/s: " + ", ".join(f"{k} {v:.0f}/s" for k, v in res["background"].items()) + ".",
        f"- {res['messages']} socket messages received by the bench's clients in all; opening the "
        f"{res['agents'] + res['sockets']} sockets took {res['connect_s']:.0f} s.",
        f"- Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, took {res['took_s']:.0f} s; Python "
        f"{platform.python_version()}, {os.cpu_count()} cores, load average {res['load_before']:.1f} before "
        f"pairing and {load:.1f} at the end (other sessions share the machine: latency is wall-clock under "
        f"that contention, the CPU figures are not).",
    ]
    return "\n".join(lines)
