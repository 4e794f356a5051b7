"""Wires the knowledge base and the remote inspection into the app: their routers, their per-process
set-up, and the hooks they call back into the journey."""

from __future__ import annotations

from contextlib import AsyncExitStack

import helpdesk_kb
from fastapi import FastAPI

from helpdesk.deps import get_current_staff, get_session
from helpdesk.journey.kb_bridge import send_to_call_hook, work_order_notes
from helpdesk.state import AppState


def include_component_routes(app: FastAPI) -> None:
    app.include_router(helpdesk_kb.make_router(get_session, get_current_staff,
                                               on_send_to_call=send_to_call_hook(app),
                                               load_work_order_notes=work_order_notes))
    helpdesk_kb.install_error_handler(app)


async def wire_kb(state: AppState, stack: AsyncExitStack) -> None:
    await helpdesk_kb.wire(state, stack)
    state.components["kb_guide"] = helpdesk_kb.guide_for_item
