"""What the real run of docker/ (tests/deploy/test_stack.py) cannot see: names a container would
silently ignore, numbers that must move together, and the parts of the files the smoke run does not
reach (the docs' .env.example, Compose keys Docker is stricter about than podman-compose)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import yaml

from helpdesk.app import MULTIPART_OVERHEAD, STATIC_DIRS
from helpdesk.config import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"

# The Compose specification's service keys this project may use (a typo is ignored by podman-compose).
SERVICE_KEYS = {
    "build", "command", "container_name", "depends_on", "entrypoint", "env_file", "environment", "expose",
    "healthcheck", "hostname", "image", "labels", "logging", "network_mode", "networks", "ports", "restart",
    "stop_grace_period", "stop_signal", "ulimits", "user", "volumes",
}
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
VAR = re.compile(r"\$\{([A-Z0-9_]+)(:?[-?][^}]*)?\}")


def compose_text() -> str:
    return (DOCKER / "compose.yaml").read_text()


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(compose_text())
    return data


def env_example() -> dict[str, str]:
    out = {}
    for line in (DOCKER / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def test_compose_uses_only_compose_keys_and_declared_names() -> None:
    data = compose()
    services: dict[str, Any] = data["services"]
    assert {"migrate", "app1", "app2", "proxy", "redis", "postgres", "coturn"} <= set(services)
    volumes, networks = set(data["volumes"]), set(data["networks"])
    for name, svc in services.items():
        assert set(svc) <= SERVICE_KEYS, f"{name}: unknown keys {set(svc) - SERVICE_KEYS}"
        assert not ("network_mode" in svc and "networks" in svc), f"{name}: network_mode excludes networks"
        for dep, how in (svc.get("depends_on") or {}).items():
            assert dep in services and how["condition"] in CONDITIONS, (name, dep)
        for net in svc.get("networks", []):
            assert net in networks, f"{name}: undeclared network {net}"
        for mount in svc.get("volumes", []):
            source = mount.split(":", 1)[0]
            assert source.startswith((".", "$")) or source in volumes, f"{name}: undeclared volume {source}"
    # The replicas wait for the one-shot migration; no sticky sessions anywhere.
    assert services["app1"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["command"] == ["helpdesk", "db", "upgrade"]
    balancing = re.findall(r"^\s*(ip_hash|hash|sticky)\b", (DOCKER / "nginx.conf").read_text(), re.M)
    assert balancing == [], "any replica serves any request: no sticky sessions"


def test_every_variable_has_an_example_and_every_helpdesk_name_is_a_setting() -> None:
    """A misspelt HELPDESK_ name is ignored by the app: the smoke run would pass with the default."""
    env = env_example()
    required = {m.group(1) for m in VAR.finditer(compose_text()) if (m.group(2) or "").startswith(":?")}
    assert required <= set(env), f".env.example misses {required - set(env)}"
    for key, value in env.items():
        if key.startswith("HELPDESK_"):
            assert key[9:].lower() in Settings.model_fields, f".env.example: {key} is not a setting"
        if "SECRET" in key or "PASSWORD" in key:
            assert value.startswith("CHANGE-ME"), f"{key}: a real value is committed"
    for name in ("migrate", "app1", "app2"):
        for key in compose()["services"][name]["environment"]:
            assert key.startswith("HELPDESK_") and key[9:].lower() in Settings.model_fields, (name, key)


def test_nginx_limits_follow_the_apps() -> None:
    """The body limit is the app's own (upload limit + multipart allowance), so nginx never answers
    413 for a file the app would take; idle sockets outlive several heartbeats at the default."""
    conf = (DOCKER / "nginx.conf").read_text()
    size = re.search(r"client_max_body_size (\d+)k;", conf)
    assert size is not None
    assert int(size.group(1)) * 1024 == Settings().upload_max_bytes + MULTIPART_OVERHEAD
    ws = re.search(r"location = /ws \{(.*?)\n    \}", conf, re.S)
    assert ws is not None
    for directive in ("proxy_read_timeout", "proxy_send_timeout"):
        timeout = re.search(directive + r" (\d+)s;", ws.group(1))
        assert timeout is not None and int(timeout.group(1)) > 3 * Settings().heartbeat_interval_s, directive


def test_the_image_carries_every_package_and_static_folder() -> None:
    """The smoke run imports what it touches; a new component folder must be copied too."""
    text = (DOCKER / "Dockerfile").read_text()
    copied = set(re.findall(r"^COPY (\S+)", text, re.M))
    where = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["where"]
    for folder in where:
        assert folder == "." or folder in copied, f"the image misses the package folder {folder}"
    for path in STATIC_DIRS.values():  # served from the source tree: copied with it
        assert path.relative_to(ROOT).parts[0] in copied, path
    ignore = set((DOCKER / "Dockerfile.dockerignore").read_text().split())
    assert {"**/.venv", ".git", "docker/.env", "docker/certs"} <= ignore, "secrets must stay out of the image"
