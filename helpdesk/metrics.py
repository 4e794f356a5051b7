"""Prometheus metrics: GET /metrics (text exposition format), counters and histograms fed where things
happen, gauges read on each scrape from the queue store and the signaling endpoint.

Two kinds of series:
- process-wide counters/histograms in REGISTRY (this module's own registry, not the client library's
  global one): HTTP requests, signaling messages and errors, pairing latency, KB query latency,
  recordings running, escalations, and the process collector (RSS, CPU, open fds);
- gauges computed at scrape time (`journey_families`): queue lengths and longest waits, agents by
  state, calls in progress (all shared state: with Redis every replica reports the same cluster-wide
  value, so aggregate them with max(), not sum()), and this process's open sockets (sum() them).

Hooks for the components that land later (docs/deploy.md, "Observability"):
- knowledge base: `with kb_query_timer(): ...` or `observe_kb_query(seconds)`;
- inspection recordings: `with recording_running(): ...` (or RECORDINGS_RUNNING.inc()/dec());
- accountability: `record_escalation(level)` per escalation step.
"""

from __future__ import annotations

import logging
import time
from collections import Counter as Tally
from collections.abc import Iterable, Iterator
from contextlib import AsyncExitStack, contextmanager
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from helpdesk.state import AppState

log = logging.getLogger(__name__)
REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)

HTTP_REQUESTS = Counter("helpdesk_http_requests", "HTTP requests by method, route template and status.",
                        ["method", "route", "status"], registry=REGISTRY)
HTTP_SECONDS = Histogram("helpdesk_http_request_duration_seconds", "HTTP request duration by route template.",
                         ["method", "route"], registry=REGISTRY,
                         buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
SIGNALING_MESSAGES = Counter("helpdesk_signaling_messages", "Client messages received on /ws, by type "
                             "(`invalid`: could not be read).", ["type"], registry=REGISTRY)
SIGNALING_ERRORS = Counter("helpdesk_signaling_errors", "Typed `error` messages sent on /ws, by code.",
                           ["code"], registry=REGISTRY)
SOCKETS_CLOSED_FOR_RESTART = Counter("helpdesk_sockets_drained",
                                     "Sockets told to reconnect elsewhere on shutdown (close 1012).",
                                     registry=REGISTRY)
PAIRING_SECONDS = Histogram("helpdesk_pairing_seconds", "Offer accepted by the agent → room opened and "
                            "`room.joined` sent to both members.", registry=REGISTRY,
                            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
KB_QUERY_SECONDS = Histogram("helpdesk_kb_query_seconds", "Knowledge-base search latency.", registry=REGISTRY,
                             buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2))
RECORDINGS_RUNNING = Gauge("helpdesk_recordings_running", "Inspection recordings running in this process.",
                           registry=REGISTRY)
ESCALATIONS = Counter("helpdesk_escalations", "Follow-up escalations to a higher unit, by new level.",
                      ["level"], registry=REGISTRY)

# Label values created up front, so dashboards see zeros instead of missing series.
_CLIENT_TYPES = ("ping", "signal", "chat", "hangup", "agent.state", "offer.accept", "offer.decline",
                 "queue.leave", "media.state", "invalid")
_ERROR_CODES = ("bad_json", "unknown_type", "invalid_message", "too_large", "not_in_room", "forbidden",
                "not_found", "conflict", "unavailable", "internal")
for _t in _CLIENT_TYPES:
    SIGNALING_MESSAGES.labels(_t)
for _c in _ERROR_CODES:
    SIGNALING_ERRORS.labels(_c)
for _level in ("1", "2", "3"):
    ESCALATIONS.labels(_level)

AGENT_STATES = ("offline", "ready", "offered", "busy", "wrap_up", "away")
ENTRY_STATES = ("waiting", "offered")


# ---- hooks -------------------------------------------------------------------------------------
def observe_kb_query(seconds: float) -> None:
    KB_QUERY_SECONDS.observe(seconds)


@contextmanager
def kb_query_timer() -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        KB_QUERY_SECONDS.observe(time.perf_counter() - start)


@contextmanager
def recording_running() -> Iterator[None]:
    RECORDINGS_RUNNING.inc()
    try:
        yield
    finally:
        RECORDINGS_RUNNING.dec()


def record_escalation(level: int) -> None:
    ESCALATIONS.labels(str(level)).inc()


def observe_pairing(seconds: float) -> None:
    PAIRING_SECONDS.observe(seconds)


class SignalingMetrics:
    """The signaling endpoint's observer (helpdesk_signaling does not import helpdesk)."""

    known = frozenset(_CLIENT_TYPES)

    def __init__(self) -> None:  # one child per type, looked up once: this runs for every relayed signal
        self._children = {t: SIGNALING_MESSAGES.labels(t) for t in (*self.known, "invalid")}

    def message(self, type_: str | None) -> None:
        self._children[type_ if type_ in self.known else "invalid"].inc()

    def error(self, code: str) -> None:
        SIGNALING_ERRORS.labels(code if code in _ERROR_CODES else "other").inc()

    def drained(self, sockets: int) -> None:
        SOCKETS_CLOSED_FOR_RESTART.inc(sockets)


# ---- gauges read at scrape time -----------------------------------------------------------------
async def journey_families(state: AppState, now: float) -> list[Metric]:
    """Queue, agents and calls from the queue store (shared), sockets from this process's endpoint."""
    journey = state.components.get("journey")
    if journey is None:
        return []
    length = GaugeMetricFamily("helpdesk_queue_length", "Applicants in the queue, by entry state "
                               "(cluster-wide: aggregate replicas with max).", labels=["state"])
    longest = GaugeMetricFamily("helpdesk_queue_longest_wait_seconds", "Longest current wait in the queue, "
                                "by entry state (0 when empty).", labels=["state"])
    agents = GaugeMetricFamily("helpdesk_agents", "Agents by presence state (cluster-wide).", labels=["state"])
    calls = GaugeMetricFamily("helpdesk_calls_in_progress", "Connected calls (agents' active calls; "
                              "cluster-wide).")
    sockets = GaugeMetricFamily("helpdesk_sockets_open", "WebSockets open on this process (sum replicas).")
    store = journey.queue.store
    waiting = await store.list_waiting()
    counts: Tally[str] = Tally(e.state for e in waiting)
    oldest: dict[str, float] = {}
    for e in waiting:
        oldest[e.state] = max(oldest.get(e.state, 0.0), now - e.enqueued_at)
    for s in ENTRY_STATES:
        length.add_metric([s], counts.get(s, 0))
        longest.add_metric([s], round(max(0.0, oldest.get(s, 0.0)), 3))
    presences = await store.list_agents()
    by_state: Tally[str] = Tally(a.state for a in presences)
    for s in AGENT_STATES:
        agents.add_metric([s], by_state.get(s, 0))
    calls.add_metric([], sum(a.active_calls for a in presences))
    sockets.add_metric([], len(getattr(journey.endpoint, "connections", ())))
    return [length, longest, agents, calls, sockets]


class _Fixed(Collector):
    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = list(families)

    def collect(self) -> Iterable[Metric]:
        return self.families


router = APIRouter(tags=["health"])


METRICS_SCOPE = "metrics:read"


async def metrics_allowed(request: Request) -> None:
    """Open in dev mode (or with HELPDESK_METRICS_PUBLIC=true, when the network guards it);
    otherwise `Authorization: Bearer` with an API token of scope `metrics:read` (401 / 403)."""
    state: AppState = request.app.state.helpdesk
    if state.settings.metrics_open:
        return
    from helpdesk.accounts.tokens import get_api_token
    from helpdesk.errors import Forbidden

    async with state.sessions() as session:
        token = await get_api_token(request, session, state.clock)
    if METRICS_SCOPE not in token.scopes:
        raise Forbidden(f"this API token lacks the scope {METRICS_SCOPE!r}", code="missing_scope")


@router.get("/metrics", include_in_schema=False, dependencies=[Depends(metrics_allowed)])
async def metrics(request: Request) -> Response:
    """Prometheus text format. Not for the public: the reverse proxy denies /metrics from outside
    (docker/nginx.conf); Prometheus scrapes each replica directly, with a `metrics:read` token
    unless HELPDESK_METRICS_PUBLIC is set (the default only in dev mode)."""
    state: AppState = request.app.state.helpdesk
    body = generate_latest(REGISTRY)
    up = GaugeMetricFamily("helpdesk_queue_readable", "1 when the queue store answered this scrape.")
    try:
        families = await journey_families(state, state.clock.now().timestamp())
        up.add_metric([], 1)
    except Exception as exc:  # Redis down: the process's own series still answer
        log.warning("/metrics: queue store unreadable (%s)", type(exc).__name__)
        families = []
        up.add_metric([], 0)
    families.append(up)
    scrape = CollectorRegistry(auto_describe=False)
    scrape.register(_Fixed(families))
    return Response(body + generate_latest(scrape), media_type=CONTENT_TYPE_LATEST)


# ---- HTTP ------------------------------------------------------------------------------------
class MetricsMiddleware:
    """Counts requests by route template (never the raw path: bounded label values)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = [500]

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            if route != "/metrics":
                method = scope.get("method", "GET")
                HTTP_REQUESTS.labels(method, route, str(status[0])).inc()
                HTTP_SECONDS.labels(method, route).observe(time.perf_counter() - start)


# ---- wiring ----------------------------------------------------------------------------------
async def wire_metrics(state: AppState, stack: AsyncExitStack) -> None:
    """After the journey: the endpoint reports messages and errors; shutdown drains its sockets."""
    from helpdesk.drain import register_drain

    journey: Any = state.components.get("journey")
    if journey is None:
        return
    journey.endpoint.observer = SignalingMetrics()
    stack.enter_context(register_drain(journey.endpoint.drain))
    # On a server that did not drain first (e.g. plain `uvicorn`), sockets still open are closed now.
    stack.push_async_callback(journey.endpoint.drain)
