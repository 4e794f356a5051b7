"""One place that writes a benchmark's section of bench/RESULTS.md, leaving the others alone.

Scripts run as `python bench/bench_x.py`, so this folder is on sys.path: `from results import write_section`.
"""

from __future__ import annotations

import re
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def write_section(title: str, body: str) -> Path:
    """Replaces (or appends) the section headed `## {title}` with `body` (which starts with that heading)."""
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Bench results\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    section = body.rstrip("\n") + "\n\n"
    text = pattern.sub(lambda _m: section, text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + section
    RESULTS.write_text(text.rstrip("\n") + "\n", encoding="utf-8")
    return RESULTS
