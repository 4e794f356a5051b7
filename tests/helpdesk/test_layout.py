"""The repository layout keeps the standard library intact: the `queue/` folder must never shadow
`queue`, which asyncio, logging and concurrent.futures import."""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMPONENT_FOLDERS = ["signaling", "queue", "knowledgebase", "remote-inspection", "agent-console"]
PACKAGES = ["helpdesk", "helpdesk_signaling", "helpdesk_queue", "helpdesk_kb", "helpdesk_inspection"]

PROBE = """
import asyncio, json, queue, importlib

def work():
    q = queue.Queue()
    q.put(41)
    return q.get() + 1

answer = asyncio.run(asyncio.to_thread(work))
# __path__, not __file__: a stale editable install may map a package as a namespace.
files = {name: list(importlib.import_module(name).__path__)[0] for name in %r}
print(json.dumps({"answer": answer, "queue": queue.__file__, "files": files}))
"""


def test_stdlib_queue_wins_from_the_repo_root() -> None:
    """Run from the repo root, where `queue/` sits in the current directory on sys.path."""
    r = subprocess.run([sys.executable, "-c", PROBE % PACKAGES], cwd=ROOT, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    found = json.loads(r.stdout)
    assert found["answer"] == 42
    stdlib = Path(sysconfig.get_paths()["stdlib"]).resolve()
    assert Path(found["queue"]).resolve().parent == stdlib
    for name, file in found["files"].items():
        assert Path(file).resolve().is_relative_to(ROOT), f"{name} imported from {file}"


@pytest.mark.parametrize("folder", COMPONENT_FOLDERS)
def test_component_folder_is_not_a_package(folder: str) -> None:
    assert (ROOT / folder).is_dir()
    assert not (ROOT / folder / "__init__.py").exists(), f"{folder}/__init__.py would shadow the stdlib"


def test_no_tests_package_named_after_stdlib() -> None:
    """tests mirror import packages (tests/helpdesk_queue), never tests/queue."""
    names = {p.name for p in (ROOT / "tests").iterdir() if p.is_dir()}
    assert not names & set(sys.stdlib_module_names)
