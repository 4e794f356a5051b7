"""GET /ws: one socket per applicant or staff member, authenticated by the session cookie."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import APIRouter, WebSocket

from helpdesk.accountability.audit import client_ip_var
from helpdesk.deps import load_applicant_from_cookie, load_staff_from_cookie
from helpdesk.journey.service import Journey, applicant_member, is_unavailable, staff_member
from helpdesk.logs import peer_var, request_id_var
from helpdesk.security import APPLICANT_COOKIE, STAFF_COOKIE
from helpdesk.state import AppState

router = APIRouter()
log = logging.getLogger(__name__)
CLOSE_UNAUTHORIZED = 4401
CLOSE_BAD_ORIGIN = 4403


def origin_allowed(ws: WebSocket, state: AppState) -> bool:
    """Cookies ride along on cross-site WebSocket handshakes: only our own origin may open one."""
    origin = ws.headers.get("origin")
    if origin is None:
        return True  # not a browser
    host = ws.headers.get("host", "")
    return origin.rstrip("/") in {state.settings.public_base_url.rstrip("/"), f"http://{host}", f"https://{host}"}


async def identify(ws: WebSocket, state: AppState) -> tuple[str, str, Any] | None:
    """(member, role, staff or None) from the session cookie. A function of its own so the socket's
    long-lived frame keeps no database session (nor an applicant's row) for hours."""
    async with state.sessions() as session:
        staff = await load_staff_from_cookie(state, session, ws.cookies.get(STAFF_COOKIE))
        if staff is not None:
            return staff_member(staff.id), staff.role.value, staff
        applicant = await load_applicant_from_cookie(state, session, ws.cookies.get(APPLICANT_COOKIE))
        if applicant is not None:
            return applicant_member(applicant.id), "applicant", None
    return None


async def socket_entry(scope: Any, receive: Any, send: Any) -> None:
    """/ws as a plain ASGI handler (helpdesk_signaling.wire.RawFrames calls it past the middleware
    chain): sets what the chain would have set for a socket, the caller's address and a request id."""
    client = scope.get("client")
    client_ip_var.set(str(client[0])[:64] if client else None)  # this task only: no reset needed
    request_id_var.set(uuid.uuid4().hex[:16])
    await socket(WebSocket(scope, receive, send))


@router.websocket("/ws")
async def socket(ws: WebSocket) -> None:
    state: AppState = ws.app.state.helpdesk
    journey: Journey = state.components["journey"]
    if not origin_allowed(ws, state):
        await ws.close(CLOSE_BAD_ORIGIN, "origin not allowed")
        return
    try:
        who = await identify(ws, state)
    except Exception as exc:
        if not is_unavailable(exc):
            raise
        await journey.refuse_unavailable(ws, "?", exc)  # database down: typed error, close 1011
        return
    if who is None:
        await ws.close(CLOSE_UNAUTHORIZED, "login required")
        return
    member, role, staff = who
    peer_var.set(member)  # this socket's task: every log line it writes names the member
    try:
        extra = await journey.on_connect(member, role, staff)
    except Exception as exc:
        if not is_unavailable(exc):
            raise
        await journey.refuse_unavailable(ws, member, exc)  # Redis down: typed error, close 1011
        return
    feed = state.components.get("supervision")
    if feed is not None and staff is not None:
        await feed.watch(member, staff)

    async def gone() -> None:
        if feed is not None:
            feed.unwatch(member)
        await journey.on_disconnect(member, role, staff)

    # Under `helpdesk serve` the socket is parked: this returns at once and gone() runs when it closes.
    await journey.endpoint.serve(ws, member, role, extra, on_end=gone)
