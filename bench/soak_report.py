"""What bench/bench_soak.py reports: the servers' /metrics, Redis keys and log lines left behind, and
the RESULTS.md section summing a run up."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import time
from collections import Counter
from typing import Any

import httpx
from soak_people import Stats

from tests.journey.cluster import Proc

SECTION = "## Soak"
KILL_SECTION = "## Soak with SIGKILL"
FINAL = {"resolved", "unresolved", "transferred", "callback_pending", "abandoned", "closed"}


async def scrape(proc: Proc) -> dict[str, float]:
    from prometheus_client.parser import text_string_to_metric_families

    out: dict[str, float] = {}
    with contextlib.suppress(httpx.HTTPError):
        async with httpx.AsyncClient(timeout=5) as http:
            text = (await http.get(proc.url + "/metrics")).text
        for fam in text_string_to_metric_families(text):
            for s in fam.samples:
                key = s.name + ("{" + ",".join(f"{k}={v}" for k, v in sorted(s.labels.items())) + "}"
                                if s.labels else "")
                out[key] = s.value
    return out


def histogram_quantile(samples: list[dict[str, float]], name: str, q: float) -> float | None:
    """Quantile from the summed cumulative buckets of several processes (upper bound of the bucket)."""
    buckets: dict[float, float] = {}
    for m in samples:
        for key, v in m.items():
            if key.startswith(name + "_bucket{"):
                raw = key.split("le=", 1)[1].rstrip("}")
                bound = float("inf") if raw == "+Inf" else float(raw)
                buckets[bound] = buckets.get(bound, 0.0) + v
    total = buckets.get(float("inf"), 0.0)
    if not total:
        return None
    for bound in sorted(buckets):
        if buckets[bound] >= q * total:
            return bound
    return None


async def redis_keys(url: str, prefix: str) -> Counter[str]:
    """Keys left under the prefix, by shape (ids replaced by #)."""
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(url, decode_responses=True)
    try:
        keys = [k async for k in client.scan_iter(match=prefix + "*", count=1000)]
    finally:
        await client.aclose()
    return Counter(re.sub(r"[0-9a-f]{8,}|\d+", "#", k.removeprefix(prefix)) for k in keys)


def log_levels(proc: Proc) -> Counter[str]:
    out: Counter[str] = Counter()
    with contextlib.suppress(OSError):
        for line in proc.log_path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    rec = json.loads(line)
                    if rec.get("level") in ("WARNING", "ERROR", "CRITICAL"):
                        out[f"{rec['level']} {rec.get('logger')}: {rec.get('message', '')[:70]}"] += 1
    return out



def summarize(res: dict[str, Any], args: argparse.Namespace, load: float) -> list[str]:
    stats: Stats = res["stats"]
    statuses: Counter[str] = res["statuses"]
    ended = Counter({k[6:]: v for k, v in statuses.items() if k.startswith("ended:")})
    statuses = Counter({k: v for k, v in statuses.items() if not k.startswith("ended:")})
    lost = sum(v for k, v in statuses.items() if k not in FINAL)
    rss = res["rss"]
    warm = [r for r in rss if r[0] >= min(120.0, res["took"] / 4)] or rss
    first, last = warm[0], rss[-1]
    peak = max(max(r[1], r[2]) for r in rss)
    growth_b = (last[2] - first[2]) / 1024
    slope_b = slope([(t / 3600, b / 1024) for t, _, b in warm])
    p50 = histogram_quantile(res["metrics"], "helpdesk_pairing_seconds", 0.5)
    p99 = histogram_quantile(res["metrics"], "helpdesk_pairing_seconds", 0.99)
    waits = sorted(stats.waits)
    lines = [
        SECTION,
        "",
        f"Command: `.venv/bin/python bench/bench_soak.py --minutes {args.minutes:g} --rate {args.rate:g} "
        f"--agents {args.agents} --restart-min {args.restart_min:g}"
        + (f" --kill-min {args.kill_min:g} --max-active {args.max_active} --hold-min {args.hold_min:g} "
           f"--hold-max {args.hold_max:g}" if args.kill_min else "") + f"` (Python {platform.python_version()}, "
        f"{os.cpu_count()} cores, load average {load:.1f} at the start, run "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, took {res['took'] / 60:.1f} min).",
        "Two `helpdesk serve` processes on one Redis and one PostgreSQL (loopback); simulated applicants",
        f"(Poisson arrivals, {args.rate:g}/s, at most {args.max_active} at once) and {args.agents} agents over the "
        "real HTTP + WebSocket API; "
        f"{args.rtc_share:.0%} of calls negotiate real aiortc peers (data channel) through the servers,",
        f"the others relay fake SDP/candidates; {args.drop_share:.0%} of applicants drop their socket mid-call and "
        f"come back through the other process; {args.abandon_share:.0%} give up while waiting; "
        + (f"every {args.kill_min:g} min a process (A and B in turn) is SIGKILLed under load and started again "
           "(a simulated client reconnects when it next acts; a call whose applicant stays away past the "
           "30 s grace ends as `dropped`)." if args.kill_min else
           f"process A is restarted gracefully (SIGTERM) every {args.restart_min:g} min, B never."),
        "",
        "| measure | value |",
        "|---|---|",
        f"| applicants started / work orders issued | {res['applicants']} / {len(stats.issued)} |",
        f"| **lost work orders** (issued, not in the DB with a final status) | **{lost}** |",
        f"| final statuses | {', '.join(f'{k} {v}' for k, v in statuses.most_common())} |",
        f"| calls ended, by reason (dropped/lost = recorded as dropped) | "
        f"{', '.join(f'{k} {v}' for k, v in ended.most_common())} |",
        f"| SIGKILLs (no shutdown) / peak concurrent calls | {stats.events.get('SIGKILLs', 0)} / "
        f"{res.get('peak_calls', 0)} |",
        f"| **client-side errors** | **{sum(stats.errors.values())}** |",
        f"| graceful restarts | {stats.events.get('graceful restarts', 0)} |",
        f"| aiortc calls connected | {stats.events.get('aiortc calls connected', 0)} |",
        f"| drops resumed through the other process | {stats.events.get('dropped and came back', 0)} |",
        f"| wait for an agent p50 / p95 | {quant(waits, 0.5):.1f} s / {quant(waits, 0.95):.1f} s |",
        f"| pairing (accept → room open) p50 / p99, bucket bound | {fmt_s(p50)} / {fmt_s(p99)} |",
        f"| server RSS after warm-up (t={first[0] / 60:.0f} min) A / B | {first[1] / 1024:.0f} / "
        f"{first[2] / 1024:.0f} MB |",
        f"| server RSS at the end A (restarted) / B | {last[1] / 1024:.0f} / {last[2] / 1024:.0f} MB "
        f"(peak {peak / 1024:.0f}) |",
        f"| **memory growth of B** (never restarted), end − after warm-up | **{growth_b:+.1f} MB** "
        f"(least-squares slope {slope_b:+.1f} MB/h over {len(warm)} samples) |",
        f"| applicants still waiting at the end (queue) | {res['waiting_left']:.0f} |",
        f"| Redis keys left under the prefix | {sum(res['keys'].values())} "
        f"({', '.join(f'{k} × {v}' for k, v in sorted(res['keys'].items()))}) |",
        f"| server log lines at WARNING or above | {sum(res['levels'].values())} |",
        "",
    ]
    if stats.errors:
        lines += ["Errors by kind: " + "; ".join(f"{k} × {v}" for k, v in stats.errors.most_common()) + ".", ""]
    if res["levels"]:
        lines += ["Server warnings: " + "; ".join(f"{k} × {v}" for k, v in res["levels"].most_common(8)) + ".",
                  ""]
    lines += ["Events: " + "; ".join(f"{k} × {v}" for k, v in sorted(stats.events.items())) + "."]
    return lines


def slope(points: list[tuple[float, float]]) -> float:
    if len(points) < 2:
        return float("nan")
    mx = sum(x for x, _ in points) / len(points)
    my = sum(y for _, y in points) / len(points)
    den = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / den if den else float("nan")


def quant(xs: list[float], q: float) -> float:
    return xs[min(len(xs) - 1, int(len(xs) * q))] if xs else float("nan")


def fmt_s(v: float | None) -> str:
    return "n/a" if v is None else f"≤ {v * 1000:.0f} ms"
