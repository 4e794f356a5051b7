"""What the shell wires: ``wire(state, stack)`` builds one InspectionComponent per process."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from helpdesk_inspection import report, retention
from helpdesk_inspection.errors import Forbidden, InspectionError
from helpdesk_inspection.live import LiveMedia
from helpdesk_inspection.models import LIVE_STATUSES, Inspection, InspectionReport
from helpdesk_inspection.peer import include_loopback_candidates
from helpdesk_inspection.ports import SendToMember
from helpdesk_inspection.relay import RedisRelay
from helpdesk_inspection.service import InspectionService

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
WS_CODES = {400: "invalid_message", 403: "forbidden", 404: "not_found", 409: "conflict", 503: "unavailable"}


def ws_error(exc: InspectionError, ref: str | None = "inspection.signal") -> dict[str, Any]:
    """The typed WebSocket error for a failed client message (codes from the journey contract)."""
    return {
        "type": "error",
        "code": WS_CODES.get(exc.status_code, "invalid_message"),
        "message": exc.message,
        "ref": ref,
        "reason": exc.code,
    }


class InspectionComponent:
    def __init__(
        self,
        *,
        settings: Any,
        clock: Any,
        sessions: async_sessionmaker[AsyncSession],
        send_to_member: SendToMember | None = None,
        ice_servers: Callable[[], list[dict[str, Any]]] | None = None,
        relay: RedisRelay | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.sessions = sessions
        self._send: SendToMember | None = send_to_member
        self.live = LiveMedia(settings.recordings_dir, ice_servers=ice_servers, relay=relay)
        self.service = InspectionService(settings=settings, clock=clock, send_to_member=self._dispatch, live=self.live)

    @property
    def media_root(self) -> Path:
        return Path(self.settings.recordings_dir)

    def set_sender(self, send_to_member: SendToMember) -> None:
        """The shell's push into the call: ``send_to_member("a:<id>" | "s:<id>", message)``."""
        self._send = send_to_member

    def _dispatch(self, member: str, message: dict[str, Any]) -> Awaitable[None] | None:
        if self._send is None:
            log.warning("inspection message %s dropped: no sender wired", message.get("type"))
            return None
        return self._send(member, message)

    async def handle_client_message(self, member_id: str, message: dict[str, Any]) -> None:
        """A client's `inspection.signal` from the socket; raises InspectionError (see ws_error)."""
        if message.get("type") != "inspection.signal":
            raise InspectionError(f"unknown type {message.get('type')!r}", code="unknown_type")
        if not member_id.startswith("a:"):
            raise Forbidden("only the applicant's camera joins the inspection peer")
        async with self.sessions() as session:
            await self.service.signal(session, applicant_id=member_id[2:], payload=message)
            await session.commit()
            await self.service.deliver(session)

    async def end_with_report(self, session: AsyncSession, **kwargs: Any) -> tuple[Inspection, InspectionReport]:
        insp = await self.service.end(session, **kwargs)
        row = await report.generate(session, insp, self.media_root, self.clock.now())
        return insp, row

    async def on_call_ended(self, work_order_id: str, reason: str = "call_ended") -> None:
        """The call is over: a live inspection is cancelled (its recording so far is kept)."""
        async with self.sessions() as session:
            insp = await self.service.live_for_work_order(session, work_order_id)
            if insp is not None:
                await self.service.cancel(session, inspection_id=insp.id, reason=reason)
                await session.commit()
                await self.service.deliver(session)

    async def sweep_retention(self) -> int:
        """A retention pass (for the shell's daily timer); returns the files deleted. Idempotent."""
        total = 0
        while True:  # one committed batch at a time, so a large backlog never makes one huge transaction
            async with self.sessions() as session:
                result = await retention.sweep(
                    session,
                    root=self.media_root,
                    now=self.clock.now(),
                    retention_days=self.settings.recording_retention_days,
                )
                await session.commit()
            total += result.files
            if result.inspections < retention.BATCH:
                return total

    async def close(self) -> None:
        """Shutdown: live inspections of this process are cancelled with what was recorded."""
        async with self.sessions() as session:
            rows = await session.execute(select(Inspection.id).where(Inspection.status.in_(LIVE_STATUSES)))
            for inspection_id in rows.scalars():
                if self.live.peer(inspection_id) is None:
                    continue
                with contextlib.suppress(InspectionError):
                    await self.service.cancel(session, inspection_id=inspection_id, reason="server_shutdown")
            await session.commit()
            await self.service.deliver(session)
        await self.live.close_all()


async def wire(
    state: Any, stack: contextlib.AsyncExitStack, send_to_member: SendToMember | None = None
) -> InspectionComponent:
    """Lifespan set-up: builds the component as state.components["inspection"] and closes its
    peers on shutdown. With state.redis, a Redis relay lets any process reach the process holding
    an inspection's peer (snapshot, stop). HELPDESK_INSPECTION_LOOPBACK=1 (tests only) adds
    127.0.0.1 to the server peer's host candidates."""
    if os.environ.get("HELPDESK_INSPECTION_LOOPBACK") == "1":
        include_loopback_candidates(True)
    stun = list(getattr(state.settings, "stun_urls", []) or [])
    component = InspectionComponent(
        settings=state.settings,
        clock=state.clock,
        sessions=state.sessions,
        send_to_member=send_to_member,
        ice_servers=(lambda: [{"urls": stun}]) if stun else None,
        relay=RedisRelay(state.redis, prefix=state.settings.redis_prefix) if state.redis is not None else None,
    )
    state.components["inspection"] = component
    await component.live.start()
    stack.push_async_callback(component.close)
    return component
