"""Per-token rate limit of the integration API, on the deployment's rate-limit storage
(helpdesk.ratelimit: Redis when configured, so every process counts against one budget)."""

from __future__ import annotations

from typing import Any

from fastapi import Depends
from limits import parse

from helpdesk.accounts.models import ApiToken
from helpdesk.accounts.tokens import CurrentApiToken, require_scope
from helpdesk.deps import StateDep
from helpdesk.errors import TooManyRequests


def scoped(scope: str) -> Any:
    """The dependency of every /api/v1 route: the token, with `scope`, inside its rate limit."""

    has_scope = require_scope(scope)  # a default, not an annotation: annotations here are strings

    async def _check(state: StateDep, token: ApiToken = has_scope) -> ApiToken:
        return await token_limited(token, state)

    return Depends(_check)


async def token_limited(token: CurrentApiToken, state: StateDep) -> ApiToken:
    limits = state.components.get("rate_limits")  # None: rate limits switched off (load tests)
    if limits is not None:
        wait = await limits.hit(("api-token", parse(state.settings.integration_rate_limit)), str(token.id))
        if wait is not None:
            raise TooManyRequests(f"more than {state.settings.integration_rate_limit} requests for this API token",
                                  retry_after_s=wait)
    return token
