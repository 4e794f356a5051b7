"""The help knowledge base (帮办知识库): articles with versions and review, attachments, a Chinese
Whoosh index, suggestions beside the call, canned replies and upkeep.

Wiring (helpdesk/app.py): `wire(state, stack)`, `make_router(get_session, get_current_staff, ...)`,
`install_error_handler(app)`; the help page calls `guide_for_item(session, item_id)`; the CLI calls
`helpdesk_kb.cli.register(subparsers)`; `helpdesk demo` calls `load_demo(session_factory, settings)`.
Imports are lazy so `helpdesk --help` stays instant.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "wire": "helpdesk_kb.wiring",
    "make_router": "helpdesk_kb.routes",
    "STATIC_DIR": "helpdesk_kb.routes",
    "install_error_handler": "helpdesk_kb.errors",
    "KbError": "helpdesk_kb.errors",
    "guide_for_item": "helpdesk_kb.guide",
    "load_demo": "helpdesk_kb.demo",
    "Kb": "helpdesk_kb.component",
    "StaffLike": "helpdesk_kb.perms",
    "set_editor_departments": "helpdesk_kb.perms",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(name)
