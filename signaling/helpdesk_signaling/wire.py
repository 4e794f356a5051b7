"""Frames after the handshake, straight from the server: no middleware chain, no task hop per message.

The ASGI middleware chain wraps `send`/`receive` once per layer, so every frame of a long-lived socket
would pass through each wrapper. `RawFrames` (the outermost middleware) keeps the server's own pair in
the scope; `wire_of` builds the socket's Wire from it. Under uvicorn's sans-I/O WebSocket protocol
(`--ws websockets-sansio`, what `helpdesk serve` runs) a text frame is written synchronously to the
transport while it is writable, so the reading task relays without awaiting; under back-pressure, or on
any other server, frames go through the awaited ASGI `send`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

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
    server's own are known); `write_now` writes a text frame without awaiting, or says it cannot."""

    __slots__ = ("_proto", "receive", "send")

    def __init__(self, receive: Receive, send: Send) -> None:
        self.receive = receive
        self.send = send
        proto = getattr(send, "__self__", None)
        self._proto = proto if _is_sansio(proto) else None

    def write_now(self, text: str) -> bool:
        """Write one text frame now if the transport takes it without waiting; False: use `send`."""
        p = self._proto
        if p is None or p.conn.state is not _OPEN or p.close_sent or not p.writable.is_set():
            return False
        p.conn.send_text(text.encode())
        p.transport.write(b"".join(p.conn.data_to_send()))
        return True

    @property
    def direct(self) -> bool:
        return self._proto is not None

    def shed(self) -> None:
        """After the handshake: let go of the upgrade request and response the server keeps (only its
        handshake reads them; a few KB per socket, for hours)."""
        p = self._proto
        if p is not None and p.handshake_complete:
            p.request = p.response = None


def wire_of(websocket: Any) -> Wire:
    """The Wire of an accepted Starlette WebSocket: the server's own callables when RawFrames kept
    them, else the (wrapped) ones the route got."""
    raw = websocket.scope.get(RAW_KEY)
    if raw is not None:
        return Wire(*raw)
    return Wire(websocket._receive, websocket._send)


_SANSIO: type | None = None
_OPEN: Any = None


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
