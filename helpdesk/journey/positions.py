"""Positions by line: one message per line change to every process, not one per applicant.

A queue change (PositionsChanged) is published once on a shared channel (Redis pub/sub, or a
direct call with the memory backend) naming the lines it moved and the tickets that joined. Each
process follows the lines of the waiting applicants whose sockets it holds; at most every
FLUSH_S it reads each moved line once, computes every local applicant's position and wait from
their rank in it, and writes the status straight to the socket when it changed. An applicant thus
sees a fresh position within FLUSH_S plus one read, while Redis carries one PUBLISH per change
instead of one per applicant. A message lost while the subscriber reconnects is caught up by the
line versions, read every SAFETY_S. The agents and handle times behind the expected wait are
read at most once a second per process (the estimate corrects itself on the next change).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterable
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

from helpdesk_signaling import protocol as p
from redis.exceptions import RedisError

from helpdesk.tasks import start_background

if TYPE_CHECKING:
    from helpdesk.journey.service import Journey

log = logging.getLogger(__name__)
FLUSH_S = 0.2  # coalescing window: a line's applicants hear at most 5 updates a second
SAFETY_S = 5.0  # read the followed lines' versions this often, in case a message was lost
AGENTS_S = 1.0  # staffing and handle times behind the expected wait: read at most this often
CHANNEL = "j:lines"


class LinePositions:
    """This process's view: which local applicant follows which line, and what each last heard."""

    def __init__(self, journey: Journey) -> None:
        self.journey = journey
        self.redis = journey.state.redis
        self.channel = journey.state.settings.redis_prefix + CHANNEL
        self.followers: dict[str, set[str]] = {}  # line → tickets whose socket is here
        self.line_of: dict[str, str] = {}
        self.sent: dict[str, tuple[Any, ...]] = {}  # ticket → the status last written
        self.dirty: set[str] = set()
        self.versions: dict[str, int] = {}
        self.wake = asyncio.Event()
        self._agents: tuple[float, list[Any]] | None = None  # (read at, agents) for the estimates
        self._samples: dict[str, list[float]] = {}  # line → handle times, read with the agents
        self._lines: set[str] = set()  # changes of the operation being emitted, not yet published
        self._joined: list[tuple[str, str]] = []

    async def start(self, stack: AsyncExitStack) -> None:
        if self.redis is not None:
            start_background(stack, self._listen(), "line-positions-listener")
        start_background(stack, self._flush_loop(), "line-positions")

    # ---- following ------------------------------------------------------------------------------
    def follow(self, ticket: str, line: str, sent: p.QueueStatus | None = None) -> None:
        self.forget(ticket)
        self.followers.setdefault(line, set()).add(ticket)
        self.line_of[ticket] = line
        if sent is not None:
            self.sent[ticket] = _key(sent)

    def forget(self, ticket: str) -> None:
        line = self.line_of.pop(ticket, None)
        self.sent.pop(ticket, None)
        if line is not None:
            tickets = self.followers.get(line, set())
            tickets.discard(ticket)
            if not tickets:
                self.followers.pop(line, None)

    # ---- changes in, statuses out ----------------------------------------------------------------
    def changed(self, lines: Iterable[str], joined: Iterable[tuple[str, str]]) -> None:
        """A queue change in this process: told to every process (this one included) by publish()."""
        self._lines.update(lines)
        self._joined.extend(joined)

    async def publish(self) -> None:
        """One message for the changes of the operation just emitted."""
        if not self._lines and not self._joined:
            return
        lines, joined = sorted(self._lines), list(self._joined)
        self._lines, self._joined = set(), []
        if self.redis is None:
            self.receive(lines, joined)
            return
        await self.redis.publish(self.channel, json.dumps({"l": lines, "j": joined}, separators=(",", ":")))

    def receive(self, lines: list[str], joined: list[list[str]] | list[tuple[str, str]]) -> None:
        from helpdesk.journey.service import applicant_member

        for ticket, line in joined:
            if self.journey.hub.local_connection(applicant_member(ticket)) is not None:
                self.follow(ticket, line)
                self.dirty.add(line)
        self.dirty |= {line for line in lines if line in self.followers}
        if self.dirty:
            self.wake.set()

    async def flush(self) -> int:
        """Send each local follower of the moved lines its status if it changed; returns how many."""
        from helpdesk.journey.service import applicant_member

        lines, self.dirty = sorted(self.dirty & set(self.followers)), set()
        if not lines:
            return 0
        followers = {line: sorted(self.followers.get(line, ())) for line in lines}
        tickets = [t for line in lines for t in followers[line]]
        now = asyncio.get_running_loop().time()
        store = self.journey.queue.store
        if self._agents is None or now - self._agents[0] >= AGENTS_S:
            self._agents, self._samples = (now, await store.list_agents()), {}
        for line in lines:
            if line not in self._samples:
                self._samples[line] = await store.handle_times(line)
        statuses = await self.journey.queue.line_statuses(followers, self._agents[1], self._samples)
        sent = 0
        for ticket in tickets:
            status = statuses.get(ticket)
            conn = self.journey.hub.local_connection(applicant_member(ticket))
            if status is None or conn is None:
                self.forget(ticket)  # connected, left, or its socket moved: others tell it now
                continue
            message = self.journey.status_message(status)
            if self.sent.get(ticket) != (key := _key(message)):
                conn.deliver(p.dump(message))
                self.sent[ticket] = key
                sent += 1
        return sent

    async def catch_up(self) -> None:
        """Lines whose version moved since the last look (a lost message, a restarted subscriber)."""
        lines = sorted(self.followers)
        versions = await self.journey.queue.store.line_versions(lines)
        self.dirty |= {line for line, v in versions.items() if self.versions.get(line, v) != v}
        self.versions = versions

    async def _flush_loop(self) -> None:
        loop = asyncio.get_running_loop()
        last_safety = loop.time()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), SAFETY_S)
            self.wake.clear()
            try:
                if loop.time() - last_safety >= SAFETY_S:
                    last_safety = loop.time()
                    await self.catch_up()
                await self.flush()
            except Exception as exc:  # one failed round must not stop the positions; logged
                if not isinstance(exc, RedisError | OSError):
                    log.exception("line positions round failed")
            await asyncio.sleep(FLUSH_S)  # coalesce: changes meanwhile go out together

    async def _listen(self) -> None:
        assert self.redis is not None
        while True:
            pubsub = self.redis.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                async for item in pubsub.listen():
                    if item.get("type") == "message":
                        body = json.loads(item["data"])
                        self.receive(body["l"], body["j"])
            except asyncio.CancelledError:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()
                raise
            except (RedisError, OSError, ValueError) as exc:
                log.warning("line positions subscriber lost Redis (%s); resubscribing", exc)
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()
                self.dirty |= set(self.followers)  # messages may have been lost meanwhile
                await asyncio.sleep(1)


def _key(message: p.QueueStatus) -> tuple[Any, ...]:
    return tuple(message.model_dump().values())
