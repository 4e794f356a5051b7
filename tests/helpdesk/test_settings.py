"""Settings: production refuses default or short secrets; the HELPDESK_ prefix configures."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from helpdesk.config import DEV_SECRET, Settings

STRONG = "x" * 48


def test_production_refuses_the_default_secret() -> None:
    with pytest.raises(ValidationError, match="HELPDESK_SECRET_KEY"):
        Settings(dev_mode=False, handoff_secret=STRONG)
    with pytest.raises(ValidationError, match="HELPDESK_HANDOFF_SECRET"):
        Settings(dev_mode=False, secret_key=STRONG)


def test_production_refuses_a_short_secret() -> None:
    with pytest.raises(ValidationError, match="at least 32"):
        Settings(dev_mode=False, secret_key="too-short-but-not-default", handoff_secret=STRONG)
    with pytest.raises(ValidationError, match="HELPDESK_HANDOFF_SECRET must be at least 32"):
        Settings(dev_mode=False, secret_key=STRONG, handoff_secret="short-shared-secret")
    # With a public key the shared secret is unused (RS256/ES256 only).
    Settings(dev_mode=False, secret_key=STRONG, handoff_secret="unused", handoff_public_key="-----BEGIN...")


def test_production_accepts_strong_secrets_and_dev_mode_accepts_defaults() -> None:
    prod = Settings(dev_mode=False, secret_key=STRONG, handoff_secret=STRONG)
    assert prod.secret_key == STRONG
    assert Settings(dev_mode=True).secret_key == DEV_SECRET


def test_env_prefix_configures(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELPDESK_DEV_MODE", "false")
    monkeypatch.setenv("HELPDESK_SECRET_KEY", STRONG)
    monkeypatch.setenv("HELPDESK_HANDOFF_SECRET", STRONG)
    monkeypatch.setenv("HELPDESK_LOGIN_FREE_FAILURES", "3")
    monkeypatch.setenv("HELPDESK_HANDOFF_ISSUERS", '["jishiban-app"]')
    monkeypatch.setenv("HELPDESK_PUBLIC_BASE_URL", "https://zwfw.example.gov.cn")
    monkeypatch.setenv("LOGIN_FREE_FAILURES", "99")  # unprefixed: ignored
    s = Settings()
    assert s.dev_mode is False and s.login_free_failures == 3
    assert s.handoff_issuers == ["jishiban-app"]
    assert s.secure_cookies is True  # https base URL → Secure cookies
    monkeypatch.setenv("HELPDESK_SECRET_KEY", DEV_SECRET)
    with pytest.raises(ValidationError):
        Settings()
