"""The same flows on PostgreSQL (enums, JSON, the unique live_key under a savepoint, figures SQL)."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpdesk.config import Settings

from .test_retention import test_first_pass_rate_and_duration as test_pg_figures  # noqa: F401
from .test_retention import test_sweep_is_idempotent_and_logged as test_pg_sweep  # noqa: F401
from .test_service import test_clear_errors as test_pg_clear_errors  # noqa: F401
from .test_service import test_full_flow_with_rectify_and_follow_up as test_pg_full_flow  # noqa: F401

pytestmark = pytest.mark.postgres


@pytest.fixture
def settings(tmp_path: Path, pg_url: str) -> Settings:
    return Settings(
        dev_mode=True,
        database_url=pg_url,
        upload_dir=tmp_path / "uploads",
        kb_index_dir=tmp_path / "kb-index",
        recordings_dir=tmp_path / "recordings",
        redis_url=None,
    )
