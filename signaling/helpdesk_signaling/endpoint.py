"""The WebSocket endpoint: typed messages in, relays and typed errors out; bad input never kills it."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol

from starlette.websockets import WebSocket

from helpdesk_signaling.connection import SocketConnection
from helpdesk_signaling.errors import SignalingError
from helpdesk_signaling.hub import CLOSE_HEARTBEAT, ExpiredRoom, Hub, Room
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
from helpdesk_signaling.wire import Message, wire_of

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
        self._parked = 0  # parked sockets (the sweep runs while there are any)
        self._sweeper: asyncio.TimerHandle | None = None

    def now(self) -> float:
        return self.clock.now().timestamp()

    async def serve(self, websocket: WebSocket, member: str, role: str,
                    welcome_extra: dict[str, Any] | None = None,
                    on_end: Callable[[], Awaitable[None]] | None = None) -> None:
        """Run the socket until it closes; the hub learns of the drop in every case, then `on_end`
        runs (exactly once, whatever happened).

        Under the lean uvicorn protocol the socket is *parked* once registered: this returns at once
        and the socket lives on without a task (see _park); `on_end` runs when it closes. Elsewhere
        this task reads the socket until it closes.
        If the hub's backend is down (Redis lost) the client gets `error unavailable` and a 1011 close,
        and reconnects with backoff until it is back.
        """
        parked = False
        try:
            parked = await self._serve(websocket, member, role, welcome_extra, on_end)
        finally:
            if not parked and on_end is not None:
                await on_end()

    async def _serve(self, websocket: WebSocket, member: str, role: str, welcome_extra: dict[str, Any] | None,
                     on_end: Callable[[], Awaitable[None]] | None) -> bool:
        """True when the socket was parked (then the park's end runs `on_end`)."""
        welcome = {"member": member, "role": role, "heartbeat_s": self.heartbeat_s, **(welcome_extra or {})}
        welcome_text = dump(Welcome.model_validate(welcome))  # the app's mistake fails before accept
        await websocket.accept()
        if self.draining:  # this process is shutting down: straight to another one
            await websocket.send_text(dump(Reconnect()))
            await websocket.close(CLOSE_RESTART, "service restart")
            return False
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
            return False
        conn.release()
        self.connections.add(conn)
        if wire.can_park:
            self._park(conn, role, on_end)
            return True
        try:
            await self._read(conn, member, role)
        finally:
            await self._gone(conn)
        return False

    async def _gone(self, conn: SocketConnection) -> None:
        self.connections.discard(conn)
        await conn.finish()
        try:
            await self.hub.disconnect(conn.member, conn, now=self.now(), grace_s=self.grace_s)
        except Exception as exc:
            _log_outage(exc, "could not record the drop of member %s", conn.member)
        if self.draining and not self.connections:
            self._all_gone.set()

    def _park(self, conn: SocketConnection, role: str, on_end: Callable[[], Awaitable[None]] | None) -> None:
        """No task per idle socket: the server hands each event to on_event, which queues it in
        conn.inbox; a worker task (in this task's context: the log lines keep the member) lives only
        while the inbox is not empty. The heartbeat is one sweep over all parked sockets (_sweep)."""
        context = contextvars.copy_context()
        wire = conn.wire

        def on_event(event: Message) -> None:
            if conn.inbox is not None:
                conn.inbox.append(event)
                return
            conn.inbox = [event]
            conn.worker = wire.spawn(self._work(conn, role, on_end), context)

        conn.seen = asyncio.get_running_loop().time()
        conn.parked = True  # the sweep watches its heartbeat
        self._parked += 1
        self._start_sweep()
        wire.park(on_event)

    async def _work(self, conn: SocketConnection, role: str, on_end: Callable[[], Awaitable[None]] | None) -> None:
        """A parked socket's events in order, as _read handles them; ends the socket on disconnect."""
        inbox, wire, member = conn.inbox, conn.wire, conn.member
        assert inbox is not None
        loop = asyncio.get_running_loop()
        ended = True
        try:
            while True:
                event = inbox.pop(0)
                if not inbox:
                    wire.resume()  # the server reads the next frame while this one is handled
                if event["type"] == "websocket.disconnect":
                    break
                conn.seen = loop.time()
                raw = event.get("text")
                if raw is None:
                    await self.handle(conn, member, role, event.get("bytes") or b"")
                elif (envelope := signal_envelope(raw, self.max_message_bytes)) is not None:
                    await self._relay_signal(conn, member, envelope[0], raw, to=envelope[1])
                else:
                    await self.handle(conn, member, role, raw)
                if not inbox:
                    ended = False
                    break
        except BaseException:
            wire.abort()  # cancelled (forced shutdown): the socket ends with its worker
            raise
        finally:
            conn.inbox = conn.worker = None
            if ended:
                self._parked -= 1
                await self._gone(conn)
                if on_end is not None:
                    try:
                        await on_end()
                    except Exception:
                        log.exception("the end of member %s's socket failed", member)

    def _start_sweep(self) -> None:
        if self._sweeper is None:
            loop = asyncio.get_running_loop()
            self._sweeper = loop.call_later(self._sweep_every(), self._sweep)

    def _sweep_every(self) -> float:
        return max(0.05, min(5.0, self.heartbeat_s / 2))

    def _sweep(self) -> None:
        """The heartbeat of every parked socket (one timer, not one per socket): a socket silent for
        more than two heartbeats is closed, and given up after close_timeout_s without an answer."""
        self._sweeper = None
        loop = asyncio.get_running_loop()
        now, limit = loop.time(), 2 * self.heartbeat_s
        for conn in self.connections:
            if conn.parked and conn.inbox is None and not conn.silent and now - conn.seen > limit:
                conn.silent = True
                log.info("member %s silent for %.0f s: closing", conn.member, now - conn.seen)
                conn.shut(CLOSE_HEARTBEAT, "heartbeat timeout")
                conn.timer = loop.call_later(self.close_timeout_s, conn.wire.abort)
        if self._parked > 0:
            self._sweeper = loop.call_later(self._sweep_every(), self._sweep)

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
