"""Bench: what one full garbage collection costs a started app, before and after `gc.freeze()`.

The app (every component, SQLite, no Redis) is started in this process as `helpdesk serve` starts it,
with HELPDESK_GC_FREEZE off so that this script can time `gc.collect()` on what start-up built, then
freeze and time it again (what the lifespan does with the setting on, its default). A full collection
runs on its own whenever enough objects have survived since the last one; every pairing, position
update and socket pauses behind it.

Usage: .venv/bin/python bench/gc_pause.py   (a few seconds; prints one line per state and writes the
"Garbage collection pause" section of bench/RESULTS.md)
"""

from __future__ import annotations

import asyncio
import gc
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ["HELPDESK_GC_FREEZE"] = "0"  # this script freezes by hand, after the first timing

from results import write_section

import helpdesk.models  # noqa: F401 - registers every table
from helpdesk.app import create_app
from helpdesk.config import Settings
from helpdesk.db import Base, make_engine

ROUNDS = 5


async def main() -> None:
    tmp = tempfile.mkdtemp(prefix="bench-gc-")
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp}/helpdesk.db", redis_url="",
                        upload_dir=f"{tmp}/uploads", kb_index_dir=f"{tmp}/kb", recordings_dir=f"{tmp}/rec")
    engine = make_engine(settings.database_url)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    await engine.dispose()
    app = create_app(settings)
    rows = []
    async with app.router.lifespan_context(app):
        for label in ("started, not frozen (baseline)", "after gc.freeze()"):
            times = []
            for _ in range(ROUNDS):
                t = time.perf_counter()
                gc.collect()
                times.append((time.perf_counter() - t) * 1000)
            print(f"{label}: full collection {min(times):.1f}-{max(times):.1f} ms over {ROUNDS}; "
                  f"objects the collector tracks: {len(gc.get_objects()):,}")
            rows.append(f"| {label} | {min(times):.1f}–{max(times):.1f} ms | {len(gc.get_objects()):,} |")
            gc.freeze()
    gc.unfreeze()
    write_section("Garbage collection pause", "\n".join([
        "## Garbage collection pause", "",
        f"Command: `.venv/bin/python bench/gc_pause.py` (Python {platform.python_version()}, {os.cpu_count()} "
        "cores). The app started in this process (every component, SQLite, no Redis) as `helpdesk serve` "
        f"starts it; one full collection timed {ROUNDS} times before and after `gc.freeze()`, which start-up "
        "runs with HELPDESK_GC_FREEZE on (its default).", "",
        "| state | full collection (min–max) | objects the collector tracks |", "|---|---|---|", *rows]))


if __name__ == "__main__":
    asyncio.run(main())
