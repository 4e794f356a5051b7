"""Settings from the environment (prefix HELPDESK_); defaults run a working demo."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
DEV_SECRET = "dev-insecure-secret-change-me"  # noqa: S105 - refused outside dev mode


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HELPDESK_", env_file=".env", extra="ignore")

    dev_mode: bool = Field(True, description="Allows the default secrets; never set in production.")
    secret_key: str = Field(DEV_SECRET, description="Signs sessions, CSRF tokens and TURN credentials.")
    database_url: str = Field("sqlite+aiosqlite:///./var/helpdesk.db", description="SQLAlchemy async URL.")
    database_echo: bool = False
    redis_url: str | None = Field(None, description="Unset: in-process backends. Set: Redis backends.")
    redis_prefix: str = Field("hd:", description="Namespace for every Redis key of this deployment.")
    public_base_url: str = "http://127.0.0.1:8000"
    cookie_secure: bool | None = Field(None, description="Defaults to true when public_base_url is https.")
    session_max_age_s: int = 12 * 3600
    applicant_session_max_age_s: int = 7 * 24 * 3600
    default_language: Literal["zh-CN", "en"] = "zh-CN"

    # Login throttling: after `login_free_failures` failures in `login_window_s`, each further attempt
    # waits an exponentially growing lock-out (capped).
    login_free_failures: int = 5
    login_window_s: int = 15 * 60
    login_max_lockout_s: int = 15 * 60

    # Hand-off tokens from other systems (the provincial app, the approval system).
    handoff_secret: str = Field(DEV_SECRET, description="HS256 shared secret for hand-off tokens.")
    handoff_public_key: str | None = Field(None, description="PEM public key; when set, RS256/ES256 tokens.")
    handoff_issuers: list[str] = Field(default_factory=lambda: ["jishiban-app", "approval-system"])
    handoff_max_age_s: int = 30 * 60

    # Uploads (files exchanged in calls, KB attachments).
    upload_dir: Path = REPO_ROOT / "var" / "uploads"
    upload_max_bytes: int = 20 * 1024 * 1024
    upload_allowed_types: list[str] = Field(
        default_factory=lambda: [
            "image/jpeg", "image/png", "image/gif", "image/webp", "application/pdf",
            "application/msword", "application/vnd.ms-excel",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "text/plain",
        ]
    )

    # ICE: STUN URLs and coturn's REST-style shared secret for time-limited TURN credentials.
    stun_urls: list[str] = Field(default_factory=list)
    turn_urls: list[str] = Field(default_factory=list)
    turn_secret: str | None = None
    turn_ttl_s: int = 3600

    # The journey.
    offer_timeout_s: float = 20.0
    missed_offers_before_away: int = 2
    fallback_after_s: float = 120.0
    reconnect_grace_s: float = 30.0
    heartbeat_interval_s: float = 15.0
    ws_max_message_bytes: int = 64 * 1024
    wrapup_s: float = 0.0
    default_handle_time_s: float = 300.0

    kb_index_dir: Path = REPO_ROOT / "var" / "kb-index"
    recordings_dir: Path = REPO_ROOT / "var" / "recordings"
    recording_retention_days: int = 180

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> Settings:
        if not self.dev_mode:
            for name in ("secret_key", "handoff_secret"):
                if getattr(self, name) == DEV_SECRET:
                    raise ValueError(f"HELPDESK_{name.upper()} must be set when HELPDESK_DEV_MODE is false")
            if len(self.secret_key) < 32:
                raise ValueError("HELPDESK_SECRET_KEY must be at least 32 characters")
        return self

    @cached_property
    def secure_cookies(self) -> bool:
        if self.cookie_secure is not None:
            return self.cookie_secure
        return self.public_base_url.startswith("https://")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
