"""Phone verification before a call-back from an applicant who came without a hand-off token: a
six-digit code through the message gateway, throttled per phone and per applicant, five tries."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk.config import Settings
from helpdesk.errors import BadRequest, TooManyRequests
from helpdesk.integration import messages
from helpdesk.integration.models import PhoneVerification

RESEND_AFTER_S = 60
PER_PHONE_PER_DAY = 5
MAX_TRIES = 5


def _hash(settings: Settings, phone: str, code: str) -> str:
    return hmac.new(settings.secret_key.encode(), f"{phone}:{code}".encode(), hashlib.sha256).hexdigest()


async def send_code(session: AsyncSession, settings: Settings, *, applicant_id: str, phone: str, language: str,
                    now: datetime) -> dict[str, Any]:
    day_ago = now - timedelta(days=1)
    recent = (await session.execute(
        select(func.count(), func.max(PhoneVerification.created_at))
        .where(PhoneVerification.created_at > day_ago,
               (PhoneVerification.phone == phone) | (PhoneVerification.applicant_id == applicant_id)))).one()
    count, last = recent
    if last is not None and (now - last).total_seconds() < RESEND_AFTER_S:
        raise TooManyRequests("a code was sent a moment ago; wait before asking again",
                              RESEND_AFTER_S - int((now - last).total_seconds()))
    if count >= PER_PHONE_PER_DAY:
        raise TooManyRequests("too many codes for this phone today", 3600)
    code = f"{secrets.randbelow(10**6):06d}"
    session.add(PhoneVerification(applicant_id=applicant_id, phone=phone, code_hash=_hash(settings, phone, code),
                                  expires_at=now + timedelta(seconds=settings.phone_code_ttl_s), created_at=now))
    await messages.enqueue(session, phone=phone, key="verification_code", language=language, now=now,
                           fields={"code": code, "minutes": settings.phone_code_ttl_s // 60})
    out: dict[str, Any] = {"sent": True, "expires_in_s": settings.phone_code_ttl_s}
    if settings.dev_mode and not settings.message_gateway_url:
        out["dev_code"] = code  # the demo has no SMS platform: show the code on the page
    return out


async def check_code(session: AsyncSession, settings: Settings, *, applicant_id: str, phone: str,
                     code: str | None, now: datetime) -> None:
    """Raises unless the latest code sent to this phone for this applicant matches (and burns it)."""
    row = await session.scalar(
        select(PhoneVerification)
        .where(PhoneVerification.applicant_id == applicant_id, PhoneVerification.phone == phone)
        .order_by(PhoneVerification.created_at.desc()).limit(1))
    if row is None or not code:
        raise BadRequest("confirm your phone number with the code we send to it", code="phone_unverified")
    if row.verified_at is not None or row.expires_at <= now or row.attempts >= MAX_TRIES:
        raise BadRequest("this code has expired: ask for a new one", code="code_expired")
    row.attempts += 1
    if not hmac.compare_digest(row.code_hash, _hash(settings, phone, code.strip())):
        await session.commit()  # the failed try counts even though the request fails
        raise BadRequest("the code does not match", code="code_mismatch")
    row.verified_at = now
