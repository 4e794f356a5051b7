"""The router factory: the app passes its session and staff dependencies and the send-to-call hook."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_kb.component import Kb
from helpdesk_kb.errors import KbUnavailable

# The console's ES modules (kb-panel.js, kb-editor.js, kb-upkeep.js, kb-api.js, kb.css): mount at /static/kb/.
STATIC_DIR = Path(__file__).resolve().parent / "static"

# on_send_to_call(work_order_id, staff, payload): push into the call and record on the work order.
# It raises (e.g. the app's NotFound/Forbidden) when the work order is unknown or not the caller's call.
SendToCall = Callable[[str, Any, dict[str, Any]], Awaitable[dict[str, Any] | None]]
# load_work_order_notes(session, work_order_id, staff) -> {"title", "notes", "item_id"} or None.
LoadNotes = Callable[[AsyncSession, str, Any], Awaitable[dict[str, Any] | None]]


def kb_from_app(request: Request) -> Kb:
    """Default: the component wire() stored in the app state's components."""
    try:
        kb: Kb = request.app.state.helpdesk.components["kb"]
    except (AttributeError, KeyError) as exc:
        raise KbUnavailable("the knowledge base is not wired into this app") from exc
    return kb


@dataclass
class RouteDeps:
    get_session: Callable[..., AsyncIterator[AsyncSession]]
    get_current_staff: Callable[..., Any]
    get_kb: Callable[..., Kb]
    on_send_to_call: SendToCall | None
    load_work_order_notes: LoadNotes | None


def make_router(
    get_session: Callable[..., AsyncIterator[AsyncSession]],
    get_current_staff: Callable[..., Any],
    *,
    on_send_to_call: SendToCall | None = None,
    load_work_order_notes: LoadNotes | None = None,
    get_kb: Callable[..., Kb] = kb_from_app,
) -> APIRouter:
    """All routes under /api/kb. get_current_staff must return an object fitting perms.StaffLike."""
    from helpdesk_kb.routes_articles import add_article_routes
    from helpdesk_kb.routes_calls import add_call_routes
    from helpdesk_kb.routes_vocab import add_vocabulary_routes

    deps = RouteDeps(get_session, get_current_staff, get_kb, on_send_to_call, load_work_order_notes)
    router = APIRouter(prefix="/api/kb", tags=["knowledge base"])
    add_article_routes(router, deps)
    add_call_routes(router, deps)
    add_vocabulary_routes(router, deps)
    return router
