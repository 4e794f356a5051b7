"""Positions by line: a process reads each followed line once per change, not a message per
applicant.

Every queue change advances its line's version in the store. Each process follows the lines of
the waiting applicants whose sockets it holds; every FLUSH_S it asks the store, in one call, for
the lines whose version moved since it last looked — their followers' entries with their
positions (rank in the line) and the line's handle times — and writes each local applicant's
status straight to their socket when it changed. An applicant sees a fresh position within
FLUSH_S plus one read; Redis carries no message per applicant, and an idle process costs one
small call per FLUSH_S whatever the queue's length. A join is published once to every process
(channel `j:lines`), so the process holding that applicant's socket starts following their line.
The agents behind the expected wait are read at most once a second per process (the estimate
corrects itself on the next change).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterable
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

from helpdesk_queue import QueueStatus
from helpdesk_signaling import protocol as p
from redis.exceptions import RedisError

from helpdesk.tasks import start_background

if TYPE_CHECKING:
    from helpdesk.journey.service import Journey

log = logging.getLogger(__name__)
FLUSH_S = 0.2  # how often the followed lines are looked at: at most 5 updates a second each
AGENTS_S = 1.0  # the staffing behind the expected wait is read at most this often
CHANNEL = "j:lines"


class LinePositions:
    """This process's view: which local applicant follows which line, and what each last heard."""

    def __init__(self, journey: Journey) -> None:
        self.journey = journey
        self.redis = journey.state.redis
        self.channel = journey.state.settings.redis_prefix + CHANNEL
        self.followers: dict[str, set[str]] = {}  # line → tickets whose socket is here
        self.line_of: dict[str, str] = {}
        self.sent: dict[str, int] = {}  # ticket → the status last written (its text's hash: small)
        self.dirty: set[str] = set()
        self.versions: dict[str, int] = {}
        self.wake = asyncio.Event()
        self._agents: tuple[float, list[Any]] | None = None  # (read at, agents) for the estimates
        self._joined: list[tuple[str, str]] = []  # joins of the operation being emitted

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
            self.sent[ticket] = hash(p.dump(sent))

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
        """A queue change in this process: its lines are looked at on the next round here (other
        processes see their versions move); joins are told to every process by publish()."""
        self.dirty |= {line for line in lines if line in self.followers}
        self._joined.extend(joined)

    async def publish(self) -> None:
        """One message for the joins of the operation just emitted (none: nothing to send)."""
        if not self._joined:
            if self.dirty:
                self.wake.set()
            return
        lines, joined = sorted({line for _, line in self._joined}), list(self._joined)
        self._joined = []
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
        """Send each local follower of the lines that moved its status if it changed; returns how many."""
        from helpdesk.journey.service import applicant_member

        if not self.followers:
            return 0
        known = {line: (-1 if line in self.dirty else self.versions.get(line, -1), sorted(tickets))
                 for line, tickets in self.followers.items()}  # fmt: skip
        self.dirty = set()
        versions, statuses = await self.journey.queue.line_statuses(known, self._staff)
        self.versions.update(versions)
        sent = 0
        for line in versions:
            for ticket in known[line][1]:
                status = statuses.get(ticket)
                conn = self.journey.hub.local_connection(applicant_member(ticket))
                if status is None or conn is None:
                    self.forget(ticket)  # connected, left, or its socket moved: others tell it now
                    continue
                text = status_text(status)
                if self.sent.get(ticket) != (key := hash(text)):
                    conn.deliver(text)
                    self.sent[ticket] = key
                    sent += 1
        return sent

    async def _staff(self) -> list[Any]:
        """The agents, read at most once per AGENTS_S (and only when a followed line moved)."""
        now = asyncio.get_running_loop().time()
        if self._agents is None or now - self._agents[0] >= AGENTS_S:
            self._agents = (now, await self.journey.queue.store.list_agents())
        return self._agents[1]

    async def _flush_loop(self) -> None:
        """A look every FLUSH_S (sooner after a change here), never two within FLUSH_S: a change
        anywhere reaches the sockets within FLUSH_S plus one read."""
        loop = asyncio.get_running_loop()
        last = -FLUSH_S
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), FLUSH_S)
            self.wake.clear()
            await asyncio.sleep(max(0.0, FLUSH_S - (loop.time() - last)))  # coalesce
            last = loop.time()
            try:
                await self.flush()
            except Exception as exc:  # one failed round must not stop the positions; logged
                if not isinstance(exc, RedisError | OSError):
                    log.exception("line positions round failed")

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
                # joins published meanwhile are lost: their applicants follow again on reconnect
                await asyncio.sleep(1)


def status_text(status: QueueStatus) -> str:
    """The `queue.status` message of a waiting applicant, as text: what
    `p.dump(journey.status_message(status))` writes (same keys in the same order, nulls left out,
    the wait a float), without building and validating a pydantic model for every follower of a
    line that moved. tests/journey/test_positions.py holds the two equal."""
    wait, low, high = status.expected_wait_s, status.expected_wait_low_s, status.expected_wait_high_s
    data = {"type": "queue.status", "ticket": status.ticket, "work_order": status.work_order_id,
            "state": status.state, "position": status.position,
            "expected_wait_s": None if wait is None else float(wait),
            "expected_wait_low_s": None if low is None else int(low),
            "expected_wait_high_s": None if high is None else int(high),
            "agents_ready": status.agents_ready, "fallback_level": status.fallback_level}
    return _ENCODE({k: v for k, v in data.items() if v is not None})


_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode  # as p.dump, built once
