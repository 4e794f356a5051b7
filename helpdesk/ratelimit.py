"""Rate limits on what anyone can call without a staff login: the help page's API, the socket
handshake, logins. Counted with the `limits` library in Redis when HELPDESK_REDIS_URL is set (every
process shares the counts), in memory otherwise; refused with 429, Retry-After and the error body.

Rules (settings, `limits` notation such as "5/hour"):
- every anonymous request: per address and per applicant session;
- staff login, new applicant sessions, help requests and call-backs: tighter, per address and/or session;
- call-backs: also per phone number per day (hashed in the key), checked by the route itself.
A signed staff session skips the anonymous rules; static files and health probes are not counted."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from redis.exceptions import RedisError
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from helpdesk.config import Settings
from helpdesk.errors import TooManyRequests, error_body
from helpdesk.security import APPLICANT_COOKIE, STAFF_COOKIE, Signer
from helpdesk.state import AppState

log = logging.getLogger(__name__)
UNCOUNTED_PREFIXES = ("/static/", "/console", "/healthz", "/readyz", "/metrics")
TOKEN_PREFIXES = ("/api/v1/", "/api/integrations/")


@dataclass(frozen=True)
class Rule:
    name: str
    limit: RateLimitItem
    per: str  # "address" | "session"


class RateLimits:
    """The rules of one deployment over one storage."""

    def __init__(self, settings: Settings, storage: Storage) -> None:
        self.settings = settings
        self.limiter = SlidingWindowCounterRateLimiter(storage)
        s = settings
        self.anonymous = [Rule("anon", parse(s.rate_limit_anonymous), "address"),
                          Rule("anon", parse(s.rate_limit_applicant), "session")]
        # (method, path) → the tighter rules of that route, checked before the anonymous ones.
        self.routes: dict[tuple[str, str], list[Rule]] = {
            ("POST", "/api/auth/login"): [Rule("login", parse(s.rate_limit_login), "address")],
            ("POST", "/api/help/session"): [Rule("session", parse(s.rate_limit_new_session), "address")],
            ("POST", "/api/help/requests"): [Rule("request", parse(s.rate_limit_help_request), "session")],
            # Each code is a text message to someone's phone: no SMS bombing from one address.
            ("POST", "/api/help/phone-codes"): [Rule("phone-code", parse(s.rate_limit_phone_code), "address")],
            ("POST", "/api/help/callbacks"): [Rule("callback", parse(s.rate_limit_callback_session), "session"),
                                              Rule("callback", parse(s.rate_limit_callback_address), "address")],
        }
        self.phone_limit = parse(f"{s.callback_per_phone_per_day}/day")

    @classmethod
    def build(cls, settings: Settings) -> RateLimits:
        storage: Storage = MemoryStorage()
        if settings.redis_url:
            storage = RedisStorage(f"async+{settings.redis_url}", implementation="redispy",
                                   key_prefix=f"{settings.redis_prefix}rl")
        return cls(settings, storage)

    async def hit(self, rule: Rule | tuple[str, RateLimitItem], key: str) -> int | None:
        """Counts one hit; None when allowed, else the seconds until it would be. A lost Redis lets the
        request through (availability first; the lost-Redis 503 comes from the step itself)."""
        name, limit = (rule.name, rule.limit) if isinstance(rule, Rule) else rule
        try:
            if await self.limiter.hit(limit, name, key):
                return None
            stats = await self.limiter.get_window_stats(limit, name, key)
        except (RedisError, OSError) as exc:
            log.warning("rate limit not counted: Redis unavailable (%s)", type(exc).__name__)
            return None
        return max(1, math.ceil(stats.reset_time - time.time()))

    async def check_phone(self, phone: str) -> None:
        """Call-backs per phone number per day; the key holds a keyed hash, never the number."""
        digits = "".join(c for c in phone if c.isdigit())
        key = hashlib.sha256(f"{self.settings.secret_key}:{digits}".encode()).hexdigest()[:32]
        wait = await self.hit(("callback-phone", self.phone_limit), key)
        if wait is not None:
            raise TooManyRequests("this number already asked for call-backs today; we will call you",
                                  retry_after_s=wait)


class RateLimitMiddleware:
    """Applies the rules before routing, so a refused request costs no database work."""

    def __init__(self, app: ASGIApp, signer: Signer, settings: Settings) -> None:
        self.app, self.signer, self.settings = app, signer, settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limits = self._limits(scope)
        if limits is None or scope["type"] not in ("http", "websocket") or \
                scope["path"].startswith(UNCOUNTED_PREFIXES):
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        address = scope["client"][0] if scope.get("client") else "unknown"
        session = self._applicant(conn.cookies.get(APPLICANT_COOKIE))
        method = scope.get("method", "WS")
        rules = list(limits.routes.get((method, scope["path"]), []))
        # API-token routes carry no cookie: they are limited per token (helpdesk.integration.ratelimit).
        if not self._is_staff(conn.cookies.get(STAFF_COOKIE)) and not scope["path"].startswith(TOKEN_PREFIXES):
            rules += limits.anonymous
        for rule in rules:
            key = address if rule.per == "address" else session
            if key is None:
                continue
            wait = await limits.hit(rule, f"{rule.per}:{key}")
            if wait is not None:
                log.info("rate limited: %s %s (%s per %s)", method, scope["path"], rule.limit, rule.per)
                await refuse(scope, send, wait)
                return
        await self.app(scope, receive, send)

    @staticmethod
    def _limits(scope: Scope) -> RateLimits | None:
        state = getattr(getattr(scope.get("app"), "state", None), "helpdesk", None)
        return state.components.get("rate_limits") if state is not None else None

    def _is_staff(self, cookie: str | None) -> bool:
        return bool(cookie) and self.signer.loads("staff-session", cookie or "",
                                                  self.settings.session_max_age_s) is not None

    def _applicant(self, cookie: str | None) -> str | None:
        if not cookie:
            return None
        payload = self.signer.loads("applicant-session", cookie, self.settings.applicant_session_max_age_s)
        return str(payload["aid"]) if isinstance(payload, dict) and "aid" in payload else None


async def refuse(scope: Scope, send: Send, retry_after_s: int) -> None:
    if scope["type"] == "websocket":  # before accept: the server answers the handshake with 403
        await send({"type": "websocket.close", "code": 1013})
        return
    exc = TooManyRequests("too many requests; try again later", retry_after_s=retry_after_s)
    body = json.dumps(error_body(exc.code, exc.message, scope.get("request_id"))).encode()
    await send({"type": "http.response.start", "status": 429, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"retry-after", str(retry_after_s).encode())]})
    await send({"type": "http.response.body", "body": body})


async def wire_rate_limits(state: AppState, stack: AsyncExitStack) -> None:
    if state.settings.rate_limits_enabled:
        state.components["rate_limits"] = RateLimits.build(state.settings)
