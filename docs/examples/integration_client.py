"""A small reference client of the helpdesk integration API (standard library only).

    python integration_client.py --base http://127.0.0.1:8000 --token hdk_... --item SCJG-001 \
        [--listen 8765 --secret WEBHOOK_SECRET]

It hands in a 12345-style request, reads it back with its timeline, pages through the work-order list,
adds a note and — with --listen — receives the signed webhooks, verifying each signature and
timestamp and dropping duplicates by event id. Copy what you need; CI runs this file against a live
server (tests/helpdesk/integration/test_reference_client.py)."""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

REPLAY_WINDOW_S = 300  # the helpdesk's HELPDESK_WEBHOOK_REPLAY_WINDOW_S


def verify(secret: str, headers: Any, body: bytes, now: float | None = None,
           window_s: int = REPLAY_WINDOW_S) -> bool:
    """The signature check every receiver needs: HMAC-SHA256 over "<timestamp>." + body, in constant
    time, and a timestamp inside the replay window."""
    timestamp = headers.get("X-Helpdesk-Timestamp", "")
    signature = headers.get("X-Helpdesk-Signature", "")
    if not timestamp.isdigit() or abs((now or time.time()) - int(timestamp)) > window_s:
        return False
    expected = "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


class Client:
    def __init__(self, base: str, token: str) -> None:
        self.base, self.token = base.rstrip("/"), token

    def call(self, method: str, path: str, body: dict[str, Any] | None = None,
             query: dict[str, Any] | None = None) -> tuple[int, Any]:
        url = self.base + path + ("?" + urllib.parse.urlencode({k: v for k, v in (query or {}).items() if v})
                                  if query else "")
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method=method, headers={  # noqa: S310 - the given base URL
            "Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def hand_in(self, **fields: Any) -> dict[str, Any]:
        status, body = self.call("POST", "/api/v1/work-orders", fields)
        assert status in (200, 201), (status, body)
        return dict(body)

    def work_orders(self, **query: Any) -> list[dict[str, Any]]:
        """Every page, following next_cursor."""
        out: list[dict[str, Any]] = []
        cursor = None
        while True:
            status, page = self.call("GET", "/api/v1/work-orders", query=query | {"cursor": cursor, "limit": 50})
            assert status == 200, (status, page)
            out += page["items"]
            cursor = page["next_cursor"]
            if not cursor:
                return out


class Receiver:
    """A webhook endpoint: verifies, drops duplicates by X-Helpdesk-Event-Id, keeps events in order."""

    def __init__(self, port: int, secret: str, now: Any = time.time) -> None:
        self.secret, self.rejected, self.hits, self.now = secret, 0, 0, now
        self.events: list[dict[str, Any]] = []
        self.seen: set[str] = set()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.hits += 1  # every request, duplicates included
                if not verify(receiver.secret, self.headers, body, now=receiver.now()):
                    receiver.rejected += 1
                    self.send_response(401)
                else:
                    event_id = self.headers["X-Helpdesk-Event-Id"]
                    if event_id not in receiver.seen:
                        receiver.seen.add(event_id)
                        receiver.events.append(json.loads(body))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, event_type: str, work_order: str, timeout_s: float = 30) -> list[dict[str, Any]]:
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            mine = [e for e in self.events if e["work_order"]["id"] == work_order]
            if any(e["type"] == event_type for e in mine):
                return mine
            time.sleep(0.1)
        raise TimeoutError(f"no {event_type} for {work_order} in {timeout_s} s; got {self.events}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--base", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--item", required=True)
    p.add_argument("--listen", type=int, help="receive webhooks on this port (a subscription must point here)")
    p.add_argument("--secret", help="the subscription's signing secret")
    args = p.parse_args(argv)
    receiver = Receiver(args.listen, args.secret) if args.listen else None
    client = Client(args.base, args.token)
    ref = f"12345-{uuid.uuid4().hex[:8]}"
    wo = client.hand_in(item=args.item, phone="13800000000", text="咨询办理流程，请回电", external_ref=ref)
    again = client.hand_in(item=args.item, phone="13800000000", text="咨询办理流程，请回电", external_ref=ref)
    assert again["id"] == wo["id"] and again["created"] is False, "the same external_ref must not create twice"
    status, read = client.call("GET", f"/api/v1/work-orders/{wo['number']}")
    assert status == 200 and read["timeline"], (status, read)
    listed = client.work_orders(status="callback_pending")
    assert any(w["id"] == wo["id"] for w in listed), "the hand-in is listed"
    status, _ = client.call("POST", f"/api/v1/work-orders/{wo['id']}/notes", {"text": "已电话联系"})
    assert status == 201, status
    status, done = client.call("POST", f"/api/v1/work-orders/{wo['id']}/outcome", {"outcome": "resolved"})
    assert status == 200 and done["status"] == "resolved", (status, done)
    print(f"work order {wo['number']}: {[t['text']['en'] for t in done['timeline']]}")
    if receiver is not None:
        events = receiver.wait_for("work_order.resolved", wo["id"])
        print("webhooks:", " → ".join(e["type"] for e in events), f"(rejected {receiver.rejected})")
        assert receiver.rejected == 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
