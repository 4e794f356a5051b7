"""Hand-off tokens: valid, expired, forged, replayed, wrong issuer, unknown item; nothing created
when refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk.applicants.handoff import verify_handoff
from helpdesk.applicants.models import Applicant, HandoffUse
from helpdesk.applicants.service import handoff_from_cookie
from helpdesk.config import Settings
from helpdesk.errors import Unauthorized
from helpdesk.security import Signer
from tests.helpdesk.factories import api_client, make_item, make_unit

SECRET = "a-shared-secret-of-at-least-32-bytes!!"
CTX = {"kind": "approval_rejected", "reason": "企业名称重复", "application_no": "SP2026113000017"}


@pytest.fixture
def hs_settings(settings: Settings) -> Settings:
    return Settings(**settings.model_dump() | {"handoff_secret": SECRET})


@pytest.fixture
async def item_code(session: AsyncSession) -> str:
    item = await make_item(session, units=[await make_unit(session)], code="QY-SL-001", name="企业设立登记")
    await session.commit()
    return item.code


def claims(clock: Any, **over: Any) -> dict[str, Any]:
    now = int(clock.now().timestamp())
    base = {"iss": "approval-system", "sub": "user-4711", "item": "QY-SL-001", "iat": now,
            "exp": now + 600, "jti": uuid.uuid4().hex, "name": "王五", "phone": "13800000000",
            "priority": 2, "ctx": CTX}
    return {k: v for k, v in (base | over).items() if v is not None}


def sign(payload: dict[str, Any], key: Any = SECRET, alg: str = "HS256") -> str:
    return jwt.encode(payload, key, algorithm=alg)


async def counts(session: AsyncSession) -> tuple[int, int]:
    applicants = await session.scalar(select(func.count()).select_from(Applicant))
    uses = await session.scalar(select(func.count()).select_from(HandoffUse))
    return int(applicants or 0), int(uses or 0)


async def test_a_valid_token_creates_the_applicant_and_carries_the_context(hs_settings, clock, session,
                                                                           item_code) -> None:
    async with api_client(hs_settings, clock) as client:
        r = await client.post("/api/help/session", json={"token": sign(claims(clock))})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["applicant"]["name"] == "王五" and body["applicant"]["phone"] == "13800000000"
        assert body["item"] == {"code": "QY-SL-001", "name": "企业设立登记"}
        assert body["handoff"] == {"issuer": "approval-system", "ctx": CTX, "priority": 2}
        cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith("hd_applicant="))
        assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
        signer = Signer(hs_settings.secret_key)
        carried = handoff_from_cookie(signer, hs_settings, client.cookies["hd_applicant"])
        assert carried == {"issuer": "approval-system", "ctx": CTX, "priority": 2, "item": "QY-SL-001"}
        # The same person with a fresh link is the same applicant; plain reloads keep the context.
        again = await client.post("/api/help/session", json={"token": sign(claims(clock, name=None))})
        assert again.json()["applicant"] == body["applicant"]  # name kept when the link omits it
        reload = await client.post("/api/help/session", json={})
        assert reload.json()["applicant"]["id"] == body["applicant"]["id"]
        assert reload.json()["handoff"]["ctx"] == CTX
    row = await session.get(Applicant, body["applicant"]["id"])
    assert row is not None and (row.issuer, row.external_id) == ("approval-system", "user-4711")
    assert await counts(session) == (1, 2)


@pytest.mark.parametrize(("case", "code"), [
    ("expired", "token_expired"),
    ("forged", "token_invalid"),
    ("wrong_issuer", "token_invalid"),
    ("missing_jti", "token_invalid"),
    ("too_long_lived", "token_invalid"),
    ("issued_in_future", "token_invalid"),
    ("not_a_jwt", "token_invalid"),
    ("alg_none", "token_invalid"),
    ("bad_priority", "token_invalid"),
    ("ctx_not_object", "token_invalid"),
])
async def test_a_refused_token_creates_nothing(hs_settings, clock, session, item_code, case, code) -> None:
    now = int(clock.now().timestamp())
    token = {
        "expired": lambda: sign(claims(clock, iat=now - 700, exp=now - 100)),
        "forged": lambda: sign(claims(clock), key="somebody-elses-secret-of-32-bytes!!"),
        "wrong_issuer": lambda: sign(claims(clock, iss="evil-portal")),
        "missing_jti": lambda: sign(claims(clock, jti=None)),
        "too_long_lived": lambda: sign(claims(clock, exp=now + hs_settings.handoff_max_age_s + 1)),
        "issued_in_future": lambda: sign(claims(clock, iat=now + 3600, exp=now + 3700)),
        "not_a_jwt": lambda: "definitely.not.ajwt",
        "alg_none": lambda: jwt.encode(claims(clock), None, algorithm="none"),
        "bad_priority": lambda: sign(claims(clock, priority="high")),
        "ctx_not_object": lambda: sign(claims(clock, ctx=["x"])),
    }[case]()
    async with api_client(hs_settings, clock) as client:
        r = await client.post("/api/help/session", json={"token": token, "name": "冒名"})
        assert r.status_code == 401 and r.json()["error"] == code
        assert "hd_applicant" not in client.cookies
    assert await counts(session) == (0, 0)


async def test_a_replayed_token_is_refused(hs_settings, clock, session, item_code) -> None:
    token = sign(claims(clock))
    async with api_client(hs_settings, clock) as first:
        assert (await first.post("/api/help/session", json={"token": token})).status_code == 200
    async with api_client(hs_settings, clock) as second:  # another browser, same link
        r = await second.post("/api/help/session", json={"token": token})
        assert r.status_code == 401 and r.json()["error"] == "token_replayed"
        assert "hd_applicant" not in second.cookies
    assert await counts(session) == (1, 1)


async def test_an_unknown_item_is_404_and_creates_nothing(hs_settings, clock, session, item_code) -> None:
    async with api_client(hs_settings, clock) as client:
        r = await client.post("/api/help/session", json={"token": sign(claims(clock, item="NO-SUCH"))})
        assert r.status_code == 404 and r.json()["error"] == "unknown_item"
        plain = await client.post("/api/help/session", json={"item": "NO-SUCH"})
        assert plain.status_code == 404
    assert await counts(session) == (0, 0)


async def test_without_a_token_the_cookie_session_is_reused(settings, clock, session, item_code) -> None:
    async with api_client(settings, clock) as client:
        first = (await client.post("/api/help/session", json={"item": "QY-SL-001"})).json()
        assert first["handoff"] is None and first["item"]["code"] == "QY-SL-001"
        typed = {"name": "赵六", "phone": "0312-1234567"}
        second = (await client.post("/api/help/session", json=typed)).json()
        assert second["applicant"] == {"id": first["applicant"]["id"]} | typed
        bad = await client.post("/api/help/session", json={"phone": "<script>"})
        assert bad.status_code == 422
    assert await counts(session) == (1, 0)


def _hs256_by_hand(payload: dict[str, Any], key: bytes) -> str:
    """PyJWT refuses to HMAC with a PEM key, so forge the token the way an attacker would."""
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps(payload).encode())
    mac = hmac.new(key, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(mac)}"


def _keypair(alg: str) -> Any:
    if alg == "RS256":
        return rsa.generate_private_key(65537, 2048)
    return ec.generate_private_key(ec.SECP256R1())


def _pem(private_key: Any) -> str:
    return private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_public_key_tokens_and_no_algorithm_confusion(settings, clock, alg) -> None:
    key, other = _keypair(alg), _keypair(alg)
    pem = _pem(key)
    pk_settings = Settings(**settings.model_dump() | {"handoff_public_key": pem})
    verified = verify_handoff(pk_settings, sign(claims(clock), key=key, alg=alg), clock.now())
    assert verified.subject == "user-4711" and verified.priority == 2 and verified.ctx == CTX
    assert verified.expires_at - verified.issued_at == timedelta(seconds=600)
    # An HS256 token keyed with the public key text (the classic confusion), or with the shared
    # secret, is refused once a public key is configured.
    for forged in (_hs256_by_hand(claims(clock), pem.encode()), sign(claims(clock), key=SECRET)):
        with pytest.raises(Unauthorized) as err:
            verify_handoff(pk_settings, forged, clock.now())
        assert err.value.code == "token_invalid"
    with pytest.raises(Unauthorized):
        verify_handoff(pk_settings, sign(claims(clock), key=other, alg=alg), clock.now())


def test_expiry_follows_the_given_clock(hs_settings, clock) -> None:
    token = sign(claims(clock))
    assert verify_handoff(hs_settings, token, clock.now()).item == "QY-SL-001"
    with pytest.raises(Unauthorized) as err:
        verify_handoff(hs_settings, token, clock.now() + timedelta(seconds=700))
    assert err.value.code == "token_expired"
