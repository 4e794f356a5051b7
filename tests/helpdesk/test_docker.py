"""docker/ checked without a Docker engine (this machine has none, and no `docker compose` plugin):
the compose file parses and passes a structural check of the Compose keys it uses, its variables are
all in .env.example, the app's container settings load in production mode, nginx passes WebSockets,
and the image installs the project the way `make run` does."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from helpdesk.config import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"

# The Compose specification's keys (compose-spec, services section), for a typo/structure check.
SERVICE_KEYS = {
    "annotations", "attach", "build", "blkio_config", "cap_add", "cap_drop", "cgroup", "cgroup_parent",
    "command", "configs", "container_name", "cpu_count", "cpu_percent", "cpu_shares", "cpu_quota",
    "cpu_period", "cpu_rt_period", "cpu_rt_runtime", "cpus", "cpuset", "credential_spec", "depends_on",
    "deploy", "develop", "device_cgroup_rules", "devices", "dns", "dns_opt", "dns_search", "domainname",
    "entrypoint", "env_file", "environment", "expose", "extends", "external_links", "extra_hosts", "gpus",
    "group_add", "healthcheck", "hostname", "image", "init", "ipc", "isolation", "labels", "links",
    "logging", "mac_address", "mem_limit", "mem_reservation", "mem_swappiness", "memswap_limit",
    "network_mode", "networks", "oom_kill_disable", "oom_score_adj", "pid", "pids_limit", "platform", "ports",
    "post_start", "pre_stop", "privileged", "profiles", "pull_policy", "read_only", "restart", "runtime",
    "scale", "secrets", "security_opt", "shm_size", "stdin_open", "stop_grace_period", "stop_signal",
    "storage_opt", "sysctls", "tmpfs", "tty", "ulimits", "user", "userns_mode", "uts", "volumes",
    "volumes_from", "working_dir",
}
TOP_KEYS = {"name", "services", "networks", "volumes", "configs", "secrets", "include", "version"}
HEALTHCHECK_KEYS = {"test", "interval", "timeout", "retries", "start_period", "start_interval", "disable"}
BUILD_KEYS = {"context", "dockerfile", "args", "target", "cache_from", "labels", "network", "shm_size",
              "ssh", "secrets", "tags", "platforms", "additional_contexts", "extra_hosts", "dockerfile_inline"}
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
DURATION = re.compile(r"^(\d+(\.\d+)?(us|ms|s|m|h))+$")
VAR = re.compile(r"\$\{([A-Z0-9_]+)(?::?[-?+][^}]*)?\}")


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


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default}, ${VAR:?error} with the given environment."""

    def one(m: re.Match[str]) -> str:
        whole, name = m.group(0), m.group(1)
        if name in env and env[name] != "":
            return env[name]
        if ":-" in whole:
            return whole.split(":-", 1)[1][:-1]
        raise AssertionError(f"{name} is required by compose.yaml but not set")

    return VAR.sub(one, text)


def test_compose_parses_and_uses_only_compose_keys() -> None:
    data = compose()
    assert set(data) <= TOP_KEYS | {k for k in data if k.startswith("x-")}
    services: dict[str, Any] = data["services"]
    assert {"app1", "app2", "proxy", "redis", "postgres", "coturn"} <= set(services)
    volumes, networks = set(data.get("volumes", {})), set(data.get("networks", {}))
    for name, svc in services.items():
        assert set(svc) <= SERVICE_KEYS, f"{name}: unknown keys {set(svc) - SERVICE_KEYS}"
        assert "image" in svc or "build" in svc, name
        assert svc.get("restart") in (None, "no", "always", "on-failure", "unless-stopped"), name
        assert not ("network_mode" in svc and "networks" in svc), f"{name}: network_mode excludes networks"
        assert set(svc.get("build", {})) <= BUILD_KEYS, name
        hc = svc.get("healthcheck", {})
        assert set(hc) <= HEALTHCHECK_KEYS, name
        for key in ("interval", "timeout", "start_period"):
            assert key not in hc or DURATION.match(hc[key]), f"{name}: healthcheck {key}"
        assert "stop_grace_period" not in svc or DURATION.match(svc["stop_grace_period"])
        for dep, how in (svc.get("depends_on") or {}).items():
            assert dep in services, f"{name} depends on unknown service {dep}"
            assert how["condition"] in CONDITIONS
        for net in svc.get("networks", []):
            assert net in networks, f"{name}: undeclared network {net}"
        for mount in svc.get("volumes", []):
            source = mount.split(":", 1)[0]
            if not source.startswith((".", "/")):
                assert source in volumes, f"{name}: undeclared volume {source}"
            else:
                assert (DOCKER / source).resolve().is_relative_to(DOCKER) or source == "./certs"
        for port in svc.get("ports", []):
            assert re.match(r"^(\$\{[^}]+\}|\d+):\d+(/(tcp|udp))?$", port), port
    assert services["app1"]["build"]["dockerfile"] == "docker/Dockerfile"
    assert (DOCKER / services["app1"]["build"]["context"]).resolve() == ROOT


def test_every_variable_is_in_the_env_example_and_the_app_settings_load() -> None:
    env = env_example()
    used = set(VAR.findall(compose_text()))
    required = {m.group(1) for m in VAR.finditer(compose_text()) if ":-" not in m.group(0)}
    assert required <= set(env), f".env.example misses {required - set(env)}"
    assert used <= set(env), f"variables without an example: {used - set(env)}"
    for key in env:
        if key.startswith("HELPDESK_"):
            assert key[9:].lower() in Settings.model_fields, f".env.example: {key} is not a setting"

    data = yaml.safe_load(interpolate(compose_text(), env))
    for replica in ("app1", "app2"):
        app = data["services"][replica]
        assert app["environment"] == data["services"]["app1"]["environment"]  # the same anchor
        app_env = {**{k: v for k, v in env.items() if k.startswith("HELPDESK_")}, **app["environment"]}
        for key in app_env:
            assert key[9:].lower() in Settings.model_fields, f"{replica}: {key} is not a setting"
        # What the container's process loads: production mode, every secret given.
        settings = Settings(_env_file=None, **{k[9:].lower(): parse(v) for k, v in app_env.items()})
        assert not settings.dev_mode and settings.redis_url and settings.database_url.startswith("postgresql")
        assert settings.turn_urls[0].startswith("turn:") and settings.turn_secret == env["HELPDESK_TURN_SECRET"]
        # Uploads, recordings and the KB index are on named volumes at the paths the settings use.
        mounts = dict(m.split(":", 1)[::-1] for m in app["volumes"])
        for path in (settings.upload_dir, settings.recordings_dir, settings.kb_index_dir):
            assert str(path) in mounts, f"{path} is not a volume"


def parse(value: str) -> Any:
    return json.loads(value) if value.startswith("[") else value


def test_coturn_uses_the_apps_turn_secret() -> None:
    services = compose()["services"]
    args = services["coturn"]["command"]
    assert "--use-auth-secret" in args
    secret = next(a for a in args if a.startswith("--static-auth-secret="))
    assert secret.startswith("--static-auth-secret=${HELPDESK_TURN_SECRET")
    assert services["app1"]["environment"]["HELPDESK_TURN_SECRET"].startswith("${HELPDESK_TURN_SECRET")
    assert any(a.startswith("--denied-peer-ip=172.16.0.0") for a in args), "no relaying into the backend"


def test_nginx_passes_websockets_to_both_replicas() -> None:
    conf = (DOCKER / "nginx.conf").read_text()
    assert conf.count("{") == conf.count("}")
    upstream = re.search(r"upstream helpdesk \{(.*?)\}", conf, re.S)
    assert upstream is not None
    assert re.findall(r"server (app\d):8000", upstream.group(1)) == ["app1", "app2"]
    ws = re.search(r"location = /ws \{(.*?)\n    \}", conf, re.S)
    assert ws is not None
    block = ws.group(1)
    assert "proxy_http_version 1.1;" in block
    assert "proxy_set_header Upgrade $http_upgrade;" in block
    assert "proxy_set_header Connection $connection_upgrade;" in block
    timeout = int(re.search(r"proxy_read_timeout (\d+)s;", block).group(1))  # type: ignore[union-attr]
    assert timeout > 2 * Settings().heartbeat_interval_s, "the proxy must not cut idle sockets first"
    assert "location = /metrics" in conf


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (DOCKER / "Dockerfile").read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def pip_install(command: str) -> list[str]:
    """The words of one `pip install` command, without the interpreter and quiet flags."""
    words = shlex.split(command)
    start = words.index("pip")
    return [w for w in words[start:] if w not in ("--quiet", "-q")]


def test_the_image_installs_the_project_as_make_run_does() -> None:
    steps = dockerfile_instructions()
    assert steps[0] == ("FROM", "python:3.11-slim")
    makefile = (ROOT / "Makefile").read_text()
    make_cmd = next(line for line in makefile.splitlines() if "pip install" in line and "-e" in line)
    make_words = pip_install(make_cmd.replace("$(BIN)/python", "python"))
    runs = [rest for word, rest in steps if word == "RUN" and "pip install" in rest]
    assert len(runs) == 1, "one install step"
    image_words = pip_install(runs[0].split("&&")[0])
    # The same command; the image leaves out the [test] extra (the app's dependencies only).
    assert make_words[-1] == ".[test]" and image_words[-1] == "."
    assert make_words[:-1] == image_words[:-1]
    assert not list(ROOT.glob("requirements*.txt")), "dependencies come from pyproject.toml only"

    copied = {rest.split()[0] for word, rest in steps if word == "COPY"}
    where = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    for folder in where["where"]:
        if folder != ".":
            assert folder in copied, f"the image misses the package folder {folder}"
    assert {"pyproject.toml", "helpdesk", "agent-console"} <= copied
    from helpdesk.app import STATIC_DIRS

    for path in STATIC_DIRS.values():  # served from the source tree: copied with it
        assert path.relative_to(ROOT).parts[0] in copied, path


def test_the_image_runs_unprivileged_migrates_then_serves_with_a_health_check() -> None:
    steps = dockerfile_instructions()
    users = [rest for word, rest in steps if word == "USER"]
    assert users and users[-1] not in ("root", "0"), "the server must not run as root"
    assert [w for w, _ in steps].index("USER") < [w for w, _ in steps].index("ENTRYPOINT")
    health = next(rest for word, rest in steps if word == "HEALTHCHECK")
    assert "/healthz" in health and "--interval=" in health
    entry = (DOCKER / "entrypoint.sh").read_text()
    commands = [line.strip() for line in entry.splitlines() if line.strip() and not line.startswith("#")]
    upgrade = next(i for i, c in enumerate(commands) if c == "helpdesk db upgrade")
    serve = next(i for i, c in enumerate(commands) if c.startswith("exec helpdesk serve "))
    assert upgrade < serve and "set -eu" in commands
    assert "--host 0.0.0.0" in commands[serve]
    assert subprocess.run(["sh", "-n", str(DOCKER / "entrypoint.sh")], check=False).returncode == 0
    ignore = (DOCKER / "Dockerfile.dockerignore").read_text().split()
    assert {"**/.venv", ".git", "docker/.env"} <= set(ignore)


@pytest.mark.parametrize("name", ["compose.yaml", "nginx.conf", ".env.example", "Dockerfile"])
def test_no_real_secrets_are_committed(name: str) -> None:
    text = (DOCKER / name).read_text()
    for key, value in env_example().items():
        if "SECRET" in key or "PASSWORD" in key:
            assert value.startswith("CHANGE-ME"), key
    assert "dev-insecure-secret" not in text
