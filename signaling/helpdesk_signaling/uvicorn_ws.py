"""A lean WebSocket protocol for uvicorn (`ws=WS_IMPL`): what an idle socket keeps for hours, cut down.

uvicorn's sans-I/O protocol keeps, per socket and for the socket's whole life, an asyncio.Queue (four
deques), an asyncio.Event (one more), an instance dict, the scope, the handshake's response, and, inside
the websockets handshake parser's generator frame, the whole upgrade request with its headers. This
class is the same ASGI WebSocket server (handshake, accept with headers and subprotocol, close before
accept = 403, text and bytes, close codes, keepalive pings, back-pressure, 1012 on shutdown) with
`__slots__`, an inbox list and a future made only while the app waits, and the request let go of once
the handshake is done. The `websocket.http.response` extension (denial responses) is not offered.

It also lets an app *park* an accepted socket (`park(on_event)`): the app's ASGI coroutine returns and
the socket stays open, its events handed to `on_event` as they arrive, so an idle socket keeps no task
and no chain of coroutine frames (helpdesk_signaling.endpoint uses it through wire.Wire).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from contextvars import Context
from http import HTTPStatus
from typing import Any, cast
from urllib.parse import unquote

from uvicorn.config import Config
from uvicorn.protocols.utils import (
    ClientDisconnected,
    get_client_addr,
    get_local_addr,
    get_path_with_query_string,
    get_remote_addr,
    is_ssl,
)
from uvicorn.server import ServerState
from websockets.exceptions import InvalidState
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import Protocol, State
from websockets.server import ServerProtocol

from helpdesk_signaling.uvicorn_keepalive import Keepalive

Event = dict[str, Any]
logger = logging.getLogger("uvicorn.error")
CONNECT: Event = {"type": "websocket.connect"}
_OPEN = State.OPEN


class LeanWebSocketProtocol(Keepalive):
    __slots__ = ("_closing_timer", "_frames", "_inbox", "_on_event", "_read_paused", "_response", "_scope",
                 "_state", "_text", "_waiter", "_write_waiters", "app_state", "config", "conn",
                 "disconnected", "handshake_complete", "handshake_initiated", "loop", "parked", "transport")

    def __init__(self, config: Config, server_state: ServerState, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None) -> None:
        if not config.loaded:
            config.load()  # pragma: no cover
        self.config = config
        self._state = server_state
        self.app_state = app_state
        self.loop = _loop or asyncio.get_event_loop()
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self._scope: Any = None  # until the handshake is answered (log lines)
        self._response: Any = None  # the 101 being prepared, until accept
        self.handshake_initiated = self.handshake_complete = self.close_sent = self.disconnected = False
        self.parked = False
        self._inbox: list[Event] | None = None  # events the app has not received yet
        self._waiter: asyncio.Future[None] | None = None  # only while the app waits in receive()
        self._on_event: Callable[[Event], None] | None = None  # parked: events go here
        self._write_waiters: list[asyncio.Future[None]] | None = None  # None: the transport takes writes
        self._read_paused = False
        self._closing_timer: asyncio.TimerHandle | None = None
        self._ping_timer = self._pong_timer = None
        self._ping_payload = None
        self._ping_sent_at = self._rtt = 0.0
        self._frames: list[bytes] | None = None  # a fragmented message being put together
        self._text = False
        extensions = []
        if config.ws_per_message_deflate:
            extensions = [ServerPerMessageDeflateFactory(server_max_window_bits=12, client_max_window_bits=12,
                                                         compress_settings={"memLevel": 5})]
        self.conn = ServerProtocol(extensions=extensions, max_size=config.ws_max_size, logger=logger)

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self._state.connections.add(self)  # type: ignore[arg-type]

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_keepalive()
        self._put({"type": "websocket.disconnect", "code": 1005 if self.handshake_complete else 1006})
        self._state.connections.discard(self)
        self.handshake_complete = self.disconnected = True
        self._wake_writers()  # a transport lost while paused never resumes
        if self._closing_timer is not None:
            self._closing_timer.cancel()
            self._closing_timer = None
        if exc is None:
            self.transport.close()

    def eof_received(self) -> None:
        pass

    def pause_writing(self) -> None:
        if self._write_waiters is None:
            self._write_waiters = []

    def resume_writing(self) -> None:
        self._wake_writers()

    def _wake_writers(self) -> None:
        waiters, self._write_waiters = self._write_waiters, None
        for w in waiters or ():
            if not w.done():
                w.set_result(None)

    def writable_now(self) -> bool:
        """Open, no close sent, and the transport below its high-water mark."""
        return self._write_waiters is None and not self.close_sent and not self.disconnected \
            and self.handshake_complete and self.conn.state is _OPEN

    def data_received(self, data: bytes) -> None:
        conn = self.conn
        conn.receive_data(data)
        if conn.parser_exc is not None:
            self._parser_failed()
            return
        if conn.handshake_exc is not None and not self.handshake_initiated:
            self._bad_handshake()
            return
        for event in conn.events_received():
            if isinstance(event, Frame):
                self._frame(event)
            elif isinstance(event, Request):
                self._connect(event)

    def shutdown(self) -> None:
        """The server stops: close 1012 (an open socket) or a 500 (a handshake the app never answered)."""
        self._stop_keepalive()
        if self.close_sent:
            if self._closing_timer is not None:
                self._closing_timer.cancel()
                self._closing_timer = None
        elif self.handshake_complete:
            self._put({"type": "websocket.disconnect", "code": 1012})
            self.conn.send_close(1012)
            self._flush()
        else:
            self._send_500()
        self.transport.close()

    # the handshake

    def _connect(self, request: Request) -> None:
        conn = self.conn
        response = conn.accept(request)
        self.handshake_initiated = True
        if response.status_code != 101:
            self.handshake_complete = self.close_sent = True
            conn.send_response(response)
            self._flush()
            self.transport.close()
            return
        if not conn.reader.buffer:
            # ServerProtocol.parse keeps `request` in its generator frame for the socket's life; a
            # client sends nothing before our 101, so the frame parser can start afresh here.
            conn.parser = Protocol.parse(conn)
            next(conn.parser)
        self._response = response
        raw_path, _, query = request.path.partition("?")
        subprotocols = [t.strip() for h in request.headers.get_all("Sec-WebSocket-Protocol") for t in h.split(",")]
        root = self.config.root_path
        self._scope = scope = {
            "type": "websocket", "asgi": {"version": self.config.asgi_version, "spec_version": "2.4"},
            "http_version": "1.1", "scheme": "wss" if is_ssl(self.transport) else "ws",
            "server": get_local_addr(self.transport), "client": get_remote_addr(self.transport),
            "root_path": root, "path": root + unquote(raw_path), "raw_path": (root + raw_path).encode("ascii"),
            "query_string": query.encode("ascii"),
            "headers": [(k.encode("ascii"), v.encode("latin-1")) for k, v in request.headers.raw_items()],
            "subprotocols": subprotocols, "state": self.app_state.copy(), "extensions": {},
        }
        self._put(CONNECT)
        self.spawn(self._run_asgi(scope))

    def spawn(self, coro: Coroutine[Any, Any, None], context: Context | None = None) -> asyncio.Task[None]:
        """A task the server waits for at shutdown (as it waits for the app's own)."""
        task = self.loop.create_task(coro, context=context)
        tasks = self._state.tasks
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        return task

    async def _run_asgi(self, scope: dict[str, Any]) -> None:
        try:
            result = await self.config.loaded_app(scope, self.receive, self.send)
        except ClientDisconnected:
            pass
        except BaseException:
            logger.exception("Exception in ASGI application\n")
            self._send_500()
        else:
            if not self.handshake_complete:
                logger.error("ASGI callable returned without completing handshake.")
                self._send_500()
            elif result is not None:
                logger.error("ASGI callable should return None, but returned '%s'.", result)
        if self._closing_timer is None and not (self.parked and not self.disconnected):
            self.transport.close()

    def _send_500(self) -> None:
        if self.handshake_complete:
            return
        self.conn.send_response(self.conn.reject(500, "Internal Server Error"))
        self._flush()

    def _bad_handshake(self) -> None:
        # websockets queues a 414/431 for exceeded limits and only an EOF otherwise: then a 400.
        self.handshake_complete = self.close_sent = True
        output = b"".join(self.conn.data_to_send())
        if not output:
            output = self.conn.reject(400, "Failed to open a WebSocket connection: invalid request.\n").serialize()
        self.transport.write(output)
        self.transport.close()

    # frames in

    def _frame(self, frame: Frame) -> None:
        op = frame.opcode
        if op is Opcode.TEXT or op is Opcode.BINARY:
            self._text = op is Opcode.TEXT
            if frame.fin:
                self._message(frame.data)
            else:
                self._frames = [bytes(frame.data)]
        elif op is Opcode.CONT:
            if self._frames is None:  # pragma: no cover - the parser refuses a stray continuation
                return
            self._frames.append(bytes(frame.data))
            if frame.fin:
                data, self._frames = b"".join(self._frames), None
                self._message(data)
        elif op is Opcode.PING:
            self._flush()  # the parser queued the pong
        elif op is Opcode.PONG:
            self._pong(frame)
        elif op is Opcode.CLOSE:
            self._close_frame()

    def _message(self, data: bytes | bytearray | memoryview) -> None:
        if self.close_sent:  # past our close: drop it, keep reading until the peer's close arrives
            return
        if self._text:
            try:
                event: Event = {"type": "websocket.receive", "text": bytes(data).decode()}
            except UnicodeDecodeError:  # pragma: no cover - the parser checks UTF-8 first
                self.conn.send_close(1007)
                self._parser_failed()
                return
        else:
            event = {"type": "websocket.receive", "bytes": bytes(data)}
        if not self._read_paused:  # one message at a time: reading resumes once the app has it
            self._read_paused = True
            self.transport.pause_reading()
        self._put(event)  # (after the pause: a parked app may resume at once)

    def _close_frame(self) -> None:
        if self.close_sent:  # the peer answered our close: the closing handshake is complete
            if self._closing_timer is not None:
                self._closing_timer.cancel()
                self._closing_timer = None
                self.transport.close()
            return
        if not self.transport.is_closing():
            close = self.conn.close_rcvd
            assert close is not None
            self._put({"type": "websocket.disconnect", "code": close.code, "reason": close.reason})
            self._flush()
            self.transport.close()

    def _parser_failed(self) -> None:
        close = self.conn.close_sent
        assert close is not None
        self._put({"type": "websocket.disconnect", "code": close.code, "reason": close.reason})
        self._flush()
        self.close_sent = True
        self.transport.close()

    # the app's side

    def _put(self, event: Event) -> None:
        on_event = self._on_event
        if on_event is not None:
            if event["type"] == "websocket.disconnect":
                self._on_event = None  # one disconnect is enough; later ones stay in the inbox
            on_event(event)
            return
        if self._inbox is None:
            self._inbox = [event]
        else:
            self._inbox.append(event)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def receive(self) -> Event:
        if not self._inbox:
            self._waiter = self.loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        inbox = self._inbox
        assert inbox
        event = inbox.pop(0)
        if not inbox:
            self._inbox = None
            self.resume_reading()
        return event

    def park(self, on_event: Callable[[Event], None]) -> None:
        """From now on every event goes to on_event (which must not raise), the app's coroutine may
        return without closing the socket, and the app calls resume_reading() after each message."""
        self.parked = True
        self._on_event = on_event
        inbox, self._inbox = self._inbox, None
        for event in inbox or ():
            self._put(event)

    def resume_reading(self) -> None:
        if self._read_paused:
            self._read_paused = False
            self.transport.resume_reading()

    def abort(self) -> None:
        """Give up on a peer that does not answer: drop the connection now."""
        self.transport.abort()

    async def send(self, message: Event) -> None:
        if self._write_waiters is not None:
            waiter = self.loop.create_future()
            self._write_waiters.append(waiter)
            await waiter
        if self.disconnected:
            raise ClientDisconnected()
        kind = message["type"]
        if not self.handshake_complete:
            self._handshake_reply(message)
        elif not self.close_sent:
            try:
                if kind == "websocket.send":
                    data, text = message.get("bytes"), message.get("text")
                    if data is not None:
                        self.conn.send_binary(data)
                    elif text is not None:
                        self.conn.send_text(text.encode())
                    self._flush()
                elif kind == "websocket.close":
                    if not self.transport.is_closing():
                        code, reason = message.get("code", 1000), message.get("reason") or ""
                        self._put({"type": "websocket.disconnect", "code": code, "reason": reason})
                        self.conn.send_close(code, reason)
                        self._flush()
                        self.close_sent = True
                        self.resume_reading()
                        self._closing_timer = self.loop.call_later(10.0, self.transport.close)
                else:
                    raise RuntimeError(f"Expected ASGI message 'websocket.send' or 'websocket.close', "
                                       f"but got '{kind}'.")
            except InvalidState:
                raise ClientDisconnected() from None
        else:
            raise RuntimeError(f"Unexpected ASGI message '{kind}', after sending 'websocket.close'.")

    def _handshake_reply(self, message: Event) -> None:
        kind, scope = message["type"], self._scope
        assert scope is not None
        if kind == "websocket.accept":
            logger.info('%s - "WebSocket %s" [accepted]', get_client_addr(scope), get_path_with_query_string(scope))
            response, self._response = self._response, None
            headers = [(n.decode("latin-1").lower(), v.decode("latin-1"))
                       for n, v in (self._state.default_headers + list(message.get("headers", [])))]
            if message.get("subprotocol"):
                headers.append(("Sec-WebSocket-Protocol", message["subprotocol"]))
            del response.headers["Date"]
            response.headers.update(headers)
            if not self.transport.is_closing():
                self.handshake_complete = True
                self.conn.send_response(response)
                self._flush()
                self._start_keepalive()
        elif kind == "websocket.close":
            self._put({"type": "websocket.disconnect", "code": 1006})
            logger.info('%s - "WebSocket %s" 403', get_client_addr(scope), get_path_with_query_string(scope))
            self._response = None
            self.conn.send_response(self.conn.reject(HTTPStatus.FORBIDDEN, ""))
            self.close_sent = self.handshake_complete = True
            self._flush()
            self.transport.close()
        else:
            raise RuntimeError(f"Expected ASGI message 'websocket.accept' or 'websocket.close', but got '{kind}'.")
        self._scope = None
