"""A small FastAPI app with the endpoint mounted, served by uvicorn in the test's event loop."""

from __future__ import annotations

import asyncio
import json
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI, WebSocket
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from helpdesk_signaling.endpoint import SignalingEndpoint
from helpdesk_signaling.errors import SignalingError
from helpdesk_signaling.hub import Hub
from helpdesk_signaling.protocol import ClientMessage
from helpdesk_signaling.wire import RawFrames
from redis.exceptions import RedisError
from websockets.asyncio.client import ClientConnection, connect

MAX_BYTES = 4096
STATIC = Path(__file__).parents[2] / "signaling/helpdesk_signaling/static"
# A bare page driving rtc.js the way the applicant page and the console do.
CALL_PAGE = """<!doctype html><meta charset="utf-8"><video id="remote" autoplay muted></video>
<script type="module">
import { HelpdeskSocket, CallPeer } from "/static/signaling/rtc.js";
const q = new URLSearchParams(location.search);
const sock = new HelpdeskSocket({ url: `ws://${location.host}/ws?member=${q.get("member")}&role=${q.get("role")}`,
                                  baseMs: 100 });
window.sock = sock; window.seen = []; window.remoteScreen = null;
sock.on("*", (m, type) => window.seen.push(type));
sock.on("error", (m) => console.log("server error", JSON.stringify(m)));
// Create the CallPeer synchronously in the handler, so no signal after room.joined is missed.
function join(r) {
  if (window.call) return;
  const call = new CallPeer({ socket: sock, room: r.room, polite: r.polite, iceServers: r.ice_servers });
  window.call = call;
  call.on("remotescreen", ({ stream }) => { window.remoteScreen = stream; });
  call.on("remotestream", ({ stream }) => { document.getElementById("remote").srcObject = stream; });
  call.on("error", (e) => console.log("call error", String(e)));
  call.startLocalMedia();
}
sock.on("room.joined", join);
sock.on("welcome", (w) => w.room && join(w.room));
sock.connect();
</script>"""


class AppFailure(Exception):
    """Stands in for the app's own error family (HelpdeskError carries .code and .message)."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.message, self.code = message, code


@dataclass
class Stack:
    url: str
    endpoint: SignalingEndpoint
    hub: Hub
    handled: list[tuple[str, str, ClientMessage]] = field(default_factory=list)
    ended: list[str] = field(default_factory=list)  # members whose socket's on_end ran
    server: uvicorn.Server | None = None
    task: asyncio.Task[None] | None = None
    http: str = ""

    async def client(self, member: str, role: str = "applicant", **extra: Any) -> Client:
        ws = await connect(f"{self.url}?member={member}&role={role}", max_size=2**22)
        client = Client(ws)
        welcome = await client.recv()
        assert welcome["type"] == "welcome" and welcome["member"] == member, welcome
        client.welcome = welcome
        return client

    async def stop(self) -> None:
        assert self.server is not None and self.task is not None
        self.server.should_exit = True
        await asyncio.wait_for(self.task, 10)


class Client:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.welcome: dict[str, Any] = {}

    async def send(self, msg: dict[str, Any] | str) -> None:
        await self.ws.send(msg if isinstance(msg, str) else json.dumps(msg))

    async def recv(self, timeout: float = 3.0) -> dict[str, Any]:
        return json.loads(await asyncio.wait_for(self.ws.recv(), timeout))

    async def ask(self, msg: dict[str, Any] | str) -> dict[str, Any]:
        await self.send(msg)
        return await self.recv()

    async def alive(self) -> None:
        assert await self.ask({"type": "ping"}) == {"type": "pong"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def start_stack(hub: Hub, clock: Any, *, heartbeat_s: float = 5.0, grace_s: float = 30.0,
                      max_bytes: int = MAX_BYTES) -> Stack:
    stack: Stack

    async def handler(member: str, role: str, msg: ClientMessage) -> None:
        stack.handled.append((member, role, msg))
        if msg.type == "hangup":
            raise SignalingError("conflict", "the call already ended")
        if msg.type == "chat" and msg.text == "boom":
            raise RuntimeError("handler bug")
        if msg.type == "chat" and msg.text == "app-error":
            raise AppFailure("no such work order", "not_found")

    endpoint = SignalingEndpoint(hub, clock, max_bytes, heartbeat_s, grace_s, handler)
    app = FastAPI()

    @app.websocket("/ws")
    async def ws(websocket: WebSocket, member: str, role: str) -> None:
        try:
            rooms = await hub.rooms_of(member)
        except RedisError:
            rooms = []  # the endpoint itself reports the outage to the client
        polite = member.startswith("a:")
        extra: dict[str, Any] = {}
        if rooms:
            role_in_call = "applicant" if polite else "agent"
            extra["room"] = {"room": rooms[0].id, "role": role_in_call, "polite": polite, "peer": {},
                             "resumed": member in rooms[0].dropped}

        async def on_end() -> None:
            stack.ended.append(member)

        await endpoint.serve(websocket, member, role, extra, on_end=on_end)

    @app.get("/call")
    async def call_page() -> HTMLResponse:
        return HTMLResponse(CALL_PAGE)

    app.mount("/static/signaling", StaticFiles(directory=STATIC), name="signaling-static")
    app.add_middleware(RawFrames)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off",
                            ws="helpdesk_signaling.uvicorn_ws:LeanWebSocketProtocol")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    stack = Stack(f"ws://127.0.0.1:{port}/ws", endpoint, hub, server=server, task=task)
    stack.http = f"http://127.0.0.1:{port}"
    return stack
