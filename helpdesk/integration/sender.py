"""Delivers the outbox: webhook deliveries and applicant messages whose time has come.

Any process may run it: a row is claimed by a conditional UPDATE (pending, due, lease not taken),
which only one process can win, so a delivery is attempted by one sender at a time. A process killed
after its commit but before sending leaves the row pending: the next sender sends it, once. A
process killed after sending but before marking it delivered sends it again: receivers drop the
duplicate by its idempotency key (X-Helpdesk-Event-Id).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack, suppress
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from helpdesk.accountability.notify import Post, sign, urllib_post
from helpdesk.clock import Clock
from helpdesk.config import Settings
from helpdesk.integration.models import ApplicantMessage, EventDelivery, IntegrationEvent, WebhookSubscription
from helpdesk.state import AppState
from helpdesk.tasks import start_background

log = logging.getLogger(__name__)
LEASE_S = 60.0  # a row being sent is hidden from other senders this long
BATCH = 100


def webhook_headers(secret: str, event: IntegrationEvent, delivery_id: str, body: bytes,
                    now: datetime) -> dict[str, str]:
    ts = int(now.timestamp())
    return {
        "Content-Type": "application/json; charset=utf-8",
        "X-Helpdesk-Event": event.type,
        "X-Helpdesk-Event-Id": event.id,  # the idempotency key: the same for every retry
        "X-Helpdesk-Delivery": delivery_id,
        "X-Helpdesk-Timestamp": str(ts),
        "X-Helpdesk-Signature": sign(secret, ts, body),
    }


def event_body(event: IntegrationEvent) -> bytes:
    return json.dumps(event.payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


class Sender:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock, settings: Settings,
                 post: Post = urllib_post) -> None:
        self.sessions, self.clock, self.settings, self.post = sessions, clock, settings, post
        self.wake = asyncio.Event()

    def backoff(self, attempts: int) -> float:
        return float(min(self.settings.webhook_backoff_s * 2 ** max(attempts - 1, 0), 3600.0))

    async def run_once(self) -> int:
        """Attempts everything due now; returns how many rows succeeded."""
        return await self._deliveries() + await self._messages()

    async def _claim(self, model: Any, row_id: str, now: datetime) -> bool:
        async with self.sessions() as session:
            result = await session.execute(
                update(model)
                .where(model.id == row_id, model.status == "pending", model.next_attempt_at <= now)
                .values(next_attempt_at=now + timedelta(seconds=LEASE_S))
                .execution_options(synchronize_session=False))
            await session.commit()
            return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def _due(self, model: Any, now: datetime) -> list[str]:
        async with self.sessions() as session:
            rows = await session.scalars(select(model.id).where(model.status == "pending", model.next_attempt_at <= now)
                                         .order_by(model.created_at).limit(BATCH))
            return list(rows)

    async def _deliveries(self) -> int:
        now, ok = self.clock.now(), 0
        for delivery_id in await self._due(EventDelivery, now):
            if not await self._claim(EventDelivery, delivery_id, now):
                continue
            async with self.sessions() as session:
                delivery = await session.get(EventDelivery, delivery_id)
                assert delivery is not None
                event = await session.get(IntegrationEvent, delivery.event_id)
                sub = await session.get(WebhookSubscription, delivery.subscription_id)
            assert event is not None and sub is not None
            body = event_body(event)
            status, error = await self._send(sub.url, body, webhook_headers(sub.secret, event, delivery_id, body, now))
            ok += await self._settle(EventDelivery, delivery_id, now, status, error, done="delivered")
        return ok

    async def _messages(self) -> int:
        url = self.settings.message_gateway_url
        now, ok = self.clock.now(), 0
        if not url:
            return 0
        for message_id in await self._due(ApplicantMessage, now):
            if not await self._claim(ApplicantMessage, message_id, now):
                continue
            async with self.sessions() as session:
                msg = await session.get(ApplicantMessage, message_id)
            assert msg is not None
            body = json.dumps({"id": msg.id, "to": msg.phone, "text": msg.body, "template": msg.template,
                               "language": msg.language}, ensure_ascii=False).encode()
            ts = int(now.timestamp())
            headers = {"Content-Type": "application/json; charset=utf-8", "X-Helpdesk-Message": msg.id,
                       "X-Helpdesk-Timestamp": str(ts),
                       "X-Helpdesk-Signature": sign(self.settings.message_gateway_secret or "", ts, body)}
            status, error = await self._send(url, body, headers)
            ok += await self._settle(ApplicantMessage, message_id, now, status, error, done="sent")
        return ok

    async def _send(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str | None]:
        try:
            return await self.post(url, body, headers, self.settings.webhook_timeout_s), None
        except (OSError, TimeoutError) as exc:  # refused, reset, DNS, timeout: retried later
            return None, f"{type(exc).__name__}: {exc}"[:500]

    async def _settle(self, model: Any, row_id: str, now: datetime, status: int | None, error: str | None,
                      *, done: str) -> int:
        ok = status is not None and 200 <= status < 300
        async with self.sessions() as session:
            row = await session.get(model, row_id)
            assert row is not None
            row.attempts += 1
            row.last_error = None if ok else (error or f"HTTP {status}")
            if hasattr(row, "last_status"):
                row.last_status = status
            if ok:
                row.status, row.next_attempt_at = done, None
                setattr(row, "delivered_at" if done == "delivered" else "sent_at", now)
            elif row.attempts >= self.settings.webhook_max_attempts:
                row.status, row.next_attempt_at = "dead", None
                log.warning("outbox %s %s dead after %s attempts: %s", model.__tablename__, row_id, row.attempts,
                            row.last_error)
            else:
                row.next_attempt_at = now + timedelta(seconds=self.backoff(row.attempts))
            await session.commit()
        return 1 if ok else 0

    async def loop(self) -> None:
        """Every process sends; a commit elsewhere is picked up within one poll interval."""
        while True:
            try:
                await self.run_once()
            except Exception:  # the database may be away; the rows wait for the next round
                log.warning("outbox round failed; retrying", exc_info=log.isEnabledFor(logging.DEBUG))
            with suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=self.settings.outbox_poll_s)
            self.wake.clear()


async def wire_integration(state: AppState, stack: AsyncExitStack) -> None:
    """The wiring step for helpdesk.app: this process's outbox sender."""
    sender = Sender(state.sessions, state.clock, state.settings, post=state.components.get("outbox_post", urllib_post))
    state.components["outbox_sender"] = sender
    start_background(stack, sender.loop(), "outbox-sender")


async def replay(session: AsyncSession, delivery_id: str, now: datetime) -> EventDelivery | None:
    """A dead letter goes back to pending with a fresh set of attempts."""
    row = await session.get(EventDelivery, delivery_id)
    if row is None:
        return None
    row.status, row.attempts, row.next_attempt_at, row.last_error = "pending", 0, now, None
    await session.flush()
    return row


Wake = Callable[[], Awaitable[None]]
