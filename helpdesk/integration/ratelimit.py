"""Per-token rate limit of the integration API (the `limits` library: Redis storage when Redis is
configured, so every process counts against one budget; memory otherwise)."""

from __future__ import annotations

import math
from typing import Any

from fastapi import Depends
from limits import parse
from limits.aio.storage import MemoryStorage, RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter

from helpdesk.accounts.models import ApiToken
from helpdesk.accounts.tokens import CurrentApiToken, require_scope
from helpdesk.deps import StateDep
from helpdesk.errors import TooManyRequests
from helpdesk.state import AppState


def limiter(state: AppState) -> MovingWindowRateLimiter:
    found: MovingWindowRateLimiter | None = state.components.get("integration_limiter")
    if found is None:
        url = state.settings.redis_url
        storage: Any = (RedisStorage(url.replace("redis://", "async+redis://", 1), implementation="redispy")
                        if url else MemoryStorage())  # redis-py, which the app already uses (not coredis)
        found = state.components["integration_limiter"] = MovingWindowRateLimiter(storage)
    return found


def scoped(scope: str) -> Any:
    """The dependency of every /api/v1 route: the token, with `scope`, inside its rate limit."""

    has_scope = require_scope(scope)  # a default, not an annotation: annotations here are strings

    async def _check(state: StateDep, token: ApiToken = has_scope) -> ApiToken:
        return await token_limited(token, state)

    return Depends(_check)


async def token_limited(token: CurrentApiToken, state: StateDep) -> ApiToken:
    item = parse(state.settings.integration_rate_limit)
    lim = limiter(state)
    key = f"{state.settings.redis_prefix}api-token:{token.id}"
    if not await lim.hit(item, key):
        stats = await lim.get_window_stats(item, key)
        retry = max(1, math.ceil(stats.reset_time - state.clock.now().timestamp()))
        raise TooManyRequests(f"more than {state.settings.integration_rate_limit} requests for this API token", retry)
    return token
