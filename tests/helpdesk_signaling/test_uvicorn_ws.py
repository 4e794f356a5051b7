"""The lean uvicorn WebSocket protocol: the ASGI behaviour the app relies on, and parking."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn
from helpdesk_signaling.uvicorn_ws import LeanWebSocketProtocol
from helpdesk_signaling.wire import Wire
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request

from .harness import free_port

KEY = "dGhlIHNhbXBsZSBub25jZQ=="


@dataclass
class App:
    """A raw ASGI app: /echo echoes, /deny refuses, /close closes 4001, /park parks, /flood fills the pipe."""

    disconnects: list[dict[str, Any]] = field(default_factory=list)
    parked: list[Wire] = field(default_factory=list)
    flooded: asyncio.Future[int] | None = None
    returned: int = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return
        assert (await receive())["type"] == "websocket.connect"
        path = scope["path"]
        if path == "/deny":
            await send({"type": "websocket.close", "code": 4403})
            return
        await send({"type": "websocket.accept", "headers": [(b"x-seen", b"1")]})
        if path == "/close":
            await send({"type": "websocket.close", "code": 4001, "reason": "bye"})
        elif path == "/park":
            self._park(Wire(receive, send))
        elif path == "/flood":
            await self._flood(Wire(receive, send))
        else:
            while (event := await receive())["type"] == "websocket.receive":
                await send({"type": "websocket.send", **{k: v for k, v in event.items() if k != "type"}})
            self.disconnects.append(event)
        self.returned += 1

    def _park(self, wire: Wire) -> None:
        def on_event(event: dict[str, Any]) -> None:
            if event["type"] == "websocket.disconnect":
                self.disconnects.append(event)
            else:
                assert wire.write_now("parked:" + event["text"])
            wire.resume()

        self.parked.append(wire)
        wire.park(on_event)

    async def _flood(self, wire: Wire) -> None:
        written = 0
        while written < 5000 and wire.write_now("x" * 65536):
            written += 1
        sending = asyncio.ensure_future(wire.send({"type": "websocket.send", "text": "last"}))
        await asyncio.sleep(0.2)
        assert self.flooded is not None
        self.flooded.set_result(written if not sending.done() else -1)
        await sending


Serve = Callable[..., Awaitable[tuple[App, str, uvicorn.Server]]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    servers: list[tuple[uvicorn.Server, asyncio.Task[None]]] = []

    async def start(**config: Any) -> tuple[App, str, uvicorn.Server]:
        app, port = App(), free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                               lifespan="off", ws=LeanWebSocketProtocol,
                                               **{"ws_per_message_deflate": False, **config}))
        task = asyncio.create_task(server.serve())
        servers.append((server, task))
        while not server.started:
            await asyncio.sleep(0.01)
        return app, f"ws://127.0.0.1:{port}", server

    yield start
    for server, task in servers:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


async def test_text_bytes_pings_and_the_accept_headers(serve: Serve) -> None:
    app, url, _ = await serve()
    async with connect(url + "/echo", ping_interval=None) as ws:
        assert ws.response.headers["x-seen"] == "1"
        await ws.send("héllo")
        assert await ws.recv() == "héllo"
        await ws.send(b"\x00\x01")
        assert await ws.recv() == b"\x00\x01"
        await asyncio.wait_for(await ws.ping(), 2)  # the server answers pings
        await ws.close(4000, "done")
    await asyncio.sleep(0.05)
    assert app.disconnects == [{"type": "websocket.disconnect", "code": 4000, "reason": "done"}]


async def test_close_before_accept_is_a_403_and_the_app_close_code_reaches_the_client(serve: Serve) -> None:
    _, url, _ = await serve()
    with pytest.raises(Exception, match="403"):
        await connect(url + "/deny")
    async with connect(url + "/close") as ws:
        with pytest.raises(ConnectionClosed) as info:
            await ws.recv()
    assert info.value.rcvd is not None and (info.value.rcvd.code, info.value.rcvd.reason) == (4001, "bye")


async def test_an_oversize_message_closes_1009(serve: Serve) -> None:
    app, url, _ = await serve(ws_max_size=1024)
    async with connect(url + "/echo") as ws:
        await ws.send("y" * 2000)
        with pytest.raises(ConnectionClosed) as info:
            await ws.recv()
    assert info.value.rcvd is not None and info.value.rcvd.code == 1009
    await asyncio.sleep(0.05)
    assert [d["code"] for d in app.disconnects] == [1009]


async def test_a_client_that_does_not_answer_pings_is_dropped(serve: Serve) -> None:
    _, url, _ = await serve(ws_ping_interval=0.1, ws_ping_timeout=0.2)
    host, port = url.removeprefix("ws://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write((f"GET /echo HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    assert b"101" in await reader.readline()
    seen = await asyncio.wait_for(reader.read(), 3)  # a ping, a close 1011, then EOF
    assert seen[-1:] != b"" and b"\x89" in seen and b"\x03\xf3" in seen  # 0x89: ping; 1011
    writer.close()


async def test_back_pressure_makes_send_wait_until_the_client_reads(serve: Serve) -> None:
    app, url, _ = await serve()
    app.flooded = asyncio.get_running_loop().create_future()
    async with connect(url + "/flood", max_size=None, max_queue=1) as ws:
        written = await asyncio.wait_for(app.flooded, 20)
        assert 0 < written < 5000  # write_now said no once the transport was full; send() waited
        for _ in range(written):
            await asyncio.wait_for(ws.recv(), 10)
        assert await asyncio.wait_for(ws.recv(), 10) == "last"


async def test_a_parked_socket_keeps_no_task_and_hears_every_event_once(serve: Serve) -> None:
    app, url, _ = await serve()
    async with connect(url + "/park", ping_interval=None) as ws:
        await asyncio.sleep(0.05)
        assert app.returned == 1  # the app's coroutine is over; the socket lives on
        running = [t for t in asyncio.all_tasks() if "LeanWebSocketProtocol" in repr(t.get_coro())]
        assert running == []
        for i in range(3):
            await ws.send(f"m{i}")
        assert [await ws.recv() for _ in range(3)] == ["parked:m0", "parked:m1", "parked:m2"]
        await ws.close(4002)
    await asyncio.sleep(0.05)
    assert [d["code"] for d in app.disconnects] == [4002]


async def test_shutdown_closes_a_parked_socket_1012(serve: Serve) -> None:
    app, url, server = await serve()
    ws = await connect(url + "/park", ping_interval=None)
    await asyncio.sleep(0.05)
    server.should_exit = True
    with pytest.raises(ConnectionClosed) as info:
        await asyncio.wait_for(ws.recv(), 5)
    assert info.value.rcvd is not None and info.value.rcvd.code == 1012
    await asyncio.sleep(0.05)
    assert [d["code"] for d in app.disconnects] == [1012]


async def test_the_upgrade_request_is_let_go_after_the_handshake(serve: Serve) -> None:
    """uvicorn's own protocol keeps each socket's request (and its headers) in the handshake parser."""
    _, url, _ = await serve()
    sockets = [await connect(url + "/park", ping_interval=None, additional_headers={"X-Big": "z" * 2000})
               for _ in range(5)]
    await sockets[-1].send("up")
    assert await sockets[-1].recv() == "parked:up"
    gc.collect()
    requests = {id(o) for o in gc.get_objects() if isinstance(o, Request)}
    assert requests == {id(ws.request) for ws in sockets}  # the clients' own, none on the server side
    for ws in sockets:
        await ws.close()


@pytest.mark.parametrize("deflate", [False, True], ids=["plain", "permessage-deflate"])
async def test_frames_written_now_reach_the_client_whole_at_every_length_boundary(serve: Serve, deflate: bool) -> None:
    """write_now builds a plain frame's header itself (7-bit, 16-bit and 64-bit lengths); with
    compression negotiated it leaves the frame to the protocol object."""
    _, url, _ = await serve(ws_per_message_deflate=deflate)
    sizes = [0, 1, 125, 126, 127, 65535, 65536, 70000]
    async with connect(url + "/park", ping_interval=None, max_size=None,
                       compression="deflate" if deflate else None) as ws:
        assert bool(ws.protocol.extensions) is deflate
        for n in sizes:
            body = "é" * (n // 2) + "x" * (n % 2)  # two bytes a character: lengths count bytes, not characters
            await ws.send(body)
            assert await asyncio.wait_for(ws.recv(), 10) == "parked:" + body


def test_the_frame_header_is_what_websockets_writes() -> None:
    from helpdesk_signaling.wire import text_frame_header
    from websockets.frames import Frame, Opcode

    for n in (0, 125, 126, 65535, 65536, 1 << 20):
        data = b"a" * n
        assert text_frame_header(n) + data == Frame(Opcode.TEXT, data).serialize(mask=False)
