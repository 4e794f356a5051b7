"""docs/signaling.md shows every example of examples.json, verbatim, and each example is valid."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_every_example_is_in_the_reference() -> None:
    doc = (ROOT / "docs/signaling.md").read_text()
    blocks = [json.loads(b) for b in re.findall(r"```json\n(.*?)\n```", doc, re.S)]
    examples = json.loads((ROOT / "signaling/helpdesk_signaling/examples.json").read_text())
    for side in ("client", "server"):
        for name, msg in examples[side].items():
            assert msg in blocks, f"{side} example {name} is missing from docs/signaling.md"
            assert f"### `{name}`" in doc
    for block in blocks:
        assert any(block in examples[s].values() for s in ("client", "server")), block
