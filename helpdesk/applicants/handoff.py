"""Hand-off tokens: a signed JWT another system puts in the help link (see docs/handoff-token.md).

The issuing system (the provincial app, the approval system) vouches for who the applicant is,
which service item they need and why (e.g. an approval rejection with its reason), so the agent
starts with that context instead of asking again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import jwt

from helpdesk.config import Settings
from helpdesk.errors import Unauthorized

CLOCK_SKEW_S = 30  # tolerated difference between the issuer's clock and ours
MAX_CTX_BYTES = 2048  # the context rides in the applicant cookie: keep it small
REQUIRED = ("iss", "sub", "item", "iat", "exp", "jti")


@dataclass(frozen=True)
class HandoffClaims:
    issuer: str
    subject: str
    item: str
    issued_at: datetime
    expires_at: datetime
    jti: str
    name: str | None = None
    phone: str | None = None
    priority: int = 0
    ctx: dict[str, Any] = field(default_factory=dict)

    def context(self) -> dict[str, Any]:
        """What the journey carries on (the work order, the agent's offer)."""
        return {"issuer": self.issuer, "ctx": self.ctx, "priority": self.priority}


def _invalid(why: str) -> Unauthorized:
    return Unauthorized(f"invalid hand-off token: {why}", code="token_invalid")


INTERNAL_ISSUER = "helpdesk-api"  # links the integration API signs for partners that cannot sign


def internal_key(settings: Settings) -> str:
    """The key of links this helpdesk signs itself, derived so it is never the partners' secret."""
    return hmac.new(settings.secret_key.encode(), b"handoff-links", hashlib.sha256).hexdigest()


def issue_handoff(settings: Settings, *, subject: str, item: str, now: datetime, ttl_s: int,
                  name: str | None = None, phone: str | None = None, priority: int = 0,
                  ctx: dict[str, Any] | None = None) -> tuple[str, str]:
    """A hand-off token signed by the helpdesk itself; returns (token, jti)."""
    jti = uuid.uuid4().hex
    iat = int(now.timestamp())
    claims: dict[str, Any] = {"iss": INTERNAL_ISSUER, "sub": subject, "item": item, "iat": iat,
                              "exp": iat + min(ttl_s, settings.handoff_max_age_s), "jti": jti,
                              "priority": priority, "ctx": ctx or {}}
    claims.update({k: v for k, v in (("name", name), ("phone", phone)) if v})
    return jwt.encode(claims, internal_key(settings), algorithm="HS256"), jti


def _key_and_algorithms(settings: Settings, token: str = "") -> tuple[Any, list[str]]:
    if _unverified_issuer(token) == INTERNAL_ISSUER:
        return internal_key(settings), ["HS256"]
    # With a public key only asymmetric algorithms are accepted: no HS256 signed with the PEM text.
    if settings.handoff_public_key:
        return settings.handoff_public_key, ["RS256", "ES256"]
    return settings.handoff_secret, ["HS256"]


def _opt_str(claims: dict[str, Any], name: str, max_len: int) -> str | None:
    value = claims.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > max_len:
        raise _invalid(f"claim {name!r} must be a string of at most {max_len} characters")
    return value.strip() or None


def _unverified_issuer(token: str) -> str | None:
    """Only to choose the key: the signature check that follows decides."""
    try:
        iss = jwt.decode(token, options={"verify_signature": False}).get("iss")
    except jwt.PyJWTError:
        return None
    return iss if isinstance(iss, str) else None


def verify_handoff(settings: Settings, token: str, now: datetime) -> HandoffClaims:
    """Checks signature, issuer, lifetime and claim types; raises Unauthorized with code
    token_expired or token_invalid. Replay (the jti) is checked by the caller against the database."""
    key, algorithms = _key_and_algorithms(settings, token)
    try:
        claims: dict[str, Any] = jwt.decode(
            token, key, algorithms=algorithms,
            options={"require": list(REQUIRED), "verify_exp": False, "verify_iat": False,
                     "verify_nbf": False, "verify_iss": False, "verify_aud": False},
        )
    except jwt.PyJWTError as exc:
        raise _invalid(type(exc).__name__) from exc
    for name in ("iss", "sub", "item", "jti"):
        if not isinstance(claims[name], str) or not claims[name] or len(claims[name]) > 128:
            raise _invalid(f"claim {name!r} must be a non-empty string")
    if claims["iss"] not in (*settings.handoff_issuers, INTERNAL_ISSUER):
        raise _invalid(f"issuer {claims['iss']!r} is not trusted")
    iat, exp = claims["iat"], claims["exp"]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (iat, exp)):
        raise _invalid("iat and exp must be numbers")
    if exp - iat > settings.handoff_max_age_s or exp <= iat:
        raise _invalid(f"lifetime must be at most {settings.handoff_max_age_s} s")
    ts = now.timestamp()
    if iat > ts + CLOCK_SKEW_S:
        raise _invalid("issued in the future")
    nbf = claims.get("nbf")
    if isinstance(nbf, int | float) and nbf > ts + CLOCK_SKEW_S:
        raise _invalid("not valid yet")
    if exp <= ts - CLOCK_SKEW_S:
        raise Unauthorized("this hand-off link has expired: open it again from the issuing app",
                           code="token_expired")
    priority = claims.get("priority", 0)
    if not isinstance(priority, int) or isinstance(priority, bool) or not -100 <= priority <= 100:
        raise _invalid("priority must be an integer in -100..100")
    ctx = claims.get("ctx") or {}
    if not isinstance(ctx, dict) or len(json.dumps(ctx, ensure_ascii=False).encode()) > MAX_CTX_BYTES:
        raise _invalid(f"ctx must be an object of at most {MAX_CTX_BYTES} bytes")
    return HandoffClaims(
        issuer=claims["iss"], subject=claims["sub"], item=claims["item"], jti=claims["jti"],
        issued_at=datetime.fromtimestamp(iat, UTC), expires_at=datetime.fromtimestamp(exp, UTC),
        name=_opt_str(claims, "name", 100), phone=_opt_str(claims, "phone", 32),
        priority=priority, ctx=ctx,
    )
