"""The WebSocket endpoint: typed messages in, relays and typed errors out; bad input never kills it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from helpdesk_signaling.errors import SignalingError
from helpdesk_signaling.hub import CLOSE_HEARTBEAT, CLOSE_SLOW, ExpiredRoom, Hub, Room
from helpdesk_signaling.protocol import (
    ALLOWED_ROLES,
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
)

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
    """A Starlette WebSocket behind a bounded outbox, written by one task so order is kept."""

    def __init__(self, websocket: WebSocket, member: str, max_queue: int = 512) -> None:
        self.id = uuid.uuid4().hex
        self.member = member
        self._ws = websocket
        self._queue: asyncio.Queue[str | tuple[int, str]] = asyncio.Queue(max_queue)
        self._closing = False
        self._writer: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin writing what was queued (the welcome first) and whatever follows."""
        self._writer = asyncio.create_task(self._write(), name=f"ws-writer-{self.member}")

    @property
    def closing(self) -> bool:
        return self._closing

    def deliver(self, text: str) -> bool:
        if self._closing:
            return False
        try:
            self._queue.put_nowait(text)
        except asyncio.QueueFull:
            log.warning("member %s does not read its socket; closing it", self.member)
            self._closing = True
            self._queue.get_nowait()  # make room for the close request
            self._queue.put_nowait((CLOSE_SLOW, "too slow"))
            return False
        return True

    async def close(self, code: int, reason: str) -> None:
        if self._closing:
            return
        self._closing = True
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait((code, reason))

    async def _write(self) -> None:
        while True:
            item = await self._queue.get()
            try:
                if isinstance(item, tuple):
                    if self._ws.application_state == WebSocketState.CONNECTED:
                        await self._ws.close(item[0], item[1])
                    return
                await self._ws.send_text(item)
            except (WebSocketDisconnect, RuntimeError, OSError):
                self._closing = True
                return

    async def finish(self, drain_s: float = 0.0) -> None:
        """Stop writing (the reader has seen the disconnect), after up to drain_s for queued messages."""
        self._closing = True
        if self._writer is None:
            return
        if drain_s:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._writer), drain_s)
        self._writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._writer


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
        conn = SocketConnection(websocket, member)
        conn.deliver(welcome_text)  # queued: anything relayed during connect() follows it
        try:
            await self.hub.connect(member, conn, now=self.now())
        except Exception as exc:
            _log_outage(exc, "signaling hub unavailable; refusing member %s for now", member)
            await websocket.send_text(dump(error("unavailable", "signaling is unavailable; retry shortly")))
            await websocket.close(1011, "unavailable")
            return
        conn.start()
        self.connections.add(conn)
        try:
            await self._loop(websocket, conn, member, role)
        finally:
            self.connections.discard(conn)
            await conn.finish()
            try:
                await self.hub.disconnect(member, conn, now=self.now(), grace_s=self.grace_s)
            except Exception as exc:
                _log_outage(exc, "could not record the drop of member %s", member)
            if self.draining and not self.connections:
                self._all_gone.set()

    async def _loop(self, websocket: WebSocket, conn: SocketConnection, member: str, role: str) -> None:
        last_seen = [asyncio.get_running_loop().time()]
        me = asyncio.current_task()
        assert me is not None
        watchdog = asyncio.create_task(self._watch(conn, member, last_seen, me))
        try:
            while True:
                try:
                    event = await websocket.receive()
                except asyncio.CancelledError:
                    if watchdog.done() and me.uncancel() == 0:
                        return  # the peer never answered our close frame: give up on it
                    raise
                if event["type"] == "websocket.disconnect":
                    return
                last_seen[0] = asyncio.get_running_loop().time()
                raw = event.get("text")
                if raw is None:
                    raw = event.get("bytes") or b""
                await self.handle(conn, member, role, raw)  # once closing, the close frame ends this
        finally:
            watchdog.cancel()

    async def _watch(self, conn: SocketConnection, member: str, last_seen: list[float],
                     reader: asyncio.Task[Any]) -> None:
        """Close a socket silent for more than two heartbeats (one timer per socket, not per message);
        if the close handshake does not finish within close_timeout_s, stop waiting for the dead peer."""
        limit = 2 * self.heartbeat_s
        loop = asyncio.get_running_loop()
        while True:
            idle = loop.time() - last_seen[0]
            if idle > limit:
                log.info("member %s silent for %.0f s: closing", member, idle)
                await conn.close(CLOSE_HEARTBEAT, "heartbeat timeout")
                await asyncio.sleep(self.close_timeout_s)
                reader.cancel()
                return
            await asyncio.sleep(limit - idle + 0.01)

    async def handle(self, conn: SocketConnection, member: str, role: str, raw: str | bytes) -> None:
        """One inbound message; every failure becomes a typed error on this socket."""
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
                await self.hub.touch(member, conn, self.now())
                conn.deliver(dump(Pong()))
            elif isinstance(msg, Signal | MediaState):
                await self.hub.relay(msg.room, member, relay_of(msg, member))
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
