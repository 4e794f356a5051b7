"""Password hashing (argon2), signed cookies for staff and applicant sessions, CSRF tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

STAFF_COOKIE = "hd_session"
APPLICANT_COOKIE = "hd_applicant"
CSRF_COOKIE = "hd_csrf"
CSRF_HEADER = "x-csrf-token"

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


ONE_TIME_PREFIX = "otp$"


def hash_one_time_password(password: str) -> str:
    """A machine-made one-time password (>= 72 random bits, replaced at the first login) needs no slow
    hash: argon2 guards guessable human passwords. Salted SHA-256 lets an import issue 200 of them
    in milliseconds instead of minutes."""
    salt = secrets.token_hex(8)
    return f"{ONE_TIME_PREFIX}{salt}${hashlib.sha256((salt + password).encode()).hexdigest()}"


def verify_password(password_hash: str, password: str) -> bool:
    if password_hash.startswith(ONE_TIME_PREFIX):
        salt, _, digest = password_hash[len(ONE_TIME_PREFIX):].partition("$")
        return hmac.compare_digest(digest, hashlib.sha256((salt + password).encode()).hexdigest())
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def dummy_verify() -> None:
    """Spend the same time on an unknown username as on a wrong password."""
    verify_password(_DUMMY_HASH, "not-the-password")


_DUMMY_HASH = _hasher.hash(secrets.token_hex(8))


class Signer:
    """Signs small payloads for cookies with the app secret; one salt per purpose."""

    def __init__(self, secret: str) -> None:
        self._secret = secret

    def dumps(self, purpose: str, payload: Any) -> str:
        return URLSafeTimedSerializer(self._secret, salt=purpose).dumps(payload)

    def loads(self, purpose: str, token: str, max_age_s: int) -> Any | None:
        try:
            return URLSafeTimedSerializer(self._secret, salt=purpose).loads(token, max_age=max_age_s)
        except (BadSignature, SignatureExpired):
            return None

    def new_csrf_token(self) -> str:
        nonce = secrets.token_urlsafe(18)
        return f"{nonce}.{self._mac('csrf', nonce)}"

    def csrf_token_valid(self, token: str) -> bool:
        nonce, _, mac = token.partition(".")
        return bool(nonce and mac) and hmac.compare_digest(mac, self._mac("csrf", nonce))

    def _mac(self, purpose: str, value: str) -> str:
        return hmac.new(f"{purpose}:{self._secret}".encode(), value.encode(), hashlib.sha256).hexdigest()[:32]


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
