"""The FastAPI application: builds engines and components in the lifespan and wires the routes."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from helpdesk_signaling.wire import RawFrames

from helpdesk.accountability.audit import AuditContextMiddleware
from helpdesk.accountability.checkpoint import wire_checkpoints
from helpdesk.accountability.routes import router as accountability_router
from helpdesk.accountability.sweep import wire_accountability
from helpdesk.accounts.routes import router as accounts_router
from helpdesk.admin.live import wire_admin_live
from helpdesk.admin.routes import router as admin_router
from helpdesk.admin.routes_import import router as admin_import_router
from helpdesk.applicants.routes import router as applicants_router
from helpdesk.clock import Clock, SystemClock
from helpdesk.components import include_component_routes, wire_inspection, wire_kb, wire_notifications
from helpdesk.config import REPO_ROOT, Settings
from helpdesk.csrf import CSRFMiddleware
from helpdesk.db import make_engine, make_session_factory
from helpdesk.errors import install_error_handlers
from helpdesk.files import BodySizeLimit
from helpdesk.headers import SecurityHeadersMiddleware
from helpdesk.health import router as health_router
from helpdesk.integration.admin_routes import router as integration_admin_router
from helpdesk.integration.api import router as integration_api_router
from helpdesk.integration.api_catalog import router as integration_catalog_router
from helpdesk.integration.sender import wire_integration
from helpdesk.journey.party_routes import router as party_router
from helpdesk.journey.routes import router as journey_router
from helpdesk.journey.supervision import wire_supervision
from helpdesk.journey.transfer import router as transfer_router
from helpdesk.journey.wiring import wire_journey
from helpdesk.journey.ws import router as ws_router
from helpdesk.journey.ws import socket_entry
from helpdesk.logs import RequestIdMiddleware
from helpdesk.metrics import MetricsMiddleware, wire_metrics
from helpdesk.metrics import router as metrics_router
from helpdesk.openapi import install_openapi
from helpdesk.org.routes import router as org_router
from helpdesk.outage import install_outage_handlers
from helpdesk.privacy.retention import wire_privacy
from helpdesk.privacy.routes import router as privacy_router
from helpdesk.ratelimit import RateLimitMiddleware, wire_rate_limits
from helpdesk.security import Signer
from helpdesk.state import AppState
from helpdesk.stats.routes import router as stats_router
from helpdesk.workorders.routes import router as workorders_router

log = logging.getLogger(__name__)

MULTIPART_OVERHEAD = 64 * 1024
# Each wiring step gets the state and the exit stack (to register its shutdown) once per process.
Wiring = Callable[[AppState, AsyncExitStack], Awaitable[None]]


REDIS_MAX_CONNECTIONS = 512


def redis_client(url: str) -> Any:
    """The process's Redis client. A lost Redis must fail fast (typed `unavailable`), not hang each new
    connection. The pool *waits* (up to 5 s) when all its connections are busy: redis-py's default
    pool (100) raises MaxConnectionsError instead, which lost relayed signals at 200 rooms per
    process (bench/bench_rooms.py)."""
    import redis.asyncio as aioredis

    pool = aioredis.BlockingConnectionPool.from_url(url, decode_responses=True, socket_connect_timeout=2,
                                                    max_connections=REDIS_MAX_CONNECTIONS, timeout=5)
    return aioredis.Redis(connection_pool=pool)


def create_app(settings: Settings | None = None, clock: Clock | None = None,
               wirings: list[Wiring] | None = None) -> FastAPI:
    settings = settings or Settings()
    clock = clock or SystemClock()
    signer = Signer(settings.secret_key)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url, echo=settings.database_echo)
        state = AppState(settings=settings, clock=clock, engine=engine,
                         sessions=make_session_factory(engine), signer=signer)
        app.state.helpdesk = state
        async with AsyncExitStack() as stack:
            stack.push_async_callback(engine.dispose)
            if settings.redis_url:
                state.redis = redis_client(settings.redis_url)
                stack.push_async_callback(state.redis.aclose)
            for wire in wirings if wirings is not None else default_wirings():
                await wire(state, stack)
            log.info("helpdesk started (database=%s, redis=%s)", engine.url.get_backend_name(),
                     "on" if state.redis is not None else "off")
            if settings.gc_freeze:  # start-up's objects (modules, routes, mappers) live as long as the process
                gc.collect()
                gc.freeze()
            yield

    docs = settings.dev_mode or settings.api_docs_public  # the API map is not published by default
    app = FastAPI(title="helpdesk · 视频导办帮办", version="0.1.0", lifespan=lifespan,
                  docs_url="/docs" if docs else None, redoc_url="/redoc" if docs else None,
                  openapi_url="/openapi.json" if docs else None)
    install_error_handlers(app)
    install_outage_handlers(app)  # database/Redis unreachable: 503 + Retry-After, one warning line
    # Bodies are cut off while they stream in (413), before multipart parsing spools them to disk:
    # the largest upload plus room for the multipart envelope.
    app.add_middleware(BodySizeLimit, max_bytes=settings.upload_max_bytes + MULTIPART_OVERHEAD)
    app.add_middleware(RateLimitMiddleware, signer=signer, settings=settings)  # inside the request id
    app.add_middleware(CSRFMiddleware, signer=signer, secure=settings.secure_cookies)
    app.add_middleware(SecurityHeadersMiddleware, frame_ancestors=settings.frame_ancestors)
    app.add_middleware(AuditContextMiddleware)  # the caller's address, for the audit log
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(MetricsMiddleware)  # counts every request, refused ones too
    app.add_middleware(RawFrames, sockets={"/ws": socket_entry})  # outermost: /ws skips the chain
    for router in (health_router, metrics_router, accounts_router, applicants_router, org_router, workorders_router,
                   journey_router, ws_router, transfer_router, party_router, accountability_router, stats_router,
                   admin_router, admin_import_router, privacy_router, integration_api_router,
                   integration_catalog_router, integration_admin_router):
        app.include_router(router)
    include_component_routes(app)
    mount_static(app)
    install_openapi(app)
    return app


# Browser code: URL prefix → folder. Plain files, no build step.
STATIC_DIRS = {
    "/static/help": REPO_ROOT / "helpdesk" / "web" / "static",
    "/static/i18n": REPO_ROOT / "helpdesk" / "web" / "i18n",
    "/static/signaling": REPO_ROOT / "signaling" / "helpdesk_signaling" / "static",
    "/static/kb": REPO_ROOT / "knowledgebase" / "helpdesk_kb" / "static",
    "/static/inspection": REPO_ROOT / "remote-inspection" / "helpdesk_inspection" / "static",
}


def mount_static(app: FastAPI) -> None:
    for prefix, folder in STATIC_DIRS.items():
        if folder.is_dir():
            app.mount(prefix, StaticFiles(directory=folder), name=prefix.strip("/").replace("/", "-"))
    console = REPO_ROOT / "agent-console"
    if console.is_dir():
        app.mount("/console", StaticFiles(directory=console, html=True), name="console")


def default_wirings() -> list[Wiring]:
    """The components this process runs; filled in as they land."""
    return [wire_rate_limits, wire_admin_live, wire_journey, wire_supervision, wire_accountability, wire_metrics,
            wire_kb, wire_inspection, wire_notifications, wire_privacy, wire_checkpoints, wire_integration]
