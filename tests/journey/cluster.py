"""Several real server processes sharing Redis and PostgreSQL, and clients that can move between them.

Used by tests/journey/test_multiprocess.py and bench/bench_pairing.py. Each process is
`python -m uvicorn helpdesk.app:create_app --factory` with its settings in the environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from helpdesk.cli import WS_IMPL
from helpdesk.db import make_engine, make_session_factory
from tests.conftest import create_schema, free_port
from tests.helpdesk.factories import PASSWORD

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Proc:
    """One server process."""

    name: str
    port: int
    env: dict[str, str]
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def start(self, profile: Path | None = None) -> None:
        """Starts the process; with `profile`, under cProfile (written there on a clean stop())."""
        log = self.log_path.open("ab")
        wrap = ["-m", "cProfile", "-o", str(profile)] if profile is not None else []
        # as `helpdesk serve` runs it (helpdesk.cli.ws_options): the lean protocol, no protocol pings,
        # permessage-deflate only with HELPDESK_WS_COMPRESSION (off by default)
        deflate = self.env.get("HELPDESK_WS_COMPRESSION", "").lower() in ("1", "true", "yes", "on")
        self.popen = subprocess.Popen(
            [sys.executable, *wrap, "-m", "uvicorn", "helpdesk.app:create_app", "--factory", "--host", "127.0.0.1",
             "--port", str(self.port), "--log-level", "warning", "--ws", WS_IMPL, "--ws-ping-interval", "0",
             "--ws-per-message-deflate", "true" if deflate else "false"],
            cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()

    async def wait_ready(self, timeout: float = 40.0) -> None:
        async with httpx.AsyncClient(timeout=2) as http:
            end = time.monotonic() + timeout
            while True:
                assert self.popen is not None
                if self.popen.poll() is not None:
                    raise AssertionError(f"{self.name} exited ({self.popen.returncode}):\n{self.tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(self.url + "/readyz")).status_code == 200:
                        return
                if time.monotonic() > end:
                    raise AssertionError(f"{self.name} not ready in {timeout} s:\n{self.tail()}")
                await asyncio.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no socket closes sent by the server, no lock released."""
        if self.popen is not None and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def cluster_env(db_url: str, redis_url: str, prefix: str, tmp: Path, **settings: Any) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELPDESK_")}
    env.update({
        "HELPDESK_DEV_MODE": "1", "HELPDESK_DATABASE_URL": db_url, "HELPDESK_REDIS_URL": redis_url,
        "HELPDESK_REDIS_PREFIX": prefix, "HELPDESK_UPLOAD_DIR": str(tmp / "uploads"),
        "HELPDESK_KB_INDEX_DIR": str(tmp / "kb-index"), "HELPDESK_RECORDINGS_DIR": str(tmp / "recordings"),
        "PYTHONUNBUFFERED": "1",
        "HELPDESK_RATE_LIMITS_ENABLED": "0",  # load from one address; limits: tests/helpdesk/test_rate_limits.py
    })
    env.update({f"HELPDESK_{k.upper()}": str(v) for k, v in settings.items()})
    return env


@asynccontextmanager
async def cluster(db_url: str, redis_url: str, prefix: str, tmp: Path, n: int = 2,
                  **settings: Any) -> AsyncIterator[list[Proc]]:
    """n processes on one database and one Redis prefix; always killed (and keys deleted) on exit."""
    env = cluster_env(db_url, redis_url, prefix, tmp, **settings)
    names = [chr(ord("A") + i) for i in range(n)]
    procs = [Proc(name, free_port(), env, tmp / f"proc-{name.lower()}.log") for name in names]
    try:
        for proc in procs:  # one after the other: the first one takes the timers' lock
            proc.start()
            await proc.wait_ready()
        yield procs
    finally:
        for proc in procs:
            proc.kill()
        await delete_keys(redis_url, prefix)


async def delete_keys(redis_url: str, prefix: str) -> None:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        keys = [k async for k in client.scan_iter(match=prefix + "*", count=1000)]
        for i in range(0, len(keys), 500):
            await client.delete(*keys[i:i + 500])
    finally:
        await client.aclose()


async def prepare_database(db_url: str) -> SimpleNamespace:
    """Creates the tables; returns an object with `.sessions` (what tests.journey.live.seed needs)."""
    await create_schema(db_url)
    engine = make_engine(db_url)
    return SimpleNamespace(sessions=make_session_factory(engine), engine=engine)


class Client:
    """One person's browser: an HTTP session (cookies + CSRF), one socket at a time to any process,
    pings every `ping_s`, an inbox read by a background task."""

    def __init__(self, proc: Proc, ping_s: float = 1.0) -> None:
        self.proc = proc
        self.http = httpx.AsyncClient(base_url=proc.url, timeout=15)
        self.ping_s = ping_s
        self.ws: ClientConnection | None = None
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.kept: list[dict[str, Any]] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.closed = asyncio.Event()
        self.on_message: Any = None  # optional callback(msg) run by the reader (e.g. to time arrivals)
        self.signals: asyncio.Queue[dict[str, Any]] | None = None  # when set, `signal` messages go here

    async def __aenter__(self) -> Client:
        await self.http.get("/healthz")
        self.http.headers["X-CSRF-Token"] = self.http.cookies["hd_csrf"]
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.disconnect()
        await self.http.aclose()

    def move_to(self, proc: Proc) -> None:
        """Later HTTP requests and sockets go to another process (the cookies are the same)."""
        self.proc = proc
        self.http.base_url = httpx.URL(proc.url)

    async def login(self, username: str, password: str = PASSWORD) -> dict[str, Any]:
        r = await self.http.post("/api/auth/login", json={"username": username, "password": password})
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def open_help(self, item: str, **body: Any) -> dict[str, Any]:
        r = await self.http.post("/api/help/session", json={"item": item, **body})
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def connect(self, timeout: float = 10.0) -> dict[str, Any]:
        await self.disconnect()
        cookie = "; ".join(f"{k}={v}" for k, v in self.http.cookies.items())
        self.ws = await asyncio.wait_for(
            connect(self.proc.ws_url, additional_headers={"Cookie": cookie}, open_timeout=timeout), timeout)
        self.closed = asyncio.Event()
        self.tasks = [asyncio.create_task(self._read(self.ws)), asyncio.create_task(self._ping(self.ws))]
        return await self.expect("welcome", timeout)

    async def disconnect(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.tasks = []
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(), 2)
            self.ws = None

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for raw in ws:
                msg = json.loads(raw)
                if self.on_message is not None:
                    self.on_message(msg)
                if msg["type"] == "signal" and self.signals is not None:
                    await self.signals.put(msg)
                elif msg["type"] != "pong":
                    await self.inbox.put(msg)
        except ConnectionClosed:
            pass
        finally:
            self.closed.set()

    async def _ping(self, ws: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                await ws.send('{"type":"ping"}')
                await asyncio.sleep(self.ping_s)

    async def send(self, msg: dict[str, Any]) -> None:
        assert self.ws is not None
        await self.ws.send(json.dumps(msg))

    async def expect(self, type_: str, timeout: float = 20.0, **match: Any) -> dict[str, Any]:
        """The next message of this type (and fields), keeping the others for later."""
        def fits(m: dict[str, Any]) -> bool:
            return m["type"] == type_ and all(m.get(k) == v for k, v in match.items())

        for i, msg in enumerate(self.kept):
            if fits(msg):
                return self.kept.pop(i)
        async with asyncio.timeout(timeout):
            while True:
                msg = await self.inbox.get()
                if fits(msg):
                    return msg
                self.kept.append(msg)

    def seen(self, type_: str) -> list[dict[str, Any]]:
        """Messages of this type received so far and not yet taken by expect()."""
        while not self.inbox.empty():
            self.kept.append(self.inbox.get_nowait())
        return [m for m in self.kept if m["type"] == type_]


@dataclass
class Timeline:
    """Wall-clock marks of a scenario, for the failure message."""

    t0: float = field(default_factory=time.monotonic)
    marks: list[str] = field(default_factory=list)

    def mark(self, what: str) -> None:
        self.marks.append(f"{time.monotonic() - self.t0:6.2f}s {what}")

    def __str__(self) -> str:
        return "\n".join(self.marks)
