"""Graceful shutdown: before uvicorn closes its connections, tell every socket to reconnect elsewhere.

uvicorn's own shutdown closes WebSockets with 1012 *before* the app's lifespan shutdown runs, so the
app never gets to say why. `DrainingServer` (what `helpdesk serve` runs) first stops accepting, then
runs the drains the app registered (the signaling endpoint sends `{"type":"reconnect",
"reason":"shutdown"}` and closes 1012), then does uvicorn's usual shutdown. Clients (socket.js)
reconnect at once; behind the proxy they land on another replica and resume their call.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

import uvicorn

log = logging.getLogger(__name__)
Drain = Callable[[], Awaitable[object]]
_drains: list[Drain] = []
DRAIN_TIMEOUT_S = 10.0


@contextmanager
def register_drain(drain: Drain) -> Iterator[None]:
    """For the app's lifespan: run `drain` when the server starts shutting down."""
    _drains.append(drain)
    try:
        yield
    finally:
        if drain in _drains:
            _drains.remove(drain)


async def run_drains(timeout_s: float = DRAIN_TIMEOUT_S) -> None:
    for drain in list(_drains):
        try:
            async with asyncio.timeout(timeout_s):
                await drain()
        except Exception:  # shutdown goes on whatever one drain does
            log.exception("drain failed")


class DrainingServer(uvicorn.Server):
    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()  # no new connections while the old ones are told to move
        await run_drains()
        await super().shutdown(sockets)
