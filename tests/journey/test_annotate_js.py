"""The pages' shared modules under Node (tests/journey/js/): the annotation overlay's geometry and
validation (helpdesk/web/static/annotate.js), the API helper's newest-answer loader (api.js)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.conftest import require_service

ROOT = Path(__file__).parents[2]


def test_annotate_geometry_and_validation() -> None:
    node = shutil.which("node")
    require_service("node", node is not None)
    assert node is not None
    out = subprocess.run([node, "--test", "tests/journey/js/"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
