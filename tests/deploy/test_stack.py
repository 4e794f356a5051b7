"""docker/ built and brought up for real with podman (tests/deploy/stack.py, smoke.py): a call through
nginx across the two replicas, a replica killed mid-call, backup and restore, `down -v`; and a
deliberately broken image failing with the name of the step that broke.

Skipped on a laptop without podman; under HELPDESK_REQUIRE_SERVICES=1 (.ci/run) a missing podman fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import require_service
from tests.deploy.smoke import run_smoke
from tests.deploy.stack import APP_IMAGE, Stack, StepFailed, Steps, build_images, podman, podman_usable

BROKEN_IMAGE = APP_IMAGE + "-broken"


@pytest.fixture(scope="module")
def images() -> Iterator[Steps]:
    require_service("podman", podman_usable())
    steps = Steps()
    build_images(steps)
    yield steps


def leftovers(project: str) -> list[str]:
    containers = podman("ps", "-a", "-q", "--filter", f"name={project}_").stdout.split()
    volumes = podman("volume", "ls", "-q", "--filter", f"name={project}_").stdout.split()
    return containers + volumes


def test_stack_smoke(images: Steps, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack = Stack(tmp_path)
    steps = Steps(stack.diagnostics)
    try:
        run_smoke(stack, steps, build=False)
    finally:
        with steps.step("down -v"):
            stack.down()
        with capsys.disabled():  # the durations belong in the CI log even when the test passes
            print(f"\n[deploy] image builds:\n{images.summary()}\n[deploy] smoke run:\n{steps.summary()}")
    assert leftovers(stack.project) == []


def test_a_broken_image_fails_naming_the_step(images: Steps, tmp_path: Path) -> None:
    """The app image with one dependency removed (a derived image: the layers are reused)."""
    context = tmp_path / "broken"
    context.mkdir()
    (context / "Containerfile").write_text(
        f"FROM {APP_IMAGE}\nUSER root\nRUN pip uninstall -y asyncpg\nUSER helpdesk\n")
    podman("build", "-t", BROKEN_IMAGE, str(context))
    stack = Stack(tmp_path / "stack", app_image=BROKEN_IMAGE)
    steps = Steps(stack.diagnostics)
    try:
        with pytest.raises(StepFailed) as failed:
            run_smoke(stack, steps, build=False)
    finally:
        stack.down()
        podman("rmi", "-f", BROKEN_IMAGE, check=False)
    message = str(failed.value)
    assert message.startswith("smoke step 'start the stack"), message[:500]
    assert "migrate exited 1" in message and "No module named 'asyncpg'" in message, message[-3000:]
    assert leftovers(stack.project) == []
