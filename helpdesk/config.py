"""Settings from the environment (prefix HELPDESK_); defaults run a working demo."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
DEV_SECRET = "dev-insecure-secret-change-me"  # noqa: S105 - refused outside dev mode


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HELPDESK_", env_file=".env", extra="ignore")

    dev_mode: bool = Field(True, description="Allows the default secrets; never set in production.")
    secret_key: str = Field(DEV_SECRET, description="Signs sessions, CSRF tokens and TURN credentials.")
    database_url: str = Field("sqlite+aiosqlite:///./var/helpdesk.db", description="SQLAlchemy async URL.")
    database_echo: bool = False
    log_format: Literal["text", "json"] = Field(
        "text", description="`json`: one JSON object per log line (request, work-order and peer ids).")
    log_level: str = Field("INFO", description="Root log level of `helpdesk serve`.")
    redis_url: str | None = Field(None, description="Unset: in-process backends. Set: Redis backends.")
    redis_prefix: str = Field("hd:", description="Namespace for every Redis key of this deployment.")
    public_base_url: str = "http://127.0.0.1:8000"
    cookie_secure: bool | None = Field(None, description="Defaults to true when public_base_url is https.")
    session_max_age_s: int = 12 * 3600
    applicant_session_max_age_s: int = 7 * 24 * 3600
    default_language: Literal["zh-CN", "en"] = "zh-CN"
    frame_ancestors: list[str] = Field(
        default_factory=lambda: ["'self'"],
        description="Who may embed the pages in a frame (CSP frame-ancestors), e.g. the provincial app's "
        "web-view origin `https://app.example.gov.cn`; `'none'`: nobody.")
    metrics_public: bool | None = Field(
        None, description="GET /metrics without a token. Default: only in dev mode; otherwise it needs "
        "`Authorization: Bearer` with an API token of scope `metrics:read`.")
    api_docs_public: bool = Field(False, description="Serve /docs and /openapi.json outside dev mode too.")

    # Login throttling: after `login_free_failures` failures in `login_window_s`, each further attempt
    # waits an exponentially growing lock-out (capped).
    login_free_failures: int = 5
    login_window_s: int = 15 * 60
    login_max_lockout_s: int = 15 * 60

    # Rate limits (helpdesk/ratelimit.py), in `limits` notation ("N/second|minute|hour|day"); counted in
    # Redis when HELPDESK_REDIS_URL is set. Behind a reverse proxy, let uvicorn trust its
    # X-Forwarded-For (FORWARDED_ALLOW_IPS) or every applicant shares the proxy's address.
    rate_limits_enabled: bool = Field(True, description="Off only for load tests from one address.")
    rate_limit_anonymous: str = Field(
        "600/minute", description="Any request without a staff login, per address (static files excepted).")
    rate_limit_applicant: str = Field("120/minute", description="Any request of one applicant session.")
    rate_limit_login: str = Field("10/minute", description="Staff login attempts per address (on top of the "
                                  "per-username lock-out).")
    rate_limit_new_session: str = Field("30/minute", description="New applicant sessions per address.")
    rate_limit_help_request: str = Field("10/minute", description="Video-help requests per applicant session.")
    rate_limit_callback_session: str = Field(
        "6/hour", description="Call-back requests per applicant session (room for mistyped phone codes).")
    rate_limit_callback_address: str = Field("5/hour", description="Call-back requests per address.")
    rate_limit_phone_code: str = Field("10/hour", description="Phone verification codes sent per address.")
    callback_per_phone_per_day: int = Field(3, ge=1, description="Call-back requests per phone number per day.")

    # Hand-off tokens from other systems (the provincial app, the approval system).
    handoff_secret: str = Field(DEV_SECRET, description="HS256 shared secret for hand-off tokens.")
    handoff_public_key: str | None = Field(None, description="PEM public key; when set, RS256/ES256 tokens.")
    handoff_issuers: list[str] = Field(default_factory=lambda: ["jishiban-app", "approval-system"])
    handoff_max_age_s: int = 30 * 60

    # Uploads (files exchanged in calls, KB attachments).
    upload_dir: Path = REPO_ROOT / "var" / "uploads"
    upload_max_bytes: int = 20 * 1024 * 1024
    import_max_rows: int = Field(default=50_000, description="Most data rows one import file may hold "
                                 "(items, units, staff); a larger file is refused with a clear error.")
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
    monitor_tell_applicant: bool = Field(
        True, description="A supervisor monitoring a call is announced to the applicant too (the agent "
        "is always told).")
    heartbeat_interval_s: float = 15.0
    reconcile_interval_s: float = Field(
        10.0, gt=0, description="How often the leader compares Redis with the database and repairs stuck "
        "calls, agents and waiting requests (docs/redis.md).")
    ws_max_message_bytes: int = 64 * 1024
    gc_freeze: bool = Field(
        True, description="After start-up, move what start-up built out of the garbage collector's reach "
        "(gc.freeze): a full collection no longer walks its ~230,000 objects (55-80 ms per collection, measured). "
        "Off in the test suite, which starts many apps in one process.")
    ws_compression: bool = Field(
        False, description="permessage-deflate on /ws (`helpdesk serve`). Off: it costs ~36 KB of server "
        "memory per socket and CPU per message, for signaling messages that are small.")
    wrapup_s: float = Field(
        120.0, description="Longest wrap-up after a call; the console ends it sooner by going ready."
    )
    default_handle_time_s: float = 300.0
    queue_routing: Literal["index", "scan"] = Field(
        "index", description="Routing by index (reads only what a change touches); `scan` re-reads the "
        "whole queue on every change and is kept only as the benchmark's baseline.")

    # Accountability (helpdesk.accountability): follow-up deadlines in business seconds (paused
    # outside opening hours, weekends and holidays); a policy per item/unit overrides them.
    followup_t1_s: int = Field(10 * 60, description="Unclaimed this long: the owner is reminded (T1).")
    followup_t2_s: int = Field(
        20 * 60, description="Unclaimed this long: red flag, the unit's supervisor is told (T2).")
    followup_t3_s: int = Field(
        60 * 60, description="Unclaimed this long: escalated to the parent unit; one more level up after "
        "each further T3.")
    followup_resolve_s: int = Field(
        3 * 7 * 3600, description="Resolution deadline of an unresolved work order (3 working days of 7 h).")
    sweep_interval_s: float = Field(
        15.0, description="How often the leader sweeps follow-up deadlines; 0: no sweeper in this process.")
    service_level_threshold_s: float = Field(
        20.0, description="Service level: share of calls answered within this wait.")
    webhook_url: str | None = Field(
        None, description="Staff notifications are also POSTed here (SMS/IM gateway).")
    webhook_secret: str | None = Field(
        None, description="HMAC-SHA256 key of the X-Helpdesk-Signature header.")
    webhook_max_attempts: int = Field(6, description="Webhook attempts before a delivery is given up.")
    webhook_backoff_s: float = Field(2.0, description="First retry delay; doubles with each attempt.")
    webhook_timeout_s: float = Field(5.0, description="Timeout of one webhook request.")
    outbox_poll_s: float = Field(
        1.0, description="How often each process looks for due webhook deliveries and messages.")
    webhook_replay_window_s: int = Field(
        300, description="Receivers should refuse a webhook whose X-Helpdesk-Timestamp is older than this.")
    message_gateway_url: str | None = Field(
        None, description="Messages to applicants (SMS/IM) are POSTed here as signed JSON; unset: kept unsent.")
    message_gateway_secret: str | None = Field(None, description="HMAC-SHA256 key for the message gateway.")
    integration_rate_limit: str = Field("120/minute", description="Requests per API token to /api/v1/.")
    phone_verification: bool = Field(
        True, description="A call-back from an applicant without a hand-off token needs a code sent to the phone.")
    phone_code_ttl_s: int = Field(600, description="How long a phone verification code is valid.")

    # Personal data (个人信息保护法): how long it is kept; a sweep removes what is older
    # (helpdesk/privacy/retention.py). Recordings and snapshots: recording_retention_days.
    retention_call_files_days: int = Field(180, ge=1, description="Files sent in calls and attached to work "
                                           "orders: deleted from disk after this many days.")
    retention_chat_days: int = Field(365, ge=1, description="Chat messages of calls: deleted after this many days.")
    retention_phone_days: int = Field(90, ge=1, description="Phone numbers of applicants and finished call-backs: "
                                      "blanked this many days after last use.")
    privacy_sweep_interval_s: float = Field(3600.0, description="How often the retention sweep runs; 0: never "
                                            "in this process.")

    # Evidence integrity (helpdesk/accountability/checkpoint.py).
    audit_signing_key: str | None = Field(
        None, description="Ed25519 private key (PEM) that signs audit checkpoints; unset: derived from the "
        "secret key. Auditors pin its public half (`helpdesk audit verify --public-key`).")
    audit_checkpoint_interval_s: float = Field(
        3600.0, description="How often a process checks that today's signed checkpoint exists; 0: never here.")
    audit_checkpoint_webhook_url: str | None = Field(
        None, description="Each daily checkpoint is also POSTed here (signed like staff webhooks).")

    kb_index_dir: Path = REPO_ROOT / "var" / "kb-index"
    recordings_dir: Path = REPO_ROOT / "var" / "recordings"
    recording_retention_days: int = 180

    @field_validator("rate_limit_anonymous", "rate_limit_applicant", "rate_limit_login", "rate_limit_new_session",
                     "rate_limit_phone_code",
                     "rate_limit_help_request", "rate_limit_callback_session", "rate_limit_callback_address")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        from limits import parse

        parse(value)  # ValueError names the bad notation at start-up
        return value

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> Settings:
        for source in self.frame_ancestors:  # one header value: nothing may end the directive
            if not source or any(c in source for c in ";,\r\n") or " " in source.strip():
                raise ValueError(f"HELPDESK_FRAME_ANCESTORS: not a CSP source: {source!r}")
        if not self.dev_mode:
            for name in ("secret_key", "handoff_secret"):
                if getattr(self, name) == DEV_SECRET:
                    raise ValueError(f"HELPDESK_{name.upper()} must be set when HELPDESK_DEV_MODE is false")
            if len(self.secret_key) < 32:
                raise ValueError("HELPDESK_SECRET_KEY must be at least 32 characters")
            if not self.handoff_public_key and len(self.handoff_secret) < 32:
                raise ValueError("HELPDESK_HANDOFF_SECRET must be at least 32 characters (HS256)")
            if self.webhook_url and len(self.webhook_secret or "") < 32:
                raise ValueError("HELPDESK_WEBHOOK_SECRET must be at least 32 characters with a webhook")
        return self

    @cached_property
    def secure_cookies(self) -> bool:
        if self.cookie_secure is not None:
            return self.cookie_secure
        return self.public_base_url.startswith("https://")

    @property
    def metrics_open(self) -> bool:
        return self.dev_mode if self.metrics_public is None else self.metrics_public

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
