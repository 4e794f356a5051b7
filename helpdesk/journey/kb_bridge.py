"""What the knowledge base needs from the call: sending an article or attachment into a call
(it lands in the room and on the work order), and a resolved work order's notes for a draft."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk.accounts.models import Staff
from helpdesk.errors import Forbidden, NotFound
from helpdesk.journey.service import Journey, staff_member
from helpdesk.org.models import ServiceItem
from helpdesk.state import AppState
from helpdesk.workorders import repository as wo_repo
from helpdesk.workorders import service as wos
from helpdesk.workorders.models import WorkOrder

SendToCall = Callable[[str, Any, dict[str, Any]], Awaitable[dict[str, Any] | None]]


def storage_key(path: str, root: os.PathLike[str]) -> str:
    """The KB keeps its files under the upload folder: the work order points at the same file."""
    return os.path.relpath(os.path.realpath(path), os.path.realpath(root))


def send_to_call_hook(app: FastAPI) -> SendToCall:
    async def send(work_order_id: str, staff: Any, payload: dict[str, Any]) -> dict[str, Any] | None:
        state: AppState = app.state.helpdesk
        journey: Journey = state.components["journey"]
        member = staff_member(staff.id)
        room = await journey.hub.get_room(work_order_id)
        if room is None or member not in room.members:
            raise Forbidden("you are not in this call", code="not_in_room")
        now = state.clock.now()
        async with state.sessions() as session:
            wo = await session.get(WorkOrder, work_order_id)
            if wo is None:
                raise NotFound("work order not found")
            if payload.get("kind") == "attachment":
                att = payload["attachment"]
                key = storage_key(att["path"], state.settings.upload_dir)
                row = await wos.add_file(session, wo, uploader_kind="staff", uploader_id=str(staff.id),
                                         filename=att["name"], content_type=att["content_type"], size=att["size"],
                                         sha256=att["sha256"], storage_key=key, source="kb", created_at=now)
                shared = {"id": row.id, "name": row.filename, "content_type": row.content_type, "size": row.size,
                          "url": f"/api/files/{row.id}", "source": "kb",
                          "preview_url": f"/api/files/{row.id}" if row.content_type.startswith("image/") else None}
            else:
                article = payload["article"]
                await wos.record_event(session, wo, "kb_article_sent", member, now, article_id=article["id"],
                                       title=article["title"])
                shared = {"id": f"kb-{article['id']}", "name": article["title"], "content_type": "text/html",
                          "size": 0, "url": article["url"], "source": "kb"}
            await session.commit()
        await journey.share_file(room.id, member, shared)
        return shared

    return send


async def work_order_notes(session: AsyncSession, work_order_id: str, staff: Staff) -> dict[str, Any] | None:
    """A work order the editor may see, as the raw material of a draft article."""
    try:
        wo = await wo_repo.get_visible(session, staff, work_order_id)
    except NotFound:
        return None
    item = await session.get(ServiceItem, wo.item_id)
    return {"title": f"{item.name if item else ''}：常见问题", "notes": wo.notes, "item_id": wo.item_id}
