"""The rules of a guided inspection: start, consent, step, mark, snapshot, end, follow-up.

Services flush; the caller (request, socket message, job) commits. Messages to the call are pushed
through the injected ``send_to_member(member_id, message)`` after the change is flushed.
"""

from __future__ import annotations

import asyncio
import inspect as _inspect
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from helpdesk.config import Settings
from helpdesk_inspection import checklists, repository
from helpdesk_inspection.errors import Conflict, Forbidden, InspectionError, NotFound
from helpdesk_inspection.live import LiveMedia
from helpdesk_inspection.messages import point_message, snapshot_dict, started_message
from helpdesk_inspection.models import (
    LIVE_STATUSES,
    EvidenceSnapshot,
    Inspection,
    InspectionOutcome,
    InspectionStatus,
    MarkResult,
    PointMark,
)
from helpdesk_inspection.outcomes import check_outcome
from helpdesk_inspection.ports import (
    CONSENT_NOTICE,
    Clock,
    SendToMember,
    StaffLike,
    is_supervisor,
    work_orders,
)

OUTBOX = "insp_outbox"
# (session, work order id, kind, actor, data)
OnWorkOrderEvent = Callable[[AsyncSession, str, str, str, dict[str, Any]], Awaitable[None]]


@event.listens_for(Session, "after_rollback")
def _drop_outbox(session: Session) -> None:
    """Messages about changes that were rolled back are never sent."""
    session.info.pop(OUTBOX, None)


class InspectionService:
    def __init__(self, *, settings: Settings, clock: Clock, send_to_member: SendToMember, live: LiveMedia) -> None:
        self.settings = settings
        self.clock = clock
        self._send = send_to_member
        self.live = live
        # Set by the app: records a step on the work order's hash-chained timeline in the caller's
        # transaction (evidence hashes, the outcome): (session, work order id, kind, actor, data).
        self.on_work_order_event: OnWorkOrderEvent | None = None

    async def evidence(self, session: AsyncSession, insp: Inspection, kind: str, data: dict[str, Any]) -> None:
        """Evidence hashes join the work order's audit chain, in the same transaction as the evidence row."""
        if self.on_work_order_event is not None:
            await self.on_work_order_event(session, insp.work_order_id, kind, "server",
                                           {"inspection_id": insp.id, **data})

    def push(
        self,
        session: AsyncSession,
        insp: Inspection,
        message: dict[str, Any],
        *,
        applicant: bool = True,
        agent: bool = True,
    ) -> None:
        """Queues a message about a state change; ``deliver`` sends it once the caller committed."""
        message = {"room": insp.room, "inspection": insp.id, **message}
        members = ([f"a:{insp.applicant_id}"] if applicant else []) + ([f"s:{insp.agent_id}"] if agent else [])
        session.info.setdefault(OUTBOX, []).extend((member, message) for member in members)

    async def deliver(self, session: AsyncSession) -> None:
        """Sends what this session's changes queued: call it after a successful commit."""
        outbox = session.info.pop(OUTBOX, [])
        for member, message in outbox:
            await self._send_now(member, message)

    async def _send_now(self, member: str, message: dict[str, Any]) -> None:
        result = self._send(member, message)
        if _inspect.isawaitable(result):
            await result

    # --- lookups -------------------------------------------------------------------------------

    get = staticmethod(repository.get)
    marks = staticmethod(repository.marks)
    live_for_work_order = staticmethod(repository.live_for_work_order)

    async def for_staff(self, session: AsyncSession, staff: StaffLike, inspection_id: str) -> Inspection:
        insp = await self.get(session, inspection_id)
        if insp.agent_id != staff.id and not is_supervisor(staff):
            raise Forbidden("only the inspecting agent or a supervisor may do this")
        return insp

    async def for_applicant(self, session: AsyncSession, applicant_id: str, inspection_id: str) -> Inspection:
        insp = await self.get(session, inspection_id)
        if insp.applicant_id != applicant_id:
            raise NotFound(f"inspection {inspection_id} not found")
        return insp

    @staticmethod
    def require_status(insp: Inspection, *allowed: InspectionStatus) -> None:
        if insp.status not in allowed:
            raise Conflict(f"the inspection is {insp.status.value}", code="wrong_state")

    # --- start and consent ---------------------------------------------------------------------

    async def start(
        self,
        session: AsyncSession,
        *,
        staff: StaffLike,
        work_order_id: str,
        room: str | None,
        follow_up_of: str | None = None,
    ) -> Inspection:
        """Asks the applicant for consent; nothing is recorded before they accept."""
        wo = (await session.execute(select(work_orders).where(work_orders.c.id == work_order_id))).first()
        if wo is None:
            raise NotFound(f"work order {work_order_id} not found")
        if wo.agent_id != staff.id and not is_supervisor(staff):
            raise Forbidden("only the agent in this call may start an inspection")
        item = await checklists.item_row(session, wo.item_id)
        if not item.remote_inspection:
            raise InspectionError(f"{item.name} is not open to remote inspection", 409, "not_inspection_item")
        if follow_up_of:
            original = await self.get(session, follow_up_of)
            if (
                original.outcome != InspectionOutcome.rectify
                or original.item_id != wo.item_id
                or original.applicant_id != wo.applicant_id
            ):
                raise InspectionError(
                    "a follow-up needs an inspection of this applicant and item that ended with rectification",
                    409,
                    "bad_follow_up",
                )
            checklist = await checklists.get(session, original.checklist_id)
            keys = list(original.rectify_points)
        else:
            checklist = await checklists.require_current(session, wo.item_id)
            keys = [p["key"] for p in checklist.points]
        now = self.clock.now()
        insp = Inspection(
            work_order_id=wo.id,
            item_id=wo.item_id,
            unit_id=wo.handled_unit_id or wo.unit_id,
            agent_id=staff.id,
            applicant_id=wo.applicant_id,
            checklist_id=checklist.id,
            follow_up_of=follow_up_of,
            room=room,
            point_keys=keys,
            live_key=wo.id,
            status=InspectionStatus.awaiting_consent,
            current_index=0,
            created_at=now,
            recordings=[],
        )
        await repository.insert_live(session, insp)
        self.push(
            session,
            insp,
            {
                "type": "inspection.requested",
                "work_order": wo.id,
                "item": item.name,
                "points": len(keys),
                "follow_up": bool(follow_up_of),
                "notice": CONSENT_NOTICE,
            },
        )
        return insp

    async def consent(
        self,
        session: AsyncSession,
        *,
        applicant_id: str,
        inspection_id: str,
        accept: bool,
        location: dict[str, Any] | None = None,
    ) -> Inspection:
        insp = await self.for_applicant(session, applicant_id, inspection_id)
        self.require_status(insp, InspectionStatus.awaiting_consent)
        now = self.clock.now()
        if not accept:
            insp.status, insp.refused_at, insp.live_key = InspectionStatus.refused, now, None
            await session.flush()
            self.push(session, insp, {"type": "inspection.ended", "status": "refused", "reason": "consent_refused"})
            return insp
        insp.status, insp.consent_at, insp.started_at = InspectionStatus.active, now, now
        if location:
            insp.location = {**location, "at": now.isoformat()}
        await session.flush()
        checklist = await checklists.get(session, insp.checklist_id)
        self.push(session, insp, started_message(insp, checklist))
        return insp

    async def set_location(
        self, session: AsyncSession, *, applicant_id: str, inspection_id: str, location: dict[str, Any]
    ) -> Inspection:
        insp = await self.for_applicant(session, applicant_id, inspection_id)
        self.require_status(insp, InspectionStatus.active)
        insp.location = {**location, "at": self.clock.now().isoformat()}
        await session.flush()
        return insp

    # --- during the inspection -----------------------------------------------------------------

    async def step(self, session: AsyncSession, *, staff: StaffLike, inspection_id: str, index: int) -> Inspection:
        insp = await self.for_staff(session, staff, inspection_id)
        self.require_status(insp, InspectionStatus.active)
        if index >= len(insp.point_keys):
            raise InspectionError(f"point index {index} is past the last point", code="unknown_point")
        insp.current_index = index
        await session.flush()
        checklist = await checklists.get(session, insp.checklist_id)
        self.push(session, insp, point_message(insp, checklist, await self.marks(session, insp.id)))
        return insp

    def _require_point(self, insp: Inspection, key: str) -> None:
        if key not in insp.point_keys:
            raise InspectionError(f"point {key!r} is not on this inspection's checklist", 404, "unknown_point")

    async def mark(
        self,
        session: AsyncSession,
        *,
        staff: StaffLike,
        inspection_id: str,
        point_key: str,
        result: MarkResult,
        note: str = "",
    ) -> PointMark:
        insp = await self.for_staff(session, staff, inspection_id)
        self.require_status(insp, InspectionStatus.active)
        self._require_point(insp, point_key)
        stmt = select(PointMark).where(PointMark.inspection_id == insp.id, PointMark.point_key == point_key)
        mark = (await session.execute(stmt)).scalar_one_or_none()
        if mark is None:
            mark = PointMark(inspection_id=insp.id, point_key=point_key)
            session.add(mark)
        mark.result, mark.note, mark.marked_by, mark.marked_at = result, note, staff.id, self.clock.now()
        await session.flush()
        checklist = await checklists.get(session, insp.checklist_id)
        self.push(session, insp, point_message(insp, checklist, await self.marks(session, insp.id)))
        return mark

    async def snapshot(
        self, session: AsyncSession, *, staff: StaffLike, inspection_id: str, point_key: str,
        marks: list[dict[str, Any]] | None = None,
    ) -> EvidenceSnapshot:
        """A full-resolution still of the applicant's camera, stored with server time and SHA-256; the
        marks shown over the camera at that moment are stored beside it (the image stays untouched)."""
        insp = await self.for_staff(session, staff, inspection_id)
        self.require_status(insp, InspectionStatus.active)
        self._require_point(insp, point_key)
        snap = await self.live.snapshot(insp.id)
        row = EvidenceSnapshot(
            inspection_id=insp.id,
            point_key=point_key,
            taken_at=snap.taken_at,
            taken_by=staff.id,
            sha256=snap.sha256,
            width=snap.width,
            height=snap.height,
            size=len(snap.jpeg),
            storage_key="",
            annotations=marks or None,
        )
        session.add(row)
        await session.flush()
        path = self.live.root / insp.id / f"snapshot-{row.id}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(snap.jpeg)
        row.storage_key = str(path.relative_to(self.live.root))
        await session.flush()
        await self.evidence(session, insp, "evidence_snapshot", {
            "snapshot_id": row.id, "point_key": point_key, "sha256": row.sha256, "file": row.storage_key,
            "taken_at": row.taken_at.isoformat()})
        self.push(session, insp, {"type": "inspection.snapshot", **snapshot_dict(row)})
        return row

    async def signal(self, session: AsyncSession, *, applicant_id: str, payload: dict[str, Any]) -> None:
        """The applicant's `inspection.signal` (offer or candidate) for the server-side peer."""
        insp = await self.for_applicant(session, applicant_id, str(payload.get("inspection", "")))
        self.require_status(insp, InspectionStatus.active)

        async def reply(message: dict[str, Any]) -> None:
            reply = {
                "room": insp.room,
                "inspection": insp.id,
                "type": "inspection.signal",
                "from": "inspection",
            }
            await self._send_now(f"a:{insp.applicant_id}", reply | message)

        await self.live.signal(insp.id, payload, reply)

    # --- the end -------------------------------------------------------------------------------

    async def end(
        self,
        session: AsyncSession,
        *,
        staff: StaffLike,
        inspection_id: str,
        outcome: InspectionOutcome,
        note: str = "",
        rectify_deadline: Any = None,
    ) -> Inspection:
        insp = await self.for_staff(session, staff, inspection_id)
        self.require_status(insp, InspectionStatus.active)
        marks = await self.marks(session, insp.id)
        now = self.clock.now()
        to_fix, deadline = check_outcome(insp.point_keys, marks, outcome, rectify_deadline, now)
        if outcome == InspectionOutcome.rectify:
            insp.rectify_points, insp.rectify_deadline = to_fix, deadline
        await self._close(session, insp, InspectionStatus.ended)
        insp.outcome, insp.outcome_note = outcome, note
        await session.flush()
        if self.on_work_order_event is not None:
            kind = {InspectionOutcome.passed: "inspection_passed", InspectionOutcome.failed: "inspection_failed",
                    InspectionOutcome.rectify: "inspection_rectify"}[outcome]
            await self.on_work_order_event(session, insp.work_order_id, kind, f"s:{staff.id}",
                                           {"inspection_id": insp.id, "rectify_points": insp.rectify_points or []})
        self.push(
            session,
            insp,
            {
                "type": "inspection.ended",
                "status": "ended",
                "outcome": outcome.value,
                "rectify_points": insp.rectify_points,
                "rectify_deadline": insp.rectify_deadline.isoformat() if insp.rectify_deadline else None,
            },
        )
        return insp

    async def cancel(self, session: AsyncSession, *, inspection_id: str, reason: str) -> Inspection:
        """The call ended (or the agent aborted): the recording so far is kept, no outcome."""
        insp = await self.get(session, inspection_id)
        self.require_status(insp, *LIVE_STATUSES)
        await self._close(session, insp, InspectionStatus.cancelled)
        insp.outcome_note = reason
        await session.flush()
        self.push(session, insp, {"type": "inspection.ended", "status": "cancelled", "reason": reason})
        return insp

    async def _close(self, session: AsyncSession, insp: Inspection, status: InspectionStatus) -> None:
        segments = [*insp.recordings, *await self.live.stop(insp.id)]
        insp.recordings = segments + await asyncio.to_thread(self.live.orphans, insp.id, segments)
        for seg in insp.recordings:
            if seg.get("sha256"):
                await self.evidence(session, insp, "evidence_recording",
                                    {"sha256": seg["sha256"], "file": seg.get("key"), "bytes": seg.get("bytes")})
        now = self.clock.now()
        insp.status, insp.ended_at, insp.live_key = status, now, None
        if insp.started_at is not None:
            insp.duration_s = (now - insp.started_at).total_seconds()
