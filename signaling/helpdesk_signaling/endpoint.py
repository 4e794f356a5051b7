"""The WebSocket endpoint: typed messages in, relays and typed errors out; bad input never kills it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol

from starlette.websockets import WebSocket, WebSocketDisconnect

from helpdesk_signaling.errors import SignalingError
from helpdesk_signaling.hub import CLOSE_HEARTBEAT, CLOSE_SLOW, ExpiredRoom, Hub, Room
from helpdesk_signaling.protocol import (
    ALLOWED_ROLES,
    Annotate,
    CallEnded,
    ClientMessage,
    MediaState,
    Ping,
    Pong,
    Reconnect,
    Signal,
    Welcome,
    dump,
    error,
    parse_client_message,
    relay_of,
    signal_envelope,
)
from helpdesk_signaling.wire import Wire, wire_of

log = logging.getLogger(__name__)

AppHandler = Callable[[str, str, ClientMessage], Awaitable[None]]


CLOSE_RESTART = 1012  # service restart: the client reconnects at once (to another process)


class Observer(Protocol):
    """Counts what the endpoint sees (the app's metrics); every method must be cheap and never raise."""

    def message(self, type_: str | None) -> None: ...

    def error(self, code: str) -> None: ...

    def drained(self, sockets: int) -> None: ...


class Clock(Protocol):
    """Structurally the same as helpdesk.clock.Clock (this package does not import helpdesk)."""

    def now(self) -> datetime: ...


def _log_outage(exc: BaseException, message: str, *args: object) -> None:
    """A lost backend (Redis) is an expected outage: one warning line; anything else a traceback."""
    if (isinstance(exc, OSError | TimeoutError) or type(exc).__module__.startswith("redis")
            or getattr(exc, "code", None) == "unavailable"):
        log.warning(message + " (%s: %s)", *args, type(exc).__name__, exc)
    else:
        log.exception(message, *args)


class SocketConnection:
    """One socket's outbound side. Frames are written at once while the transport takes them (from
    whichever task delivers: usually the peer's reading task); under back-pressure they wait in an
    outbox written by a task that lives only while the outbox is not empty, so order is kept."""

    __slots__ = (
        "_closing",
        "_out",
        "_writer",
        "from_suffix",
        "id",
        "max_queue",
        "member",
        "reading",
        "seen",
        "silent",
        "timer",
        "touched",
        "wire",
    )

    def __init__(self, wire: Wire, member: str, max_queue: int = 512) -> None:
        self.id = uuid.uuid4().hex
        self.member = member
        self.wire = wire
        self.max_queue = max_queue
        self.from_suffix = ',"from":' + json.dumps(member, ensure_ascii=False) + "}"  # for relayed signals
        self.seen = 0.0  # loop time of the last frame read (the heartbeat check)
        self.reading = False  # the reader is waiting for a frame (only then may the check cancel it)
        self.silent = False  # the check found the peer silent and cancelled the reader
        self.timer: asyncio.TimerHandle | None = None
        self.touched = 0.0  # when a ping last refreshed the member's liveness in the hub
        self._out: deque[str | tuple[int, str]] | None = None  # None: nothing waiting, write directly
        self._closing = False
        self._writer: asyncio.Task[None] | None = None

    @property
    def closing(self) -> bool:
        return self._closing

    def deliver(self, text: str) -> bool:
        if self._closing:
            return False
        out = self._out
        if out is None:
            if self.wire.write_now(text):
                return True
            out = self._out = deque()
        elif len(out) >= self.max_queue:
            log.warning("member %s does not read its socket; closing it", self.member)
            self._closing = True
            out.clear()  # the close goes first: what the client did not read is lost anyway
            out.append((CLOSE_SLOW, "too slow"))
            return False
        out.append(text)
        self._flush_later()
        return True

    def hold(self, first: str) -> None:
        """Queue `first` and whatever follows until release() (the welcome, while the hub registers)."""
        self._out = deque([first])

    def release(self) -> None:
        """Write what was held, directly while the transport takes it."""
        out = self._out
        while out and isinstance(out[0], str) and self.wire.write_now(out[0]):
            out.popleft()
        if out:
            self._flush_later()
        else:
            self._out = None

    async def close(self, code: int, reason: str) -> None:
        if self._closing:
            return
        self._closing = True
        if self._out is None:
            self._out = deque()
        self._out.append((code, reason))
        self._flush_later()

    def _flush_later(self) -> None:
        if self._writer is None:
            self._writer = asyncio.create_task(self._flush(), name=f"ws-writer-{self.member}")

    async def _flush(self) -> None:
        out = self._out
        try:
            while out:
                item = out[0]
                if isinstance(item, tuple):
                    out.clear()
                    await self.wire.send({"type": "websocket.close", "code": item[0], "reason": item[1]})
                    return
                await self.wire.send({"type": "websocket.send", "text": item})
                out.popleft()
        except (WebSocketDisconnect, RuntimeError, OSError):  # the peer is gone (OSError: uvicorn's)
            self._closing = True
        finally:
            self._writer = None
            if not out:
                self._out = None  # drained: back to direct writes

    async def finish(self, drain_s: float = 0.0) -> None:
        """Stop writing (the reader has seen the disconnect), after up to drain_s for queued messages."""
        self._closing = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        writer = self._writer
        if writer is None:
            return
        if drain_s:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(writer), drain_s)
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await writer


class SignalingEndpoint:
    """Serves one member's socket: welcome, heartbeat, relay, app messages, drop handling."""

    def __init__(self, hub: Hub, clock: Clock, max_message_bytes: int, heartbeat_s: float, grace_s: float,
                 app_handler: AppHandler) -> None:
        self.hub = hub
        self.clock = clock
        self.max_message_bytes = max_message_bytes
        self.heartbeat_s = heartbeat_s
        self.grace_s = grace_s
        self.app_handler = app_handler
        self.close_timeout_s = 5.0  # how long a silent peer may take to answer our close frame
        self.observer: Observer | None = None
        self.connections: set[SocketConnection] = set()  # this process's live sockets
        self.draining = False
        self._all_gone = asyncio.Event()  # set when draining and the last socket has gone

    def now(self) -> float:
        return self.clock.now().timestamp()

    async def serve(self, websocket: WebSocket, member: str, role: str,
                    welcome_extra: dict[str, Any] | None = None) -> None:
        """Run the socket until it closes; the hub learns of the drop in every case.

        If the hub's backend is down (Redis lost) the client gets `error unavailable` and a 1011 close,
        and reconnects with backoff until it is back.
        """
        welcome = {"member": member, "role": role, "heartbeat_s": self.heartbeat_s, **(welcome_extra or {})}
        welcome_text = dump(Welcome.model_validate(welcome))  # the app's mistake fails before accept
        await websocket.accept()
        if self.draining:  # this process is shutting down: straight to another one
            await websocket.send_text(dump(Reconnect()))
            await websocket.close(CLOSE_RESTART, "service restart")
            return
        wire = wire_of(websocket)
        wire.shed()
        conn = SocketConnection(wire, member)
        conn.hold(welcome_text)  # first: anything relayed during connect() waits behind it
        try:
            await self.hub.connect(member, conn, now=self.now())
        except Exception as exc:
            _log_outage(exc, "signaling hub unavailable; refusing member %s for now", member)
            await websocket.send_text(dump(error("unavailable", "signaling is unavailable; retry shortly")))
            await websocket.close(1011, "unavailable")
            return
        conn.release()
        self.connections.add(conn)
        try:
            await self._read(conn, member, role)
        finally:
            self.connections.discard(conn)
            await conn.finish()
            try:
                await self.hub.disconnect(member, conn, now=self.now(), grace_s=self.grace_s)
            except Exception as exc:
                _log_outage(exc, "could not record the drop of member %s", member)
            if self.draining and not self.connections:
                self._all_gone.set()

    async def _read(self, conn: SocketConnection, member: str, role: str) -> None:
        """The socket's one task: read, handle, repeat. A timer (not a task) checks the heartbeat: a
        socket silent for more than two heartbeats is closed, and if the close handshake does not
        finish within close_timeout_s the dead peer is given up."""
        loop = asyncio.get_running_loop()
        me = asyncio.current_task()
        assert me is not None
        limit = 2 * self.heartbeat_s

        def check() -> None:
            now = loop.time()
            if now - conn.seen <= limit or not conn.reading:  # busy handling: look again later
                conn.timer = loop.call_at(max(conn.seen + limit, now + 1.0) + 0.01, check)
                return
            conn.timer = None
            conn.silent = True
            me.cancel()

        receive, handle, max_bytes = conn.wire.receive, self.handle, self.max_message_bytes
        conn.seen = loop.time()
        conn.timer = loop.call_at(conn.seen + limit + 0.01, check)
        while True:
            conn.reading = True
            try:
                event = await receive()
            except asyncio.CancelledError:
                if not conn.silent:
                    raise
                me.uncancel()
                await self._close_silent(conn, member, loop.time() - conn.seen)
                return
            conn.reading = False
            if event["type"] == "websocket.disconnect":
                return
            conn.seen = loop.time()
            raw = event.get("text")
            if raw is None:
                raw = event.get("bytes") or b""
            elif (envelope := signal_envelope(raw, max_bytes)) is not None:  # the relay's fast path
                await self._relay_signal(conn, member, envelope[0], raw, to=envelope[1])
                continue
            await handle(conn, member, role, raw)  # once closing, the close frame ends this

    async def _close_silent(self, conn: SocketConnection, member: str, idle: float) -> None:
        log.info("member %s silent for %.0f s: closing", member, idle)
        await conn.close(CLOSE_HEARTBEAT, "heartbeat timeout")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.close_timeout_s):
                while (await conn.wire.receive())["type"] != "websocket.disconnect":
                    pass

    async def handle(self, conn: SocketConnection, member: str, role: str, raw: str | bytes) -> None:
        """One inbound message; every failure becomes a typed error on this socket."""
        if type(raw) is str:
            fast = signal_envelope(raw, self.max_message_bytes)
            if fast is not None:
                await self._relay_signal(conn, member, fast[0], raw, fast[1])
                return
        ref: str | None = None
        try:
            try:
                msg = parse_client_message(raw, self.max_message_bytes)
            except SignalingError:
                self._count(None)  # unreadable
                raise
            ref = msg.type
            self._count(ref)
            allowed = ALLOWED_ROLES.get(msg.type)
            if allowed is not None and role not in allowed:
                raise SignalingError("forbidden", f"a {role} may not send {msg.type}")
            if isinstance(msg, Ping):
                now = self.now()
                if now - conn.touched >= 1.5 * self.heartbeat_s:  # every other ping is enough (TTL 3×)
                    conn.touched = now
                    await self.hub.touch(member, conn, now)
                conn.deliver(dump(Pong()))
            elif isinstance(msg, Signal | MediaState | Annotate):
                await self.hub.relay(msg.room, member, relay_of(msg, member, role), to=msg.to)
            else:
                await self.app_handler(member, role, msg)
        except SignalingError as exc:
            self._count_error(exc.code)
            conn.deliver(dump(error(exc.code, exc.message, exc.ref or ref)))
        except Exception as exc:  # the app's own error family carries a code: answer with it
            code = getattr(exc, "code", None)
            if isinstance(code, str):
                self._count_error(code)
                conn.deliver(dump(error(code, str(getattr(exc, "message", exc)), ref)))
                return
            log.exception("signaling handler failed (member %s, type %s)", member, ref)
            self._count_error("internal")
            conn.deliver(dump(error("internal", "the server could not handle this message", ref)))

    async def _relay_signal(self, conn: SocketConnection, member: str, room: str, raw: str,
                            to: str | None = None) -> None:
        """The fast path: the sender's bytes, plus `from`, to the other member of the room (or `to`)."""
        self._count("signal")
        try:
            await self.hub.relay(room, member, raw.rstrip()[:-1] + conn.from_suffix, to=to)
        except SignalingError as exc:
            self._count_error(exc.code)
            conn.deliver(dump(error(exc.code, exc.message, "signal")))
        except Exception:
            log.exception("signal relay failed (member %s)", member)
            self._count_error("internal")
            conn.deliver(dump(error("internal", "the server could not handle this message", "signal")))

    def _count(self, type_: str | None) -> None:
        if self.observer is not None:
            self.observer.message(type_)

    def _count_error(self, code: str) -> None:
        if self.observer is not None:
            self.observer.error(code)

    async def drain(self, timeout_s: float = 5.0) -> int:
        """Shutdown: every socket gets `reconnect` then close 1012 (clients reconnect at once, to
        another process behind the proxy); waits up to timeout_s for them to go. The hub records each
        as a drop, so a call keeps its room for the grace and resumes on the other process.
        Idempotent; returns how many sockets were told."""
        self.draining = True
        told = [c for c in list(self.connections) if not c.closing]
        text = dump(Reconnect())
        for conn in told:
            conn.deliver(text)
            await conn.close(CLOSE_RESTART, "service restart")
        if told:
            log.info("shutdown: %d sockets told to reconnect elsewhere", len(told))
            if self.observer is not None:
                self.observer.drained(len(told))
        if self.connections:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._all_gone.wait(), timeout_s)
        return len(told)

    async def sweep(self) -> list[ExpiredRoom]:
        """Close rooms whose grace ran out; the app ends each call (see end_call) and records the drop."""
        return await self.hub.expire(self.now())

    async def end_call(self, room: Room | str, reason: str, by: str | None = None) -> Room | None:
        """Close the room (idempotent) and tell both members `call.ended`; None if no such room.

        Pass the Room of an ExpiredRoom (already closed by the sweep) or a room id.
        """
        closed = await self.hub.close_room(room if isinstance(room, str) else room.id)
        found = closed if isinstance(room, str) else room
        if found is None:
            return None
        msg = CallEnded(room=found.id, work_order=found.metadata.get("work_order"), reason=reason, by=by)
        for m in found.members:
            await self.hub.send(m, msg)
        return found
