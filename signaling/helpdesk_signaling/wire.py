"""Frames after the handshake, straight from the server: no middleware chain, no task hop per message.

The ASGI middleware chain wraps `send`/`receive` once per layer, so every frame of a long-lived socket
would pass through each wrapper. `RawFrames` (the outermost middleware) keeps the server's own pair in
the scope; `wire_of` builds the socket's Wire from it. Under uvicorn's sans-I/O WebSocket protocol
(`--ws websockets-sansio`) or its lean form (uvicorn_ws.py, what `helpdesk serve` runs) a text frame is
written synchronously to the transport while it is writable, so the reading task relays without
awaiting; under back-pressure, or on any other server, frames go through the awaited ASGI `send`.
Under the lean protocol an accepted socket can also be parked: no task while it is idle.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Awaitable, Callable, Coroutine, MutableMapping
from contextvars import Context
from typing import Any, cast

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
RAW_KEY = "helpdesk.raw_frames"


ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class RawFrames:
    """ASGI middleware (add it outermost): remembers the server's receive/send of each WebSocket, and
    hands the WebSocket paths in `sockets` straight to their handler, past the rest of the chain: a
    socket lives for hours, and every layer's coroutine frame would live (and be passed) with it."""

    def __init__(self, app: ASGIApp, sockets: dict[str, ASGIApp] | None = None) -> None:
        self.app = app
        self.sockets = sockets or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            scope[RAW_KEY] = (receive, send)
            handler = self.sockets.get(scope["path"])
            if handler is not None:
                await handler(scope, receive, send)
                return
        await self.app(scope, receive, send)


class Wire:
    """One accepted socket's frames: `receive` and `send` are the ASGI callables (unwrapped when the
    server's own are known); `write_now` writes a text frame without awaiting, or says it cannot.
    Under the lean protocol (uvicorn_ws.LeanWebSocketProtocol) the socket can also be parked."""

    __slots__ = ("_lean", "_proto", "receive", "send")

    def __init__(self, receive: Receive, send: Send) -> None:
        self.receive = receive
        self.send = send
        proto = getattr(send, "__self__", None)
        self._lean: Any = proto if _is_lean(proto) else None
        self._proto = proto if self._lean is None and _is_sansio(proto) else None

    def write_now(self, text: str) -> bool:
        """Write one text frame now if the transport takes it without waiting; False: use `send`."""
        p = self._lean
        if p is not None:
            if not p.writable_now():
                return False
        else:
            p = self._proto
            if p is None or p.conn.state is not _OPEN or p.close_sent or not p.writable.is_set():
                return False
        data = text.encode()
        if p.conn.extensions:  # permessage-deflate: the protocol object compresses
            p.conn.send_text(data)
            p.transport.write(b"".join(p.conn.data_to_send()))
        else:  # a server's frame is a header and the payload as is (unmasked): no Frame object per message
            p.transport.write(text_frame_header(len(data)) + data)
        return True

    @property
    def direct(self) -> bool:
        return self._proto is not None or self._lean is not None

    @property
    def can_park(self) -> bool:
        return self._lean is not None

    def park(self, on_event: Callable[[Message], None]) -> None:
        """Events go to on_event from now on (see LeanWebSocketProtocol.park); the app's coroutine may
        return. Call resume() after handling each message."""
        assert self._lean is not None
        self._lean.park(on_event)

    def resume(self) -> None:
        if self._lean is not None:
            self._lean.resume_reading()

    def abort(self) -> None:
        if self._lean is not None:
            self._lean.abort()

    def spawn(self, coro: Coroutine[Any, Any, None], context: Context | None = None) -> asyncio.Task[None]:
        """A task the server waits for at shutdown when it can (the lean protocol's), else a plain one."""
        if self._lean is not None:
            return cast(asyncio.Task[None], self._lean.spawn(coro, context))
        return asyncio.get_running_loop().create_task(coro, context=context)

    def shed(self) -> None:
        """After the handshake: let go of the upgrade request and response the server keeps (only its
        handshake reads them; a few KB per socket, for hours). The lean protocol keeps neither."""
        p = self._proto
        if p is not None and p.handshake_complete:
            p.request = p.response = None


def text_frame_header(size: int) -> bytes:
    """The header of a final, unmasked, uncompressed text frame of `size` bytes (RFC 6455 5.2)."""
    if size < 126:
        return bytes((0x81, size))
    if size < 1 << 16:
        return struct.pack("!BBH", 0x81, 126, size)
    return struct.pack("!BBQ", 0x81, 127, size)


def wire_of(websocket: Any) -> Wire:
    """The Wire of an accepted Starlette WebSocket: the server's own callables when RawFrames kept
    them, else the (wrapped) ones the route got."""
    raw = websocket.scope.get(RAW_KEY)
    if raw is not None:
        return Wire(*raw)
    return Wire(websocket._receive, websocket._send)


_LEAN: type | None = None
_SANSIO: type | None = None
_OPEN: Any = None


def _is_lean(proto: Any) -> bool:
    global _LEAN
    if proto is None:
        return False
    if _LEAN is None:
        try:
            from helpdesk_signaling.uvicorn_ws import LeanWebSocketProtocol
        except ImportError:  # no uvicorn here
            return False
        _LEAN = LeanWebSocketProtocol
    return isinstance(proto, _LEAN)


def _is_sansio(proto: Any) -> bool:
    global _SANSIO, _OPEN
    if proto is None:
        return False
    if _SANSIO is None:
        try:
            from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
            from websockets.protocol import State
        except ImportError:  # another server, or uvicorn without the sans-I/O protocol
            return False
        _SANSIO, _OPEN = WebSocketsSansIOProtocol, State.OPEN
    return isinstance(proto, _SANSIO)
