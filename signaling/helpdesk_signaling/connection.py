"""One socket's outbound side (and, once parked, its inbound queue): what the endpoint keeps per socket."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections import deque

from starlette.websockets import WebSocketDisconnect

from helpdesk_signaling.hub import CLOSE_SLOW
from helpdesk_signaling.wire import Message, Wire

log = logging.getLogger("helpdesk_signaling.endpoint")


class SocketConnection:
    """One socket's outbound side. Frames are written at once while the transport takes them (from
    whichever task delivers: usually the peer's reading task); under back-pressure they wait in an
    outbox written by a task that lives only while the outbox is not empty, so order is kept.
    A parked socket (no task of its own) queues its inbound events in `inbox` the same way: a
    worker task lives only while there are events to handle."""

    __slots__ = (
        "_closing",
        "_out",
        "_writer",
        "from_suffix",
        "id",
        "inbox",
        "max_queue",
        "member",
        "parked",
        "reading",
        "seen",
        "silent",
        "timer",
        "touched",
        "wire",
        "worker",
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
        self.inbox: list[Message] | None = None  # parked: events not handled yet (None: no worker)
        self.worker: asyncio.Task[None] | None = None  # parked: the task handling `inbox`
        self.parked = False  # no task of its own: the endpoint's sweep watches its heartbeat

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
        self.shut(code, reason)

    def shut(self, code: int, reason: str) -> None:
        """Queue the close frame behind what is waiting (a timer's callback may call it)."""
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
