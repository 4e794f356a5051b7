"""Integration tokens as administrators manage them: a unit admin sees and makes only tokens bound
to a unit of their subtree; creation and revocation are recorded in the audit chain."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk.accounts import tokens
from helpdesk.accounts.models import ApiToken
from helpdesk.admin import audit
from helpdesk.admin.scope import AdminScope, unit_in_scope
from helpdesk.errors import BadRequest, NotFound


def _visible(scope: AdminScope) -> Any:
    return ApiToken.unit_id.in_(scope.unit_ids()) if not scope.is_admin else ApiToken.id.is_not(None)


async def list_tokens(session: AsyncSession, scope: AdminScope, now: datetime) -> list[dict[str, Any]]:
    rows = await session.scalars(select(ApiToken).where(_visible(scope)).order_by(ApiToken.id))
    return [tokens.token_view(t, now) for t in rows]


async def create_token(session: AsyncSession, scope: AdminScope, *, name: str, scopes: list[str],
                       unit_id: int | None, expires_at: datetime | None, now: datetime) -> tuple[ApiToken, str]:
    if not name.strip():
        raise BadRequest("a token needs a name", code="missing_name")
    if unit_id is None:
        scope.require_admin("a token for the whole tree")
    else:
        await unit_in_scope(session, scope, unit_id)
    token, plain = await tokens.create_api_token(session, name=name.strip(), scopes=scopes, unit_id=unit_id,
                                                 expires_at=expires_at, now=now,
                                                 created_by=scope.staff.id if scope.staff else None)
    await audit.record(session, kind="token.create", actor=audit.actor_of(scope.staff), at=now,
                       target=f"token:{token.id}", after={"name": token.name, "prefix": token.prefix,
                                                          "scopes": token.scopes, "unit_id": unit_id})
    return token, plain


async def revoke_token(session: AsyncSession, scope: AdminScope, token_id: int, now: datetime) -> ApiToken:
    token = await session.scalar(select(ApiToken).where(ApiToken.id == token_id, _visible(scope)))
    if token is None:
        raise NotFound(f"API token {token_id} not found")
    was = token.revoked_at
    token = await tokens.revoke_api_token(session, token_id=token_id, now=now)
    if was is None:
        await audit.record(session, kind="token.revoke", actor=audit.actor_of(scope.staff), at=now,
                           target=f"token:{token.id}", before={"state": "active"}, after={"state": "revoked"})
    return token
