"""uvicorn's WebSocket keepalive (`ws_ping_interval`, `ws_ping_timeout`) for the lean protocol: a ping
every interval, and a peer that does not answer within the timeout is dropped with 1011."""

from __future__ import annotations

import asyncio
import random
import struct

from uvicorn.config import Config
from websockets.frames import Frame
from websockets.server import ServerProtocol


class Keepalive(asyncio.Protocol):
    __slots__ = ("_ping_payload", "_ping_sent_at", "_ping_timer", "_pong_timer", "_rtt", "close_sent")
    config: Config
    loop: asyncio.AbstractEventLoop
    conn: ServerProtocol
    transport: asyncio.Transport
    close_sent: bool
    _ping_timer: asyncio.TimerHandle | None
    _pong_timer: asyncio.TimerHandle | None
    _ping_payload: bytes | None
    _ping_sent_at: float
    _rtt: float

    def _flush(self) -> None:
        self.transport.write(b"".join(self.conn.data_to_send()))

    def _start_keepalive(self) -> None:
        interval = self.config.ws_ping_interval
        if interval is not None and interval > 0:
            self._ping_timer = self.loop.call_later(max(0.0, interval - self._rtt), self._ping)

    def _stop_keepalive(self) -> None:
        for timer in (self._ping_timer, self._pong_timer):
            if timer is not None:
                timer.cancel()
        self._ping_timer = self._pong_timer = None
        self._ping_payload = None

    def _ping(self) -> None:
        self._ping_timer = None
        if self.close_sent or self.transport.is_closing():  # pragma: no cover
            return
        self._ping_payload = struct.pack("!I", random.getrandbits(32))  # a stale pong will not match
        self._ping_sent_at = self.loop.time()
        self.conn.send_ping(self._ping_payload)
        self._flush()
        timeout = self.config.ws_ping_timeout
        if timeout is not None:
            self._pong_timer = self.loop.call_later(timeout, self._ping_timed_out)
        else:
            self._start_keepalive()

    def _pong(self, frame: Frame) -> None:
        if self._ping_payload is None or bytes(frame.data) != self._ping_payload:
            return
        self._rtt = self.loop.time() - self._ping_sent_at
        self._ping_payload = None
        if self._pong_timer is not None:
            self._pong_timer.cancel()
            self._pong_timer = None
            self._start_keepalive()

    def _ping_timed_out(self) -> None:
        self._pong_timer = None
        self._ping_payload = None
        if self.close_sent or self.transport.is_closing():  # pragma: no cover
            return
        self.conn.fail(1011, "keepalive ping timeout")
        self._flush()
        self.close_sent = True
        self.transport.close()

