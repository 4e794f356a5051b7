"""Liveness (/healthz: the process is up) and readiness (/readyz: database and Redis reachable)."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from helpdesk.deps import StateDep

router = APIRouter(tags=["health"])
log = logging.getLogger(__name__)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(state: StateDep) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        async with asyncio.timeout(3):
            async with state.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except (OSError, TimeoutError, Exception) as exc:
        log.warning("readyz: database unreachable: %s", exc)
        checks["database"] = f"error: {type(exc).__name__}"
    if state.redis is not None:
        try:
            async with asyncio.timeout(2):
                await state.redis.ping()
            checks["redis"] = "ok"
        except (OSError, TimeoutError, Exception) as exc:
            log.warning("readyz: redis unreachable: %s", exc)
            checks["redis"] = f"error: {type(exc).__name__}"
    ok = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ok" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503)
