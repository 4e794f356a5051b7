"""Applicant sessions: a cookie, optional name and phone, optionally vouched for by a hand-off token.

The verified hand-off context travels in the signed `hd_applicant` cookie ("hf"), so later
requests (joining the queue) can attach it to the work order without trusting the browser.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk.applicants.handoff import CLOCK_SKEW_S, HandoffClaims, verify_handoff
from helpdesk.applicants.models import Applicant, HandoffUse
from helpdesk.config import Settings
from helpdesk.errors import NotFound, Unauthorized
from helpdesk.org.models import ServiceItem
from helpdesk.security import Signer

COOKIE_PURPOSE = "applicant-session"


@dataclass
class StartedSession:
    applicant: Applicant
    item: ServiceItem | None
    handoff: dict[str, Any] | None  # {issuer, ctx, priority, item}


async def _item(session: AsyncSession, code: str | None) -> ServiceItem | None:
    if not code:
        return None
    item = await session.scalar(select(ServiceItem).where(ServiceItem.code == code))
    if item is None:
        raise NotFound(f"service item {code!r} not found", code="unknown_item")
    return item


async def _applicant_for(session: AsyncSession, claims: HandoffClaims, now: datetime) -> Applicant:
    """One applicant per (issuer, subject): the same person coming back is recognised."""
    applicant = await session.scalar(
        select(Applicant).where(Applicant.issuer == claims.issuer, Applicant.external_id == claims.subject)
    )
    if applicant is None:
        applicant = Applicant(issuer=claims.issuer, external_id=claims.subject, created_at=now)
        session.add(applicant)
    # The issuer knows the person; its name and phone win over what was typed before.
    applicant.name = claims.name or applicant.name
    applicant.phone = claims.phone or applicant.phone
    return applicant


async def start_session(
    session: AsyncSession,
    settings: Settings,
    *,
    now: datetime,
    current: Applicant | None,
    current_handoff: dict[str, Any] | None = None,
    token: str | None = None,
    name: str | None = None,
    phone: str | None = None,
    item_code: str | None = None,
) -> StartedSession:
    """Creates or reuses the applicant. Every check runs before any write, so a refused token
    leaves no row behind. Flushes; the caller commits (a jti race then fails on the primary key)."""
    claims = verify_handoff(settings, token, now) if token else None
    item = await _item(session, claims.item if claims else item_code)
    if claims is not None:
        if await session.get(HandoffUse, claims.jti) is not None:
            raise Unauthorized("this hand-off link was already used", code="token_replayed")
        applicant = await _applicant_for(session, claims, now)
        handoff: dict[str, Any] | None = claims.context() | {"item": claims.item}
    else:
        applicant = current or Applicant(created_at=now)
        session.add(applicant)
        handoff = current_handoff if current is not None else None
    applicant.name = (name or "").strip() or applicant.name
    applicant.phone = (phone or "").strip() or applicant.phone
    applicant.last_seen_at = now
    await session.flush()
    if claims is not None:
        session.add(HandoffUse(jti=claims.jti, issuer=claims.issuer, applicant_id=applicant.id,
                               used_at=now, expires_at=claims.expires_at))
        await session.flush()
    return StartedSession(applicant=applicant, item=item, handoff=handoff)


def cookie_value(signer: Signer, started: StartedSession) -> str:
    payload: dict[str, Any] = {"aid": started.applicant.id}
    if started.handoff is not None:
        payload["hf"] = started.handoff
    return signer.dumps(COOKIE_PURPOSE, payload)


def handoff_from_cookie(signer: Signer, settings: Settings, cookie: str | None) -> dict[str, Any] | None:
    """The verified hand-off context ({issuer, ctx, priority, item}) carried by the cookie, if any."""
    if not cookie:
        return None
    payload = signer.loads(COOKIE_PURPOSE, cookie, settings.applicant_session_max_age_s)
    hf = payload.get("hf") if isinstance(payload, dict) else None
    return hf if isinstance(hf, dict) else None


async def purge_handoff_uses(session: AsyncSession, now: datetime) -> int:
    """Forgets jtis of tokens that have expired anyway (they are refused as token_expired)."""
    cutoff = now - timedelta(seconds=CLOCK_SKEW_S + 60)
    result = await session.execute(delete(HandoffUse).where(HandoffUse.expires_at < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)
