"""Graceful shutdown: every socket of a stopping process gets `{"type":"reconnect","reason":"shutdown"}`
and close 1012, and the clients carry on on another process (the call resumes there)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from helpdesk.app import create_app
from helpdesk.cli import WS_IMPL
from helpdesk.config import Settings
from helpdesk.drain import DrainingServer
from tests.conftest import create_schema, free_port
from tests.journey.cluster import Client, Proc, cluster_env, delete_keys, prepare_database
from tests.journey.live import Browser, Live, seed

RECONNECT = {"type": "reconnect", "reason": "shutdown"}


async def until_closed(b: Browser, timeout: float = 10.0) -> tuple[list[dict[str, Any]], int | None]:
    """Every message up to the close, and the close code."""
    assert b.ws is not None
    got = list(b.inbox)
    async with asyncio.timeout(timeout):
        with contextlib.suppress(ConnectionClosed):
            while True:
                got.append(json.loads(await b.ws.recv()))
    return got, b.ws.close_code


async def test_shutdown_tells_every_socket_to_reconnect(settings: Settings) -> None:
    """In-process, `helpdesk serve`'s server: a call's two sockets and a waiting applicant's each get
    `reconnect` then 1012 before the process stops; the agent is not marked offline on the way out."""
    await create_schema(settings.database_url)
    app = create_app(settings)
    server = DrainingServer(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning",
                                           ws=WS_IMPL, lifespan="on"))
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(15):
            while not server.started:
                await asyncio.sleep(0.02)
        port = server.config.port
        live = Live(f"http://127.0.0.1:{port}", app)
        live.seed = await seed(live.state)
        async with Browser(live) as agent, Browser(live) as applicant, Browser(live) as waiting:
            await agent.login(live.seed["agent"].username)
            await agent.connect()
            await agent.send({"type": "agent.state", "state": "ready"})
            await agent.expect("agent.state", state="ready")
            for b, name in ((applicant, "刘晓倩"), (waiting, "王五")):
                await b.open_help(live.seed["item"].code, name=name)
                await b.connect()
                r = await b.http.post("/api/help/requests", json={"item": live.seed["item"].code,
                                                                   "unit": live.seed["county"].code})
                assert r.status_code == 200, r.text
            offer = await agent.expect("offer")
            await agent.send({"type": "offer.accept", "ticket": offer["ticket"]})
            await applicant.expect("room.joined")
            await agent.expect("room.joined")
            journey = live.state.components["journey"]
            assert len(journey.endpoint.connections) == 3

            server.should_exit = True
            results = await asyncio.gather(*(until_closed(b) for b in (agent, applicant, waiting)))
            for got, code in results:
                assert RECONNECT in got, got
                assert got[-1] == RECONNECT  # the last message before the close
                assert code == 1012
            # The agent was told to move, not gone: presence is left for the next process.
            agent_id = live.seed["agent"].id
            presence = await journey.queue.store.get_agent(agent_id)
            assert presence is not None and presence.state == "busy"
        await asyncio.wait_for(task, 20)
    finally:
        server.should_exit = True
        if not task.done():
            await asyncio.wait_for(task, 20)


class ServeProc(Proc):
    """A process run as the container runs it: `helpdesk serve` (DrainingServer)."""

    def start(self, profile: Path | None = None) -> None:  # no profiling here
        log = self.log_path.open("ab")
        helpdesk = Path(sys.executable).with_name("helpdesk")
        self.popen = subprocess.Popen([str(helpdesk), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                                      cwd=Path(__file__).resolve().parents[2], env=self.env, stdout=log,
                                      stderr=subprocess.STDOUT, start_new_session=True)
        log.close()


@pytest.mark.redis
@pytest.mark.postgres
async def test_call_moves_to_the_other_process_on_shutdown(pg_url: str, redis_url: str, redis_prefix: str,
                                                           tmp_path: Path) -> None:
    """Two processes on Redis + PostgreSQL; the call's two sockets are on A. A is stopped (SIGTERM):
    both get `reconnect` + 1012, reconnect to B, find their room resumed, and signal through B."""
    db = await prepare_database(pg_url)
    env = cluster_env(pg_url, redis_url, redis_prefix, tmp_path, heartbeat_interval_s=2.0,
                      reconnect_grace_s=20.0, log_format="json")
    a = ServeProc("A", free_port(), env, tmp_path / "proc-a.log")
    b = ServeProc("B", free_port(), env, tmp_path / "proc-b.log")
    try:
        data = await seed(db)  # type: ignore[arg-type]  # seed only needs .sessions
        for proc in (a, b):
            proc.start()
            await proc.wait_ready()
        async with Client(a) as agent, Client(a) as applicant:
            await agent.login(data["agent"].username)
            await agent.connect()
            await agent.send({"type": "agent.state", "state": "ready"})
            await agent.expect("agent.state", state="ready")
            await applicant.open_help(data["item"].code, name="刘晓倩")
            await applicant.connect()
            r = await applicant.http.post("/api/help/requests", json={"item": data["item"].code,
                                                                       "unit": data["county"].code})
            assert r.status_code == 200, r.text
            offer = await agent.expect("offer")
            await agent.send({"type": "offer.accept", "ticket": offer["ticket"]})
            room = (await applicant.expect("room.joined"))["room"]
            await agent.expect("room.joined")

            assert a.popen is not None
            a.popen.terminate()  # SIGTERM: what `docker compose stop` / a rolling update sends
            for c in (agent, applicant):
                await asyncio.wait_for(c.closed.wait(), 10)
                assert c.seen("reconnect") == [RECONNECT]
                assert c.ws is not None and c.ws.close_code == 1012
            # uvicorn re-raises the SIGTERM it handled once shut down: -15 after a clean shutdown.
            assert await asyncio.to_thread(a.popen.wait, 20) in (0, -15)
            assert "Application shutdown complete" in a.log_path.read_text()

            for c in (agent, applicant):
                c.move_to(b)
            s_welcome, a_welcome = await agent.connect(), await applicant.connect()
            assert a_welcome["room"]["room"] == s_welcome["room"]["room"] == room
            assert a_welcome["room"]["resumed"] and s_welcome["room"]["resumed"]
            assert s_welcome["agent"]["state"] == "busy"  # not sent offline by the drain
            await applicant.send({"type": "signal", "room": room, "candidate": None})
            assert (await agent.expect("signal"))["candidate"] is None
            await agent.send({"type": "hangup", "room": room})
            assert (await applicant.expect("call.ended"))["reason"] == "hangup"
        lines = [json.loads(line) for line in a.log_path.read_text().splitlines() if line.startswith("{")]
        assert any("told to reconnect" in line["message"] for line in lines), a.tail()
    except BaseException:
        for p in (a, b):
            print(f"---- process {p.name} ----\n{p.tail()}")
        raise
    finally:
        for p in (a, b):
            p.kill()
        await delete_keys(redis_url, redis_prefix)
        await db.engine.dispose()


async def test_a_socket_opened_while_draining_is_sent_on(settings: Settings) -> None:
    """A socket that reaches a process already draining gets `reconnect` + 1012 instead of `welcome`."""
    await create_schema(settings.database_url)
    app = create_app(settings)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           ws=WS_IMPL, lifespan="on"))
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(15):
            while not server.started:
                await asyncio.sleep(0.02)
        live = Live(f"http://127.0.0.1:{port}", app)
        live.seed = await seed(live.state)
        async with Browser(live) as agent:
            await agent.login(live.seed["agent"].username)
            live.state.components["journey"].endpoint.draining = True
            cookie = "; ".join(f"{k}={v}" for k, v in agent.http.cookies.items())
            async with connect(live.ws_url, additional_headers={"Cookie": cookie}) as ws:
                assert json.loads(await asyncio.wait_for(ws.recv(), 5)) == RECONNECT
                with pytest.raises(ConnectionClosed):
                    await asyncio.wait_for(ws.recv(), 5)
                assert ws.close_code == 1012
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 20)
