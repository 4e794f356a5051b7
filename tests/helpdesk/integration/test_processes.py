"""Against real server processes (PostgreSQL, Redis): a process SIGKILLed between the step's commit
and the webhook's send delivers nothing; the next process delivers each event exactly once. And the
documented reference client runs against a live server, receiving and verifying the webhooks."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import httpx

from helpdesk.clock import SystemClock
from tests.conftest import free_port
from tests.helpdesk.integration.test_api import HAND_IN
from tests.helpdesk.integration.world import SECRET, Receiver, make_world, subscribe
from tests.journey.cluster import Proc, cluster_env, delete_keys, prepare_database

REPO = Path(__file__).resolve().parents[3]


async def test_kill_between_commit_and_send_delivers_exactly_once(pg_url, redis_url, redis_prefix, tmp_path) -> None:
    db = await prepare_database(pg_url)
    clock = SystemClock()
    async with db.sessions() as session:
        world = await make_world(session, clock)
        receiver = Receiver(free_port(), SECRET)
        await subscribe(session, clock, f"http://127.0.0.1:{receiver.server.server_port}/hook")
    await db.engine.dispose()
    quiet = cluster_env(pg_url, redis_url, redis_prefix, tmp_path, outbox_poll_s=3600)  # sends only at start
    a = Proc("A", free_port(), quiet, tmp_path / "a.log")
    b = Proc("B", free_port(), cluster_env(pg_url, redis_url, redis_prefix, tmp_path, outbox_poll_s=0.2),
             tmp_path / "b.log")
    try:
        a.start()
        await a.wait_ready()
        async with httpx.AsyncClient(base_url=a.url, timeout=10) as http:
            r = await http.post("/api/v1/work-orders", json=HAND_IN,
                                headers={"Authorization": f"Bearer {world.tokens['all']}"})
            assert r.status_code == 201, r.text
        await asyncio.sleep(1.0)
        assert receiver.hits == 0  # committed, not sent
        a.kill()
        b.start()
        await b.wait_ready()
        for _ in range(100):
            if len(receiver.events) >= 2:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.5)  # a few more sender rounds: nothing is sent twice
    finally:
        a.kill()
        b.kill()
        await delete_keys(redis_url, redis_prefix)
    assert [e["type"] for e in receiver.events] == ["work_order.created", "callback.scheduled"]
    assert receiver.hits == 2 and receiver.rejected == 0


async def test_reference_client_against_a_live_server(pg_url, redis_url, redis_prefix, tmp_path) -> None:
    db = await prepare_database(pg_url)
    clock = SystemClock()
    port = free_port()
    async with db.sessions() as session:
        world = await make_world(session, clock)
        await subscribe(session, clock, f"http://127.0.0.1:{port}/hook")
    await db.engine.dispose()
    proc = Proc("A", free_port(), cluster_env(pg_url, redis_url, redis_prefix, tmp_path, outbox_poll_s=0.2),
                tmp_path / "a.log")
    try:
        proc.start()
        await proc.wait_ready()
        run = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, str(REPO / "docs" / "examples" / "integration_client.py"), "--base", proc.url,
             "--token", world.tokens["all"], "--item", "SCJG-001", "--listen", str(port), "--secret", SECRET],
            capture_output=True, text=True, timeout=90)
    finally:
        proc.kill()
        await delete_keys(redis_url, redis_prefix)
    assert run.returncode == 0, run.stdout + run.stderr + proc.tail()
    assert "work_order.created → callback.scheduled → work_order.resolved" in run.stdout, run.stdout
