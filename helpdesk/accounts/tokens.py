"""Integration API tokens: "hdk_" + random, shown once; only the SHA-256 and a short prefix stay.

Another system (the approval system, a statistics platform) calls /api/integrations/... with
`Authorization: Bearer hdk_...`. Routes declare what they need with `require_scope("scope")`;
a revoked, expired or unknown token is 401, a valid token without the scope is 403.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk.accounts import repository as repo
from helpdesk.accounts.models import ApiToken
from helpdesk.deps import ClockDep, SessionDep
from helpdesk.errors import BadRequest, Forbidden, NotFound, Unauthorized
from helpdesk.org.models import OrgUnit
from helpdesk.security import token_sha256

TOKEN_PREFIX = "hdk_"  # noqa: S105 - a marker, not a secret
PREFIX_CHARS = 12  # "hdk_" + 8 characters: enough to recognise a token in a list, useless to guess
SCOPE_RE = re.compile(r"^[a-z][a-z_]*:(read|write)$")
LAST_USED_GRANULARITY = timedelta(minutes=1)  # not one write per request


def _normalise_scopes(scopes: Iterable[str]) -> list[str]:
    out = sorted(set(scopes))
    bad = [s for s in out if not SCOPE_RE.match(s)]
    if bad or not out:
        raise BadRequest(f"scopes look like 'workorders:read'; got {bad or 'none'}", code="bad_scopes")
    return out


async def create_api_token(
    session: AsyncSession,
    *,
    name: str,
    scopes: Iterable[str],
    unit_id: int | None,
    expires_at: datetime | None,
    now: datetime,
    created_by: int | None = None,
) -> tuple[ApiToken, str]:
    """Stores a new token and returns it with the plain value, which is never shown again."""
    if expires_at is not None and expires_at <= now:
        raise BadRequest("expires_at must be in the future")
    if unit_id is not None and await session.get(OrgUnit, unit_id) is None:
        raise NotFound(f"unit {unit_id} not found")
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        name=name, prefix=plain[:PREFIX_CHARS], token_hash=token_sha256(plain),
        scopes=_normalise_scopes(scopes), unit_id=unit_id, created_by=created_by, created_at=now,
        expires_at=expires_at,
    )
    session.add(token)
    await session.flush()
    return token, plain


async def revoke_api_token(session: AsyncSession, *, token_id: int, now: datetime) -> ApiToken:
    token = await repo.get_token(session, token_id)
    if token is None:
        raise NotFound(f"API token {token_id} not found")
    if token.revoked_at is None:
        token.revoked_at = now
        await session.flush()
    return token


async def verify_api_token(session: AsyncSession, plain: str, now: datetime) -> ApiToken:
    """The live token for this value, or Unauthorized; notes when it was last used."""
    token = None
    if plain.startswith(TOKEN_PREFIX):
        token = await repo.get_token_by_hash(session, token_sha256(plain))
    if token is None:
        raise Unauthorized("unknown API token", code="invalid_token")
    if token.revoked_at is not None:
        raise Unauthorized("this API token was revoked", code="invalid_token")
    if token.expires_at is not None and token.expires_at <= now:
        raise Unauthorized("this API token has expired", code="invalid_token")
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_GRANULARITY:
        token.last_used_at = now
        await session.flush()
    return token


async def list_api_tokens(session: AsyncSession) -> list[ApiToken]:
    return list(await repo.list_tokens(session))


def token_view(token: ApiToken, now: datetime) -> dict[str, Any]:
    """A token as admins see it: never the hash."""
    state = "active"
    if token.revoked_at is not None:
        state = "revoked"
    elif token.expires_at is not None and token.expires_at <= now:
        state = "expired"
    return {
        "id": token.id, "name": token.name, "prefix": token.prefix, "scopes": list(token.scopes),
        "unit_id": token.unit_id, "created_at": token.created_at, "expires_at": token.expires_at,
        "revoked_at": token.revoked_at, "last_used_at": token.last_used_at, "state": state,
    }


async def get_api_token(request: Request, session: SessionDep, clock: ClockDep) -> ApiToken:
    """The caller's API token from `Authorization: Bearer ...` (any scope)."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthorized("send Authorization: Bearer <API token>", code="invalid_token")
    token = await verify_api_token(session, value.strip(), clock.now())
    await session.commit()  # last_used_at; the token row is all this dependency changed
    return token


CurrentApiToken = Annotated[ApiToken, Depends(get_api_token)]


def require_scope(scope: str) -> Any:
    """A dependency giving the API token if it carries `scope`:
    `token: Annotated[ApiToken, require_scope("workorders:read")]`."""

    async def _check(token: CurrentApiToken) -> ApiToken:
        if scope not in token.scopes:
            raise Forbidden(f"this API token lacks the scope {scope!r}", code="missing_scope")
        return token

    return Depends(_check)
