"""GET /metrics over a real server: the named series exist and move with a call; JSON logs carry the
request, work-order and peer ids."""

from __future__ import annotations

import io
import json
import logging

import httpx
from prometheus_client.parser import text_string_to_metric_families

from helpdesk import metrics
from helpdesk.config import Settings
from helpdesk.logs import JsonFormatter, RequestIdFilter, log_context, request_id_var
from tests.journey.live import Browser, Live, live_app

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]

NAMED = [
    "helpdesk_queue_length", "helpdesk_queue_longest_wait_seconds", "helpdesk_agents",
    "helpdesk_calls_in_progress", "helpdesk_sockets_open", "helpdesk_signaling_messages_total",
    "helpdesk_signaling_errors_total", "helpdesk_pairing_seconds_count", "helpdesk_pairing_seconds_bucket",
    "helpdesk_kb_query_seconds_count", "helpdesk_recordings_running", "helpdesk_escalations_total",
    "helpdesk_http_requests_total", "helpdesk_http_request_duration_seconds_count",
    "helpdesk_queue_readable", "process_resident_memory_bytes",
]


async def scrape(live: Live) -> Samples:
    async with httpx.AsyncClient(base_url=live.url, timeout=10) as http:
        r = await http.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    out: Samples = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    """Sum over the series of `name` whose labels include `labels`."""
    return sum(v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= set(ls))


async def test_metrics_show_the_named_series_and_move_with_a_call(settings: Settings) -> None:
    settings.wrapup_s = 0.0  # ready again as soon as the call ends
    async with live_app(settings) as live, Browser(live) as agent, Browser(live) as applicant:
        before = await scrape(live)
        missing = [n for n in NAMED if not any(k[0] == n for k in before)]
        assert not missing, f"series missing from /metrics: {missing}"
        assert value(before, "helpdesk_queue_readable") == 1

        await agent.login(live.seed["agent"].username)
        await agent.connect()
        await agent.send({"type": "agent.state", "state": "away"})
        await agent.expect("agent.state", state="away")
        await applicant.open_help(live.seed["item"].code, name="刘晓倩")
        await applicant.connect()
        r = await applicant.http.post("/api/help/requests", json={"item": live.seed["item"].code,
                                                                   "unit": live.seed["county"].code})
        assert r.status_code == 200, r.text

        waiting = await scrape(live)  # the agent is away: the applicant waits
        assert value(waiting, "helpdesk_queue_length", state="waiting") == 1
        assert value(waiting, "helpdesk_queue_longest_wait_seconds", state="waiting") >= 0
        assert value(waiting, "helpdesk_agents", state="away") == 1
        assert value(waiting, "helpdesk_sockets_open") == 2

        await agent.send({"type": "agent.state", "state": "ready"})
        offer = await agent.expect("offer")
        await agent.send({"type": "offer.accept", "ticket": offer["ticket"]})
        room = (await applicant.expect("room.joined"))["room"]
        await agent.expect("room.joined")
        await applicant.send("{not json")
        await applicant.expect("error", code="bad_json")
        await applicant.send({"type": "signal", "room": "no-such-room", "candidate": None})
        await applicant.expect("error", code="not_in_room")

        in_call = await scrape(live)
        assert value(in_call, "helpdesk_queue_length", state="waiting") == 0
        assert value(in_call, "helpdesk_agents", state="busy") == 1
        assert value(in_call, "helpdesk_calls_in_progress") == 1
        for name, labels in [("helpdesk_signaling_messages_total", {"type": "offer.accept"}),
                             ("helpdesk_signaling_messages_total", {"type": "invalid"}),
                             ("helpdesk_signaling_errors_total", {"code": "bad_json"}),
                             ("helpdesk_signaling_errors_total", {"code": "not_in_room"}),
                             ("helpdesk_pairing_seconds_count", {})]:
            assert value(in_call, name, **labels) > value(before, name, **labels), (name, labels)
        assert (total(in_call, "helpdesk_http_requests_total", route="/api/help/requests", status="200")
                > total(before, "helpdesk_http_requests_total", route="/api/help/requests", status="200"))
        # Raw paths never become labels: a 404 is counted as `unmatched`.
        await agent.http.get("/no/such/path/12345")
        assert not any("/no/such" in str(k) for k in await scrape(live))

        await applicant.send({"type": "hangup", "room": room})
        await agent.expect("call.ended")
        await agent.expect("agent.state", state="ready")
        after = await scrape(live)
        assert value(after, "helpdesk_calls_in_progress") == 0
        assert value(after, "helpdesk_agents", state="ready") == 1

    # The hooks other components call (KB search, inspection recordings, escalations).
    esc = metrics.ESCALATIONS.labels("2")._value.get()
    kb_count = kb_queries()
    with metrics.kb_query_timer():
        pass
    metrics.observe_kb_query(0.02)
    with metrics.recording_running():
        assert metrics.RECORDINGS_RUNNING._value.get() >= 1
    metrics.record_escalation(2)
    assert kb_queries() == kb_count + 2
    assert metrics.ESCALATIONS.labels("2")._value.get() == esc + 1


def kb_queries() -> float:
    return next(s.value for fam in metrics.KB_QUERY_SECONDS.collect() for s in fam.samples
                if s.name.endswith("_count"))


def test_json_log_lines_carry_request_work_order_and_peer() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("tests.json-log")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    token = request_id_var.set("req-1")
    try:
        with log_context(work_order="WO-9", peer="a:5d1e"):
            logger.info("call %s", "connected")
        logger.info("outside")
    finally:
        request_id_var.reset(token)
        logger.removeHandler(handler)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["message"] == "call connected" and first["level"] == "INFO"
    assert (first["request_id"], first["work_order"], first["peer"]) == ("req-1", "WO-9", "a:5d1e")
    assert "work_order" not in second and "peer" not in second and second["request_id"] == "req-1"
