"""HTTP routes under /api/inspections (HTTP only: rules live in service.py and checklists.py)."""

# No `from __future__ import annotations`: the Annotated aliases below are local to make_router,
# and FastAPI must see them evaluated.

from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from fastapi.routing import APIRoute
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_inspection import checklists, retention
from helpdesk_inspection.component import STATIC_DIR, InspectionComponent
from helpdesk_inspection.errors import Forbidden, InspectionError, NotFound
from helpdesk_inspection.messages import inspection_dict, snapshot_dict
from helpdesk_inspection.models import EvidenceSnapshot, Inspection, InspectionReport
from helpdesk_inspection.ports import SendToMember, is_supervisor
from helpdesk_inspection.schemas import (
    ChecklistIn,
    ConsentIn,
    EndIn,
    LocationIn,
    MarkIn,
    SnapshotIn,
    StartIn,
    StepIn,
)

StaffCheck = Callable[[AsyncSession, Any, str], Awaitable[bool]]
# The org units whose figures a staff member may read; None: every unit.
StaffUnits = Callable[[AsyncSession, Any], Awaitable[list[int] | None]]


def _from_app_state(request: Request) -> InspectionComponent:
    comp: InspectionComponent = request.app.state.helpdesk.components["inspection"]
    return comp


class _ErrorRoute(APIRoute):
    """Renders InspectionError as the house body {"error": code, "detail": message}."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def run(request: Request) -> Response:
            try:
                return await handler(request)
            except InspectionError as exc:
                return JSONResponse({"error": exc.code, "detail": exc.message,
                                     "request_id": request.scope.get("request_id")}, status_code=exc.status_code)

        return run


def make_router(
    *,
    component: InspectionComponent | None = None,
    get_component: Callable[[Request], InspectionComponent] | None = None,
    session_dep: Callable[..., Any],
    maybe_staff: Callable[..., Any],
    maybe_applicant: Callable[..., Any],
    send_to_member: SendToMember | None = None,
    staff_may_see: StaffCheck | None = None,
    staff_units: StaffUnits | None = None,
) -> APIRouter:
    """``maybe_staff`` / ``maybe_applicant``: dependencies returning the caller (staff with .id and
    .role, applicant with .id) or None. ``staff_may_see(session, staff, work_order_id)`` widens who
    may read an inspection and, for anyone but its agent, act on it (without it: its agent, supervisors
    and admins); given, it replaces the blanket supervisor rule, so a supervisor reaches only the
    work orders of their own subtree. ``staff_units(session, staff)`` limits the figures to the
    units it returns (None: all). The component is built in
    the lifespan, after the routes: by default it is read per request from
    ``request.app.state.helpdesk.components["inspection"]`` (``component`` fixes it, for tests)."""

    def resolve(request: Request) -> InspectionComponent:
        comp = component or (get_component or _from_app_state)(request)
        if send_to_member is not None and comp._send is not send_to_member:
            comp.set_sender(send_to_member)
        return comp

    Comp = Annotated[InspectionComponent, Depends(resolve)]
    router = APIRouter(route_class=_ErrorRoute)
    Session = Annotated[AsyncSession, Depends(session_dep)]
    MaybeStaff = Annotated[Any, Depends(maybe_staff)]
    MaybeApplicant = Annotated[Any, Depends(maybe_applicant)]

    def staff_only(staff: Any) -> Any:
        if staff is None:
            raise InspectionError("staff login required", 401, "unauthorized")
        return staff

    def supervisor_only(staff: Any) -> Any:
        if not is_supervisor(staff_only(staff)):
            raise Forbidden("supervisors only")
        return staff

    def applicant_only(applicant: Any) -> str:
        if applicant is None:
            raise InspectionError("applicant session required", 401, "unauthorized")
        return str(applicant.id)

    # Who is asking is settled as a dependency, before the body is validated (401, not 422).
    async def require_staff(staff: MaybeStaff) -> Any:
        return staff_only(staff)

    async def require_supervisor(staff: MaybeStaff) -> Any:
        return supervisor_only(staff)

    async def require_applicant(applicant: MaybeApplicant) -> Any:
        applicant_only(applicant)
        return applicant

    async def require_caller(staff: MaybeStaff, applicant: MaybeApplicant) -> None:
        if staff is None and applicant is None:
            raise InspectionError("login or open the help page first", 401, "unauthorized")

    StaffReq = Annotated[Any, Depends(require_staff)]
    SupervisorReq = Annotated[Any, Depends(require_supervisor)]
    ApplicantReq = Annotated[Any, Depends(require_applicant)]
    caller = [Depends(require_caller)]

    async def readable(
        comp: InspectionComponent, session: AsyncSession, staff: Any, applicant: Any, inspection_id: str
    ) -> Inspection:
        insp = await comp.service.get(session, inspection_id)
        if staff is not None:
            if insp.agent_id == staff.id or await may_see_work_order(session, staff, insp.work_order_id):
                return insp
        elif applicant is not None and str(applicant.id) == insp.applicant_id:
            return insp
        raise NotFound(f"inspection {inspection_id} not found")

    async def may_see_work_order(session: AsyncSession, staff: Any, work_order_id: str) -> bool:
        if staff_may_see is None:
            return is_supervisor(staff)
        return await staff_may_see(session, staff, work_order_id)

    async def acting(comp: InspectionComponent, session: AsyncSession, staff: Any, inspection_id: str) -> Any:
        """Staff acting on an inspection: its agent, or someone who may see its work order (the
        service then still requires the agent or a supervisor). Out of scope reads as missing."""
        staff_only(staff)
        await readable(comp, session, staff, None, inspection_id)
        return staff

    async def full(comp: InspectionComponent, session: AsyncSession, insp: Inspection) -> dict[str, Any]:
        return inspection_dict(
            insp, await checklists.get(session, insp.checklist_id), await comp.service.marks(session, insp.id)
        )

    @router.get("/static/inspection/inspection.js", include_in_schema=False)
    async def script() -> FileResponse:
        return FileResponse(STATIC_DIR / "inspection.js", media_type="text/javascript")

    @router.get("/api/inspections/checklists/{item_id}")
    async def get_checklist(item_id: int, session: Session, staff: StaffReq) -> dict[str, Any]:
        return {
            "current": (c := await checklists.current(session, item_id)) and checklists.to_dict(c),
            "versions": [
                {
                    "id": v.id,
                    "version": v.version,
                    "created_at": v.created_at.isoformat(),
                    "change_note": v.change_note,
                }
                for v in await checklists.versions(session, item_id)
            ],
        }

    @router.put("/api/inspections/checklists/{item_id}")
    async def put_checklist(
        comp: Comp, item_id: int, body: ChecklistIn, session: Session, staff: SupervisorReq
    ) -> dict[str, Any]:
        supervisor_only(staff)
        row = await checklists.save(
            session,
            item_id=item_id,
            title=body.title,
            points=body.points,
            now=comp.clock.now(),
            staff_id=staff.id,
            change_note=body.change_note,
        )
        await session.commit()
        await comp.service.deliver(session)
        return checklists.to_dict(row)

    @router.get("/api/inspections/checklist-versions/{checklist_id}")
    async def get_version(checklist_id: int, session: Session, staff: StaffReq) -> dict[str, Any]:
        return checklists.to_dict(await checklists.get(session, checklist_id))

    @router.get("/api/inspections/figures")
    async def get_figures(
        session: Session, staff: SupervisorReq, since: datetime | None = None, until: datetime | None = None
    ) -> dict[str, Any]:
        supervisor_only(staff)
        units = await staff_units(session, staff) if staff_units is not None else None
        return {"rows": await retention.figures(session, since=since, until=until, unit_ids=units)}

    @router.get("/api/inspections", dependencies=caller)
    async def list_for_work_order(
        comp: Comp, work_order: str, session: Session, staff: MaybeStaff, applicant: MaybeApplicant
    ) -> dict[str, Any]:
        rows = (
            await session.execute(
                select(Inspection).where(Inspection.work_order_id == work_order).order_by(Inspection.created_at)
            )
        ).scalars()
        out = []
        for insp in rows:
            try:
                await readable(comp, session, staff, applicant, insp.id)
            except NotFound:
                continue
            out.append(inspection_dict(insp))
        return {"inspections": out}

    @router.post("/api/inspections", status_code=201)
    async def start(comp: Comp, body: StartIn, session: Session, staff: StaffReq) -> dict[str, Any]:
        staff_only(staff)
        if staff_may_see is not None and not await staff_may_see(session, staff, body.work_order):
            raise NotFound(f"work order {body.work_order} not found")
        insp = await comp.service.start(
            session,
            staff=staff,
            work_order_id=body.work_order,
            room=body.room,
            follow_up_of=body.follow_up_of,
        )
        await session.commit()
        await comp.service.deliver(session)
        return await full(comp, session, insp)

    @router.get("/api/inspections/{inspection_id}", dependencies=caller)
    async def get_one(
        comp: Comp, inspection_id: str, session: Session, staff: MaybeStaff, applicant: MaybeApplicant
    ) -> dict[str, Any]:
        return await full(comp, session, await readable(comp, session, staff, applicant, inspection_id))

    @router.post("/api/inspections/{inspection_id}/consent")
    async def consent(
        comp: Comp, inspection_id: str, body: ConsentIn, session: Session, applicant: ApplicantReq
    ) -> dict[str, Any]:
        location = body.location.model_dump() if body.location else None
        insp = await comp.service.consent(
            session,
            applicant_id=applicant_only(applicant),
            inspection_id=inspection_id,
            accept=body.accept,
            location=location,
        )
        await session.commit()
        await comp.service.deliver(session)
        return await full(comp, session, insp)

    @router.post("/api/inspections/{inspection_id}/location")
    async def location(
        comp: Comp, inspection_id: str, body: LocationIn, session: Session, applicant: ApplicantReq
    ) -> dict[str, Any]:
        insp = await comp.service.set_location(
            session,
            applicant_id=applicant_only(applicant),
            inspection_id=inspection_id,
            location=body.model_dump(),
        )
        await session.commit()
        await comp.service.deliver(session)
        return {"location": insp.location}

    @router.post("/api/inspections/{inspection_id}/step")
    async def step(comp: Comp, inspection_id: str, body: StepIn, session: Session, staff: StaffReq) -> dict[str, Any]:
        staff = await acting(comp, session, staff, inspection_id)
        insp = await comp.service.step(session, staff=staff, inspection_id=inspection_id, index=body.index)
        await session.commit()
        await comp.service.deliver(session)
        return await full(comp, session, insp)

    @router.post("/api/inspections/{inspection_id}/points/{key}/mark")
    async def mark(
        comp: Comp, inspection_id: str, key: str, body: MarkIn, session: Session, staff: StaffReq
    ) -> dict[str, Any]:
        row = await comp.service.mark(
            session,
            staff=await acting(comp, session, staff, inspection_id),
            inspection_id=inspection_id,
            point_key=key,
            result=body.result,
            note=body.note,
        )
        await session.commit()
        await comp.service.deliver(session)
        return {"point": key, "result": row.result.value, "note": row.note, "at": row.marked_at.isoformat()}

    @router.post("/api/inspections/{inspection_id}/points/{key}/snapshot", status_code=201)
    async def snapshot(comp: Comp, inspection_id: str, key: str, session: Session, staff: StaffReq,
                       body: SnapshotIn | None = None) -> dict[str, Any]:
        staff = await acting(comp, session, staff, inspection_id)
        marks = [m.model_dump(mode="json") for m in body.marks] if body else None
        row = await comp.service.snapshot(session, staff=staff, inspection_id=inspection_id, point_key=key,
                                          marks=marks)
        await session.commit()
        await comp.service.deliver(session)
        return snapshot_dict(row)

    @router.get("/api/inspections/{inspection_id}/snapshots/{snapshot_id}", dependencies=caller)
    async def get_snapshot(
        comp: Comp,
        inspection_id: str,
        snapshot_id: str,
        session: Session,
        staff: MaybeStaff,
        applicant: MaybeApplicant,
    ) -> FileResponse:
        await readable(comp, session, staff, applicant, inspection_id)
        row = await session.get(EvidenceSnapshot, snapshot_id)
        if row is None or row.inspection_id != inspection_id or row.deleted_at is not None:
            raise NotFound("snapshot not found (or deleted after the retention period)")
        return FileResponse(
            comp.media_root / row.storage_key,
            media_type="image/jpeg",  # written by the server-side peer, never uploaded
            filename=f"snapshot-{snapshot_id}.jpg",
            content_disposition_type="attachment",  # evidence: its original bytes, never rendered as a page
            headers={
                "X-Content-SHA256": row.sha256,
                "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": "default-src 'none'; sandbox",
            },
        )

    @router.post("/api/inspections/{inspection_id}/end")
    async def end(comp: Comp, inspection_id: str, body: EndIn, session: Session, staff: StaffReq) -> dict[str, Any]:
        insp, rep = await comp.end_with_report(
            session,
            staff=await acting(comp, session, staff, inspection_id),
            inspection_id=inspection_id,
            outcome=body.outcome,
            note=body.note,
            rectify_deadline=body.rectify_deadline,
        )
        await session.commit()
        await comp.service.deliver(session)
        return {**await full(comp, session, insp), "report": {"id": rep.id, "pdf_sha256": rep.pdf_sha256}}

    @router.post("/api/inspections/{inspection_id}/cancel")
    async def cancel(comp: Comp, inspection_id: str, session: Session, staff: StaffReq) -> dict[str, Any]:
        await comp.service.for_staff(session, await acting(comp, session, staff, inspection_id), inspection_id)
        insp = await comp.service.cancel(session, inspection_id=inspection_id, reason="cancelled_by_agent")
        await session.commit()
        await comp.service.deliver(session)
        return inspection_dict(insp)

    @router.get("/api/inspections/{inspection_id}/report.{fmt}", dependencies=caller)
    async def get_report(
        comp: Comp,
        inspection_id: str,
        fmt: str,
        session: Session,
        staff: MaybeStaff,
        applicant: MaybeApplicant,
    ) -> FileResponse:
        if fmt not in ("html", "pdf"):
            raise NotFound("report formats: html, pdf")
        await readable(comp, session, staff, applicant, inspection_id)
        rep = await session.scalar(select(InspectionReport).where(InspectionReport.inspection_id == inspection_id))
        if rep is None:
            raise NotFound("no report yet: the inspection has not ended")
        key = rep.html_key if fmt == "html" else rep.pdf_key
        media = "text/html; charset=utf-8" if fmt == "html" else "application/pdf"
        headers = {
            "X-Content-Type-Options": "nosniff",
            # The HTML report: inline styles and data: images, never a script, never a fetch.
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox",
            "X-Content-SHA256": rep.html_sha256 if fmt == "html" else rep.pdf_sha256,
        }
        return FileResponse(
            comp.media_root / key,
            media_type=media,
            headers=headers,
            filename=f"inspection-{inspection_id}.{fmt}",
        )

    return router
