"""The smoke run of the docker/ stack: everything through nginx (HTTPS, WebSockets) as a browser
would, except what an operator does inside the containers (demo data, audit verify, backup).

Run by tests/deploy/test_stack.py; also by hand: `.venv/bin/python -m tests.deploy.smoke` (builds,
runs, prints each step's duration, then `down -v`; `--keep` leaves the stack up).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect

from helpdesk.demo_data import CITY, DEMO_PASSWORD
from tests.deploy.stack import BASE_IMAGE, Stack, Steps, build_images, podman, podman_env
from tests.journey.cluster import Client

ITEM = "SCJG-006"  # 食品经营许可（小餐饮）: remote inspection, served at the city by agent1
AGENT = "agent1"
def tiny_png() -> bytes:
    """A real 2×2 picture: the app re-encodes pictures, so a header alone is refused."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (2, 2), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


PNG = tiny_png()
UPLOAD_MAX = 20 * 1024 * 1024  # HELPDESK_UPLOAD_MAX_BYTES's default, which nginx.conf mirrors
PDF_TITLE = "现场勘验报告"
HEARTBEAT_S = 3.0  # HELPDESK_HEARTBEAT_INTERVAL_S in the smoke stack (stack.py)


class Entry:
    """What cluster.Client reads from a server process: here the one public address (nginx)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.ws_url = url.replace("https://", "wss://") + "/ws"


class Browser(Client):
    """cluster.Client over TLS through nginx; remembers which replica its socket landed on."""

    def __init__(self, stack: Stack) -> None:
        super().__init__(Entry(stack.url))  # type: ignore[arg-type]  # only .url and .ws_url are read
        self.tls = ssl.create_default_context(cafile=str(stack.ca))
        self.http = httpx.AsyncClient(base_url=stack.url, timeout=30, verify=self.tls)
        self.upstream = ""

    async def __aenter__(self) -> Browser:
        await super().__aenter__()
        return self

    async def connect(self, timeout: float = 15.0) -> dict[str, Any]:
        await self.disconnect()
        cookie = "; ".join(f"{k}={v}" for k, v in self.http.cookies.items())
        self.ws = await asyncio.wait_for(connect(self.proc.ws_url, ssl=self.tls, open_timeout=timeout,
                                                 additional_headers={"Cookie": cookie}), timeout)
        assert self.ws.response is not None
        self.upstream = self.ws.response.headers.get("X-Upstream", "").split(",")[-1].strip()
        self.closed = asyncio.Event()
        self.tasks = [asyncio.create_task(self._read(self.ws)), asyncio.create_task(self._ping(self.ws))]
        return await self.expect("welcome", timeout)


def replica_of(addresses: dict[str, str], upstream: str) -> str:
    host = upstream.rsplit(":", 1)[0]
    for name, address in addresses.items():
        if address == host:
            return name
    raise AssertionError(f"upstream {upstream!r} is neither replica ({addresses})")


async def signal_both_ways(room: str, applicant: Browser, agent: Browser, tag: str) -> None:
    offer = {"type": "offer", "sdp": f"v=0 smoke {tag}"}
    await applicant.send({"type": "signal", "room": room, "description": offer})
    got = await agent.expect("signal")
    assert got["description"] == offer, got
    await agent.send({"type": "signal", "room": room, "candidate": None})
    got = await applicant.expect("signal")
    assert got["candidate"] is None, got


async def journey(stack: Stack, steps: Steps) -> str:
    """The call across replicas; returns the replica left running."""
    # Looked up before any socket opens: a blocking call later would hold up the sockets' pings.
    addresses = {name: stack.address(name) for name in ("app1", "app2")}
    async with Browser(stack) as applicant, Browser(stack) as agent:
        with steps.step("applicant and agent sockets on different replicas"):
            await applicant.open_help(ITEM, name="刘晓倩")
            await applicant.connect()
            await agent.login(AGENT, DEMO_PASSWORD)
            for _ in range(20):  # no sticky sessions: reconnect until nginx picks the other replica
                await agent.connect()
                if agent.upstream != applicant.upstream:
                    break
            assert agent.upstream and applicant.upstream and agent.upstream != applicant.upstream, \
                (agent.upstream, applicant.upstream)
            a_replica, s_replica = replica_of(addresses, applicant.upstream), replica_of(addresses, agent.upstream)
            print(f"[deploy]   applicant on {a_replica}, agent on {s_replica}")

        with steps.step("help request, agent ready, offer accepted across replicas"):
            await agent.send({"type": "agent.state", "state": "ready"})
            await agent.expect("agent.state", state="ready")
            r = await applicant.http.post("/api/help/requests", json={"item": ITEM, "unit": CITY})
            assert r.status_code == 200, r.text
            offer = await agent.expect("offer")
            await agent.send({"type": "offer.accept", "ticket": offer["ticket"]})
            room = (await applicant.expect("room.joined"))["room"]
            assert (await agent.expect("room.joined"))["room"] == room

        with steps.step("signal relayed both ways"):
            await signal_both_ways(room, applicant, agent, "first")

        with steps.step("file uploaded and fetched; the body limit at nginx"):
            r = await applicant.http.post(f"/api/calls/{room}/files", files={"file": ("执照.png", PNG, "image/png")})
            assert r.status_code == 200, r.text
            shared = (await agent.expect("file"))["file"]
            got = await agent.http.get(shared["url"])  # re-encoded by the app: a picture, not the same bytes
            assert got.status_code == 200 and got.content.startswith(b"\x89PNG"), got.status_code
            # The largest file the app takes passes nginx; one byte more is the app's typed 413.
            big = b"%PDF-1.4\n" + b"%" * (UPLOAD_MAX - 9)
            r = await applicant.http.post(f"/api/calls/{room}/files",
                                          files={"file": ("big.pdf", big, "application/pdf")})
            assert r.status_code == 200, (r.status_code, r.text[:300])
            r = await applicant.http.post(f"/api/calls/{room}/files",
                                          files={"file": ("big.pdf", big + b"%" * 70_000, "application/pdf")})
            assert r.status_code == 413 and r.json()["error"] == "too_large", (r.status_code, r.text[:300])

        with steps.step("inspection report PDF rendered in a replica with the CJK font"):
            r = await agent.http.post("/api/inspections", json={"work_order": room, "room": room})
            assert r.status_code == 201, r.text
            insp = r.json()
            r = await applicant.http.post(f"/api/inspections/{insp['id']}/consent", json={"accept": True})
            assert r.status_code == 200, r.text
            for key in insp["point_keys"]:
                r = await agent.http.post(f"/api/inspections/{insp['id']}/points/{key}/mark",
                                          json={"result": "pass", "note": "现场符合要求"})
                assert r.status_code == 200, r.text
            r = await agent.http.post(f"/api/inspections/{insp['id']}/end", json={"outcome": "pass"})
            assert r.status_code == 200, r.text
            pdf = await applicant.http.get(f"/api/inspections/{insp['id']}/report.pdf")
            assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF"), (pdf.status_code, pdf.text[:300])
            text = (await asyncio.to_thread(subprocess.run, ["pdftotext", "-", "-"], input=pdf.content,
                                            capture_output=True, check=True)).stdout.decode()
            assert PDF_TITLE in text, text[:500]

        with steps.step("TURN over TLS with the app's credentials"):
            await turn_over_tls(stack, applicant)

        with steps.step("helpdesk audit verify inside a replica"):
            out = await asyncio.to_thread(stack.exec, "app2", "helpdesk", "audit", "verify")
            assert "intact" in out.stdout, out.stdout

        with steps.step(f"kill {a_replica} (the applicant's) mid-call: the call resumes on {s_replica}"):
            await asyncio.to_thread(podman, "kill", stack.container(a_replica))
            await asyncio.wait_for(applicant.closed.wait(), 15)  # nginx closes the client's side
            welcome = await applicant.connect()  # at once, as socket.js does
            assert replica_of(addresses, applicant.upstream) == s_replica, applicant.upstream
            assert welcome["room"]["room"] == room and welcome["room"]["resumed"] is True, welcome
            await signal_both_ways(room, applicant, agent, "after the kill")
            await applicant.send({"type": "chat", "room": room, "text": "网断了一下"})
            assert (await agent.expect("chat"))["text"] == "网断了一下"
            # Past the dead replica's ownership of the applicant (3 heartbeats): no drop, still one call.
            await asyncio.sleep(3.5 * HEARTBEAT_S)
            assert agent.seen("call.ended") == [] and applicant.seen("call.ended") == []
    return s_replica


async def turn_over_tls(stack: Stack, applicant: Browser) -> None:
    """An Allocate on coturn's TLS port with the time-limited credentials the app hands out: the
    certificate from the volume, the shared secret and the port all agree."""
    from aioice.turn import create_turn_endpoint

    r = await applicant.http.get("/api/ice-servers")
    assert r.status_code == 200, r.text
    servers = r.json()["ice_servers"]
    turns = next(s for s in servers if any(u.startswith("turns:") for u in s["urls"]))
    port = int(stack.vars["TURN_TLS_PORT"])
    assert any(f"127.0.0.1:{port}" in u for u in turns["urls"]), turns
    transport, _ = await asyncio.wait_for(create_turn_endpoint(
        asyncio.DatagramProtocol, server_addr=("127.0.0.1", port), username=turns["username"],
        password=turns["credential"], ssl=applicant.tls, transport="tcp"), 15)
    try:
        relayed = transport.get_extra_info("sockname")
        assert relayed is not None and int(stack.vars["TURN_MIN_PORT"]) <= relayed[1] <= int(
            stack.vars["TURN_MAX_PORT"]), relayed
    finally:
        transport.close()


def backup_and_restore(stack: Stack, steps: Steps, workdir: Path, replica: str) -> None:
    """docs/deploy.md's commands: pg_dump of the live database, restored into a fresh database that
    the audit check then verifies; the uploads volume archived and unpacked into a new volume."""
    with steps.step("backup: pg_dump, and restore into a new database"):
        dump = workdir / "helpdesk.dump"
        with dump.open("wb") as f:
            subprocess.run(["podman", "exec", stack.container("postgres"), "pg_dump", "-U", "helpdesk", "-Fc",
                            "helpdesk"], stdout=f, check=True, env=podman_env())
        assert dump.stat().st_size > 10_000, dump.stat().st_size
        stack.exec("postgres", "createdb", "-U", "helpdesk", "restored")
        with dump.open("rb") as f:
            subprocess.run(["podman", "exec", "-i", stack.container("postgres"), "pg_restore", "-U", "helpdesk",
                            "--no-owner", "-d", "restored"], stdin=f, check=True, env=podman_env())
        count = "SELECT count(*) FROM work_orders"
        live = stack.exec("postgres", "psql", "-U", "helpdesk", "-d", "helpdesk", "-Atc", count).stdout.strip()
        restored = stack.exec("postgres", "psql", "-U", "helpdesk", "-d", "restored", "-Atc", count).stdout.strip()
        assert live == restored and int(live) >= 1, (live, restored)
        url = f"postgresql+asyncpg://helpdesk:{stack.vars['POSTGRES_PASSWORD']}@postgres:5432/restored"
        out = stack.exec(replica, "helpdesk", "audit", "verify", "--url", url)
        assert "intact" in out.stdout, out.stdout

    with steps.step("backup: uploads volume archived and restored into a new volume"):
        archive = workdir / "uploads.tar"
        volume = f"{stack.project}_uploads"
        with archive.open("wb") as f:
            subprocess.run(["podman", "run", "--rm", "-v", f"{volume}:/data:ro", BASE_IMAGE, "tar", "-C", "/data",
                            "-c", "."], stdout=f, check=True, env=podman_env())
        target = f"{stack.project}_uploads_restored"
        podman("volume", "create", target)
        with archive.open("rb") as f:
            subprocess.run(["podman", "run", "--rm", "-i", "-v", f"{target}:/data", BASE_IMAGE, "tar", "-C", "/data",
                            "-x"], stdin=f, check=True, env=podman_env())
        listing = podman("run", "--rm", "-v", f"{target}:/data:ro", BASE_IMAGE, "find", "/data", "-type", "f").stdout
        assert "/data/calls/" in listing, listing


def run_smoke(stack: Stack, steps: Steps, build: bool = True) -> None:
    """The whole smoke run on an already created Stack; the caller takes it down."""
    if build:
        build_images(steps)
    with steps.step("start the stack (depends_on order, migrate first)"):
        stack.start_in_order()
    with steps.step("wait for health (replicas' /readyz, nginx)"):
        stack.wait_healthy("proxy")
        r = httpx.get(stack.url + "/readyz", verify=ssl.create_default_context(cafile=str(stack.ca)), timeout=10)
        assert r.status_code == 200 and r.json()["status"] == "ok", r.text
        image = podman("image", "inspect", "--format", "{{.Config.User}} {{.Config.Healthcheck.Test}}",
                       stack.app_image).stdout
        assert image.startswith("helpdesk ") and "/healthz" in image, image
        assert stack.exec("app1", "id", "-u").stdout.strip() == "10001"  # not root
    with steps.step("load the demo data (one-off, dev mode, inside a replica)"):
        stack.exec("app1", "env", "HELPDESK_DEV_MODE=true", "helpdesk", "demo", "--open-all-hours", timeout=300)
    survivor = asyncio.run(journey(stack, steps))
    backup_and_restore(stack, steps, stack.workdir, survivor)


def main() -> int:
    keep = "--keep" in sys.argv
    workdir = Path(tempfile.mkdtemp(prefix="helpdesk-smoke-"))
    stack = Stack(workdir)
    steps = Steps(stack.diagnostics)
    start = time.monotonic()
    try:
        run_smoke(stack, steps)
    finally:
        if not keep:
            with steps.step("down -v"):
                stack.down()
            shutil.rmtree(workdir, ignore_errors=True)
        print(steps.summary())
        print(f"[deploy] wall time {time.monotonic() - start:.0f} s" + (f"; left up: {stack.project}" if keep else ""))
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
