"""GET /ws: one socket per applicant or staff member, authenticated by the session cookie."""

from __future__ import annotations

import logging

from fastapi import APIRouter, WebSocket

from helpdesk.deps import load_applicant_from_cookie, load_staff_from_cookie
from helpdesk.journey.service import Journey, applicant_member, is_unavailable, staff_member
from helpdesk.logs import peer_var
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


@router.websocket("/ws")
async def socket(ws: WebSocket) -> None:
    state: AppState = ws.app.state.helpdesk
    journey: Journey = state.components["journey"]
    if not origin_allowed(ws, state):
        await ws.close(CLOSE_BAD_ORIGIN, "origin not allowed")
        return
    try:
        async with state.sessions() as session:
            staff = await load_staff_from_cookie(state, session, ws.cookies.get(STAFF_COOKIE))
            applicant = None
            if staff is None:
                applicant = await load_applicant_from_cookie(state, session, ws.cookies.get(APPLICANT_COOKIE))
    except Exception as exc:
        if not is_unavailable(exc):
            raise
        await journey.refuse_unavailable(ws, "?", exc)  # database down: typed error, close 1011
        return
    if staff is not None:
        member, role = staff_member(staff.id), staff.role.value
    elif applicant is not None:
        member, role = applicant_member(applicant.id), "applicant"
    else:
        await ws.close(CLOSE_UNAUTHORIZED, "login required")
        return
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
    try:
        await journey.endpoint.serve(ws, member, role, extra)
    finally:
        if feed is not None:
            feed.unwatch(member)
        await journey.on_disconnect(member, role, staff)
