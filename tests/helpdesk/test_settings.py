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


@pytest.mark.parametrize("freeze", [True, False])
async def test_start_up_freezes_what_it_built_only_when_asked(settings: Settings, freeze: bool) -> None:
    """HELPDESK_GC_FREEZE (on by default, off in this suite): after start-up the collector no longer
    walks start-up's objects (bench/gc_pause.py: a full collection 55-80 ms before, ~0 after)."""
    import gc

    from helpdesk.app import create_app
    from tests.conftest import create_schema

    await create_schema(settings.database_url)
    app = create_app(settings.model_copy(update={"gc_freeze": freeze}))
    gc.unfreeze()
    try:
        async with app.router.lifespan_context(app):
            frozen = gc.get_freeze_count()
    finally:
        gc.unfreeze()  # this process goes on to run other tests
    assert (frozen > 10_000) is freeze, frozen
    assert Settings().gc_freeze is False  # tests/conftest.py keeps the suite's own apps unfrozen
