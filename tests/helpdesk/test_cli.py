"""The `helpdesk` command as an operator runs it: a subprocess on a fresh SQLite file, no stdin."""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from helpdesk.cli import REGISTRARS, build_parser, main
from helpdesk.security import verify_password

SCRIPT = Path(sys.executable).with_name("helpdesk")


def run(tmp_path: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "helpdesk.cli"]
    var = tmp_path / "var"
    env = {**os.environ, "HELPDESK_DATABASE_URL": f"sqlite+aiosqlite:///{var}/cli.db",
           "HELPDESK_DEV_MODE": "true", "HELPDESK_KB_INDEX_DIR": str(var / "kb-index"),
           "HELPDESK_UPLOAD_DIR": str(var / "uploads"), "HELPDESK_RECORDINGS_DIR": str(var / "recordings"),
           "COLUMNS": "200"}
    return subprocess.run([*cmd, *args], cwd=tmp_path, env=env, input=stdin if stdin is not None else "",
                          capture_output=True, text=True, timeout=120)


def rows(tmp_path: Path, sql: str) -> list[Any]:
    with sqlite3.connect(tmp_path / "var" / "cli.db") as db:
        return db.execute(sql).fetchall()


def test_upgrade_demo_createuser(tmp_path: Path) -> None:
    r = run(tmp_path, "db", "current")
    assert r.returncode == 0 and "(none)" in r.stdout
    r = run(tmp_path, "db", "upgrade")
    assert r.returncode == 0, r.stderr
    assert "up to date" in run(tmp_path, "db", "current").stdout

    first = run(tmp_path, "demo")
    assert first.returncode == 0, first.stderr
    assert "/help?item=SCJG-001" in first.stdout and "agent1" in first.stdout
    count_sql = "SELECT (SELECT count(*) FROM service_items), (SELECT count(*) FROM staff)"
    counts = rows(tmp_path, count_sql)
    assert run(tmp_path, "demo").returncode == 0
    assert rows(tmp_path, count_sql) == counts

    r = run(tmp_path, "createuser", "wang", "--role", "agent", "--unit", "130626",
            "--skills", "SCJG, YPJG-001", "--password", "s3cret-pass", "--display-name", "王芳")
    assert r.returncode == 0, r.stderr
    [(pw_hash, role, unit, name)] = rows(
        tmp_path, "SELECT s.password_hash, s.role, u.code, s.display_name FROM staff s "
                  "JOIN org_units u ON u.id = s.unit_id WHERE username = 'wang'")
    assert (role, unit, name) == ("agent", "130626", "王芳")
    assert verify_password(pw_hash, "s3cret-pass")
    assert rows(tmp_path, "SELECT count(*) FROM staff_skills k JOIN staff s ON s.id = k.staff_id "
                          "WHERE s.username = 'wang'") == [(2,)]

    r = run(tmp_path, "createuser", "li", "--role", "supervisor", "--unit", "130600", "--password-stdin",
            stdin="another-pass\n")
    assert r.returncode == 0, r.stderr
    [(pw_hash,)] = rows(tmp_path, "SELECT password_hash FROM staff WHERE username = 'li'")
    assert verify_password(pw_hash, "another-pass")


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrated and loaded once; each test gets a copy."""
    base = tmp_path_factory.mktemp("cli-demo")
    assert run(base, "db", "upgrade").returncode == 0
    assert run(base, "demo").returncode == 0
    return base / "var" / "cli.db"


@pytest.mark.parametrize(("args", "message"), [
    (["agent1", "--role", "agent", "--unit", "130600", "--password", "whatever1"], "is taken"),
    (["zhao", "--role", "agent", "--unit", "999999", "--password", "whatever1"], "no org unit"),
    (["zhao", "--role", "agent", "--unit", "130600", "--skills", "NOPE", "--password", "whatever1"],
     "unknown skill codes: NOPE"),
    (["zhao", "--role", "agent", "--unit", "130600", "--password", "short"], "at least 8"),
    (["zhao", "--role", "agent", "--unit", "130600"], "no terminal"),
])
def test_createuser_refuses(tmp_path: Path, demo_db: Path, args: list[str], message: str) -> None:
    (tmp_path / "var").mkdir()
    shutil.copy(demo_db, tmp_path / "var" / "cli.db")
    r = run(tmp_path, "createuser", *args)
    assert r.returncode == 1
    assert message in r.stderr
    assert rows(tmp_path, "SELECT count(*) FROM staff WHERE username = 'zhao'") == [(0,)]


def test_demo_refused_outside_dev_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELPDESK_DEV_MODE", "false")
    monkeypatch.setenv("HELPDESK_SECRET_KEY", "x" * 40)
    monkeypatch.setenv("HELPDESK_HANDOFF_SECRET", "y" * 40)
    monkeypatch.setenv("HELPDESK_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/x.db")
    assert main(["demo"]) == 1


def test_components_register_subcommands() -> None:
    seen: list[str] = []

    def register_probe(sub: Any) -> None:
        probe = sub.add_parser("probe").add_subparsers(dest="probe_command", required=True)
        probe.add_parser("reindex").set_defaults(func=lambda args: seen.append("reindex"))

    parser = build_parser([*REGISTRARS, register_probe])
    args = parser.parse_args(["probe", "reindex"])
    assert isinstance(args, argparse.Namespace)
    args.func(args)
    assert seen == ["reindex"]
    assert parser.parse_args(["serve", "--port", "9000"]).port == 9000


def test_serve_runs_the_lean_websocket_protocol_without_protocol_pings() -> None:
    """What `helpdesk serve` hands uvicorn: the lean protocol (idle sockets parked), and no uvicorn
    keepalive timer per socket (the app's heartbeat finds dead peers)."""
    import uvicorn
    from helpdesk_signaling.uvicorn_ws import LeanWebSocketProtocol

    from helpdesk.cli import ws_options

    config = uvicorn.Config("helpdesk.app:create_app", factory=True, **ws_options(False))
    config.load()
    assert config.ws_protocol_class is LeanWebSocketProtocol
    assert config.ws_ping_interval is None and config.ws_per_message_deflate is False


def test_readme_lists_every_setting() -> None:
    """README's configuration table is exactly what `helpdesk settings` generates."""
    from helpdesk.cli import settings_table
    from helpdesk.config import Settings

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = readme.split("<!-- settings:start -->\n", 1)[1].split("<!-- settings:end -->", 1)[0]
    fix = "run `helpdesk settings --write README.md`"
    missing = [n for n in Settings.model_fields if f"`HELPDESK_{n.upper()}`" not in block]
    assert not missing, f"README misses settings {missing}: {fix}"
    assert block == settings_table(), f"README's settings table is stale: {fix}"
