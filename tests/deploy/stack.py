"""docker/compose.yaml run with podman and podman-compose: the images, one stack per test under a
unique project name and free ports, and the steps of a run (each timed and named on failure).

CI reaches no image registry: the app image is built FROM a Debian root made by debootstrap
(docker/ci/base-image.sh, cached in HELPDESK_CI_CACHE) and the official postgres/redis/nginx/coturn
images are replaced by local ones (docker/ci/services.Dockerfile) through the compose file's image
variables.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import free_port

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"
CONTAINERS_CONF = Path(__file__).with_name("containers.conf")
BASE_IMAGE = "localhost/helpdesk-ci/debian:bookworm"
# One tag per checkout: two working copies testing at once on one machine never swap images.
APP_IMAGE = f"localhost/helpdesk:ci-{hashlib.sha256(str(REPO).encode()).hexdigest()[:8]}"
# compose.yaml's image variable → the docker/ci/services.Dockerfile target standing in for it.
SERVICE_IMAGES = {"POSTGRES_IMAGE": "postgres", "REDIS_IMAGE": "redis", "NGINX_IMAGE": "nginx",
                  "COTURN_IMAGE": "coturn"}
CA_BUNDLE = Path(os.environ.get("PIP_CERT") or os.environ.get("SSL_CERT_FILE") or "/etc/ssl/certs/ca-certificates.crt")


class StepFailed(AssertionError):
    """A smoke step failed; the message names the step."""


class Steps:
    """Runs named steps, prints each one's duration, and turns a failure into StepFailed naming it."""

    def __init__(self, on_failure: Any = None) -> None:
        self.times: list[tuple[str, float]] = []
        self.on_failure = on_failure  # () -> str: diagnostics appended to the failure (logs)

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        start = time.monotonic()
        print(f"[deploy] {name} …", flush=True)
        try:
            yield
        except Exception as exc:
            took = time.monotonic() - start
            print(f"[deploy] {name}: FAILED after {took:.1f} s", flush=True)
            extra = self.on_failure() if self.on_failure else ""
            raise StepFailed(f"smoke step '{name}' failed after {took:.1f} s: "
                             f"{type(exc).__name__}: {exc}{extra}") from exc
        took = time.monotonic() - start
        self.times.append((name, took))
        print(f"[deploy] {name}: {took:.1f} s", flush=True)

    def summary(self) -> str:
        total = sum(t for _, t in self.times)
        return "\n".join([f"{t:7.1f} s  {n}" for n, t in self.times] + [f"{total:7.1f} s  total"])


def podman_env() -> dict[str, str]:
    return {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}


def run(cmd: list[str], *, check: bool = True, timeout: float = 900, stdin: str | None = None,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """A command with podman's settings; a failure carries its output."""
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, input=stdin,
                       env=env or podman_env(), cwd=REPO)
    if check and p.returncode != 0:
        raise RuntimeError(f"`{' '.join(cmd[:6])} …` exited {p.returncode}:\n{(p.stdout + p.stderr)[-3000:]}")
    return p


def podman(*args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    return run(["podman", *args], **kw)


def podman_usable() -> bool:
    return shutil.which("podman") is not None and run(["podman", "info"], check=False, timeout=60).returncode == 0


def build_images(steps: Steps) -> None:
    """The base (made once per machine), the four stand-in service images and the app image; podman's
    layer cache makes a rebuild without changes take seconds."""
    with steps.step("build the base image (debootstrap, cached)"):
        run(["bash", str(DOCKER / "ci" / "base-image.sh")], timeout=1200)
    with steps.step("build postgres/redis/nginx/coturn stand-ins"):
        for target in SERVICE_IMAGES.values():
            podman("build", "--network", "host", "--target", target, "-t", f"localhost/helpdesk-ci/{target}",
                   "-f", str(DOCKER / "ci" / "services.Dockerfile"), str(DOCKER / "ci"), timeout=1200)
    with steps.step("build the app image (docker/Dockerfile, BASE=debootstrap bookworm)"):
        secret = ["--secret", f"id=pip_ca,src={CA_BUNDLE}"] if CA_BUNDLE.is_file() else []
        # docker format: the OCI format has no HEALTHCHECK (buildah drops it with a warning).
        podman("build", "--format", "docker", "--network", "host", *secret, "--build-arg", f"BASE={BASE_IMAGE}",
               "-t", APP_IMAGE,
               "-f", str(DOCKER / "Dockerfile"), "--ignorefile", str(DOCKER / "Dockerfile.dockerignore"),
               str(REPO), timeout=1800)
        # The previous build's app image, untagged now: only images with this Dockerfile's label.
        podman("image", "prune", "-f", "--filter", "label=org.opencontainers.image.title=helpdesk", check=False)


def self_signed_cert(folder: Path) -> Path:
    """fullchain.pem + privkey.pem for 127.0.0.1/localhost (what nginx and coturn read from the volume)."""
    folder.mkdir(parents=True, exist_ok=True)
    run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(folder / "privkey.pem"), "-out", str(folder / "fullchain.pem")], env=dict(os.environ))
    (folder / "privkey.pem").chmod(0o644)  # read by the proxy's and coturn's users in their containers
    return folder / "fullchain.pem"


@dataclass
class Stack:
    """One compose project: its env file (secrets, ports, images), certificates and commands."""

    workdir: Path
    app_image: str = APP_IMAGE
    project: str = field(default_factory=lambda: f"hdsmoke{secrets.token_hex(3)}")
    vars: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.ca = self_signed_cert(self.workdir / "certs")
        relay = 40000 + secrets.randbelow(400) * 20
        self.vars = {
            "APP_IMAGE": self.app_image,
            **{var: f"localhost/helpdesk-ci/{target}" for var, target in SERVICE_IMAGES.items()},
            "ENV_FILE": str(self.workdir / "stack.env"),
            "CERT_DIR": str(self.workdir / "certs"),
            "PUBLISH_ADDR": "127.0.0.1",
            "HTTP_PORT": str(free_port()),
            "HTTPS_PORT": str(free_port()),
            "TURN_PORT": str(free_port()),
            "TURN_TLS_PORT": str(free_port()),
            "TURN_MIN_PORT": str(relay),
            "TURN_MAX_PORT": str(relay + 19),
            "TURN_HOST": "127.0.0.1",
            "TURN_EXTERNAL_IP": "127.0.0.1",
            "POSTGRES_PASSWORD": secrets.token_urlsafe(24),
            "HELPDESK_TURN_SECRET": secrets.token_urlsafe(36),
            "HELPDESK_SECRET_KEY": secrets.token_urlsafe(36),
            "HELPDESK_HANDOFF_SECRET": secrets.token_urlsafe(36),
            # A dead replica's sockets expire within seconds (production: 15 s); = smoke.HEARTBEAT_S.
            "HELPDESK_HEARTBEAT_INTERVAL_S": "3",
        }
        self.vars["HELPDESK_PUBLIC_BASE_URL"] = self.url
        (self.workdir / "stack.env").write_text("".join(f"{k}={v}\n" for k, v in self.vars.items()))

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.vars['HTTPS_PORT']}"

    def compose(self, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        exe = Path(sys.executable).with_name("podman-compose")
        return run([str(exe), "--env-file", self.vars["ENV_FILE"], "-p", self.project,
                    "-f", str(DOCKER / "compose.yaml"), *args], check=check, timeout=timeout)

    def services(self) -> dict[str, Any]:
        services: dict[str, Any] = yaml.safe_load((DOCKER / "compose.yaml").read_text())["services"]
        return services

    def container(self, service: str) -> str:
        return f"{self.project}_{service}_1"

    def start_in_order(self) -> None:
        """`up` one service at a time, waiting for the conditions its depends_on names: podman below
        4.6 has no health conditions for podman-compose to wait on (and no systemd to run the checks),
        so this does what `docker compose up` does."""
        services, started = self.services(), set[str]()
        while len(started) < len(services):
            ready = [n for n, s in services.items() if n not in started
                     and set(s.get("depends_on") or {}) <= started]
            if not ready:
                raise RuntimeError(f"depends_on has a cycle among {set(services) - started}")
            for name in ready:
                for dep, how in (services[name].get("depends_on") or {}).items():
                    self.wait_for(dep, how.get("condition", "service_started"))
                self.compose("up", "-d", "--no-deps", name)
                started.add(name)

    def wait_for(self, service: str, condition: str, timeout: float = 180) -> None:
        if condition == "service_healthy":
            self.wait_healthy(service, timeout)
        elif condition == "service_completed_successfully":
            code = podman("wait", self.container(service), timeout=timeout).stdout.strip()
            if code != "0":
                raise RuntimeError(f"{service} exited {code}:\n{self.logs(service)}")

    def wait_healthy(self, service: str, timeout: float = 180) -> None:
        """Runs the container's health check until it passes (podman runs it only when asked here)."""
        name, end = self.container(service), time.monotonic() + timeout
        while True:
            if podman("healthcheck", "run", name, check=False, timeout=60).returncode == 0:
                return
            state = podman("inspect", "--format", "{{.State.Status}}", name, check=False).stdout.strip()
            if state in ("exited", "stopped", ""):
                raise RuntimeError(f"{service} is {state or 'gone'} instead of healthy:\n{self.logs(service)}")
            if time.monotonic() > end:
                raise RuntimeError(f"{service} not healthy within {timeout} s:\n{self.logs(service)}")
            time.sleep(1)

    def address(self, service: str) -> str:
        """The container's address on the backend network (what nginx's $upstream_addr shows)."""
        return podman("inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                      self.container(service)).stdout.strip()

    def exec(self, service: str, *cmd: str, check: bool = True,
             timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return podman("exec", self.container(service), *cmd, check=check, timeout=timeout)

    def logs(self, service: str, lines: int = 40) -> str:
        return podman("logs", "--tail", str(lines), self.container(service), check=False).stdout[-4000:] + \
            podman("logs", "--tail", str(lines), self.container(service), check=False).stderr[-4000:]

    def diagnostics(self) -> str:
        out = [podman("ps", "-a", "--filter", f"name={self.project}_", "--format",
                      "{{.Names}} {{.Status}}", check=False).stdout]
        for name in ("migrate", "app1", "app2", "proxy"):
            out.append(f"---- {name} ----\n{self.logs(name, 15)}")
        return "\n" + "\n".join(out)

    def down(self) -> None:
        self.compose("down", "-v", "-t", "5", check=False, timeout=180)
        for vol in podman("volume", "ls", "-q", "--filter", f"name={self.project}_", check=False).stdout.split():
            podman("volume", "rm", "-f", vol, check=False)
