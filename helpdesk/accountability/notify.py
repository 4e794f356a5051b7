"""The notification sink: every event lands in the recipients' console (a staff_notifications row,
then the `on_notification` hook the wiring sets to push it live) and, when a webhook is set, in an
outbox of signed POSTs to the SMS/IM gateway, retried with backoff by `deliver_due`.

Signature: X-Helpdesk-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>, with the
timestamp (unix seconds) in X-Helpdesk-Timestamp and the delivery id in X-Helpdesk-Delivery, so a
receiver can refuse old or replayed requests and drop duplicates."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import urllib.error
import urllib.request
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from helpdesk.accountability.models import StaffNotification, WebhookDelivery
from helpdesk.clock import Clock
from helpdesk.config import Settings

log = logging.getLogger(__name__)
LEASE_S = 60.0  # a delivery being sent is hidden from other senders this long

OnNotification = Callable[[int, dict[str, Any]], Awaitable[None]]
Post = Callable[[str, bytes, dict[str, str], float], Awaitable[int]]


@dataclass
class NotifyEvent:
    """kind: reminder | red | overdue | escalation | reassigned | claimed | ..."""

    kind: str
    title: str
    staff_ids: Sequence[int]
    work_order_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


Notify = Callable[[NotifyEvent], Awaitable[None]]
AfterCommit = Callable[[], Awaitable[None]]


def stage(notify: Notify, session: AsyncSession, event: NotifyEvent) -> AfterCommit:
    """The notification joins the step's transaction when `notify` is the real Notifier; any other
    notify (a test's inbox, null_notify) is simply called after the commit."""
    if isinstance(notify, Notifier):
        return notify.stage(session, event)
    return lambda: notify(event)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={mac}"


def verify_signature(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """What a gateway runs (and the tests): constant-time comparison."""
    return hmac.compare_digest(sign(secret, int(timestamp), body), signature)


async def urllib_post(url: str, body: bytes, headers: dict[str, str], timeout_s: float) -> int:
    """The standard library's HTTP client in a thread: no extra dependency for one POST."""

    def run() -> int:
        req = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - configured URL
        try:
            with urllib.request.urlopen(req, timeout=timeout_s) as resp:  # noqa: S310
                return int(resp.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)

    return await asyncio.to_thread(run)


class Notifier:
    """Call it with a NotifyEvent (it is the sweep's `notify`)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        settings: Settings,
        post: Post = urllib_post,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.settings = settings
        self.post = post
        self.on_notification: OnNotification | None = None  # set by the wiring: push to the console

    async def __call__(self, event: NotifyEvent) -> None:
        async with self.sessions() as session:
            after_commit = self.stage(session, event)
            await session.commit()
        await after_commit()

    def stage(self, session: AsyncSession, event: NotifyEvent) -> AfterCommit:
        """Adds the notification rows (and the webhook delivery) to the caller's transaction, so they
        commit or roll back with the step; returns what to do once it has committed (push, send)."""
        now = self.clock.now()
        recipients = list(dict.fromkeys(event.staff_ids))
        rows = [
            StaffNotification(staff_id=sid, kind=event.kind, work_order_id=event.work_order_id,
                              title=event.title[:255], body=event.data, created_at=now)
            for sid in recipients
        ]
        session.add_all(rows)
        delivery = self._outbox(session, event, recipients, now)
        return lambda: self._after_commit(rows, delivery)

    async def _after_commit(self, rows: list[StaffNotification], delivery: WebhookDelivery | None) -> None:
        if self.on_notification is not None:
            for row in rows:
                try:
                    await self.on_notification(row.staff_id, view(row))
                except Exception:  # a push failure must not lose the stored notification
                    log.exception("pushing notification %s to staff %s failed", row.id, row.staff_id)
        if delivery is not None:
            await self.deliver_due()

    def _outbox(
        self, session: AsyncSession, event: NotifyEvent, recipients: list[int], now: datetime
    ) -> WebhookDelivery | None:
        url = self.settings.webhook_url
        if not url:
            return None
        delivery_id = uuid.uuid4().hex
        body = json.dumps(
            {
                "id": delivery_id,
                "at": now.isoformat(),
                "kind": event.kind,
                "title": event.title,
                "work_order_id": event.work_order_id,
                "staff_ids": recipients,
                "data": event.data,
            },
            ensure_ascii=False,
            sort_keys=True,
            default=str,
        )
        row = WebhookDelivery(
            id=delivery_id,
            kind=event.kind,
            url=url,
            body=body,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        session.add(row)
        return row

    def backoff(self, attempts: int) -> float:
        return float(self.settings.webhook_backoff_s * 2 ** max(attempts - 1, 0))

    async def deliver_due(self) -> int:
        """Sends every delivery whose time has come; returns how many succeeded. Stored times, no
        sleeping: the sweeper calls this each round."""
        now = self.clock.now()
        async with self.sessions() as session:
            due = (
                await session.scalars(
                    select(WebhookDelivery.id)
                    .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
                    .order_by(WebhookDelivery.created_at)
                    .limit(100)
                )
            ).all()
        delivered = 0
        for delivery_id in due:
            delivered += await self._attempt(delivery_id, now)
        return delivered

    async def _attempt(self, delivery_id: str, now: datetime) -> int:
        async with self.sessions() as session:
            # Lease it: another process sweeping at the same moment skips it.
            leased = await session.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.id == delivery_id,
                    WebhookDelivery.status == "pending",
                    WebhookDelivery.next_attempt_at <= now,
                )
                .values(next_attempt_at=now + timedelta(seconds=LEASE_S))
                .execution_options(synchronize_session=False)
            )
            if leased.rowcount != 1:  # type: ignore[attr-defined]
                return 0
            row = await session.get(WebhookDelivery, delivery_id)
            assert row is not None
            await session.commit()
        body = row.body.encode()
        ts = int(now.timestamp())
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-Helpdesk-Timestamp": str(ts),
            "X-Helpdesk-Delivery": row.id,
            "X-Helpdesk-Event": row.kind,
            "X-Helpdesk-Signature": sign(self.settings.webhook_secret or "", ts, body),
        }
        status: int | None = None
        error: str | None = None
        try:
            status = await self.post(row.url, body, headers, self.settings.webhook_timeout_s)
        except (OSError, TimeoutError) as exc:  # refused, reset, DNS, timeout: retry later
            error = f"{type(exc).__name__}: {exc}"[:500]
        ok = status is not None and 200 <= status < 300
        async with self.sessions() as session:
            row = await session.get(WebhookDelivery, delivery_id)
            assert row is not None
            row.attempts += 1
            row.last_status = status
            row.last_error = error if error else (None if ok else f"HTTP {status}")
            if ok:
                row.status, row.delivered_at, row.next_attempt_at = "delivered", now, None
            elif row.attempts >= self.settings.webhook_max_attempts:
                row.status, row.next_attempt_at = "failed", None
                log.warning("webhook delivery %s given up after %s attempts: %s", row.id, row.attempts, row.last_error)
            else:
                row.next_attempt_at = now + timedelta(seconds=self.backoff(row.attempts))
            await session.commit()
        return 1 if ok else 0


def view(row: StaffNotification) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "work_order_id": row.work_order_id,
        "title": row.title,
        "body": row.body,
        "created_at": row.created_at.isoformat(),
        "read_at": row.read_at.isoformat() if row.read_at else None,
    }


async def null_notify(event: NotifyEvent) -> None:
    """For callers without a notifier (tests, scripts): the event is only logged."""
    log.info("notification (not delivered): %s", asdict(event))
