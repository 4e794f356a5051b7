"""Logging: a request id on every line of a request, the work order and peer (socket member) where
known, as text or as one JSON object per line (HELPDESK_LOG_FORMAT=json, for log shippers)."""

from __future__ import annotations

import contextvars
import json
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from helpdesk.privacy.mask import PhoneMaskFilter

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
work_order_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("work_order", default=None)
peer_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("peer", default=None)


@contextmanager
def log_context(*, work_order: str | None = None, peer: str | None = None) -> Iterator[None]:
    """Tags the log lines written inside the block (None leaves the current value)."""
    tokens: list[tuple[contextvars.ContextVar[str | None], contextvars.Token[str | None]]] = []
    if work_order is not None:
        tokens.append((work_order_var, work_order_var.set(work_order)))
    if peer is not None:
        tokens.append((peer_var, peer_var.set(peer)))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        if not hasattr(record, "work_order"):
            record.work_order = work_order_var.get()
        if not hasattr(record, "peer"):
            record.peer = peer_var.get()
        return True


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        tags = [f"{k}={v}" for k in ("work_order", "peer") if (v := getattr(record, k, None))]
        return f"{line} ({' '.join(tags)})" if tags else line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, request_id, work_order, peer, exc."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("request_id", "work_order", "peer"):
            value = getattr(record, key, None)
            if value not in (None, "-"):
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def configure_logging(level: str = "INFO", fmt: str = "text") -> None:
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.addFilter(PhoneMaskFilter())  # no full phone number in any log line
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):  # through the root handler, one format
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


class RequestIdMiddleware:
    """Takes X-Request-ID from the proxy or makes one, and echoes it on the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers", [])).get(b"x-request-id", b"").decode("latin-1")[:64]
        rid = incoming if incoming.isprintable() and incoming else uuid.uuid4().hex[:16]
        token = request_id_var.set(rid)
        scope["request_id"] = rid  # for handlers that run outside this middleware (the last-resort 500)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).append((b"x-request-id", rid.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)
