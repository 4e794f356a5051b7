"""The applicant's HTTP side of the journey: the help page, the item, queueing, callbacks, rating,
ICE servers and files in a call."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from helpdesk_queue import WaitingEntry
from sqlalchemy import select

from helpdesk.applicants.models import Applicant
from helpdesk.applicants.service import handoff_from_cookie
from helpdesk.config import REPO_ROOT
from helpdesk.deps import (
    ClockDep,
    CurrentApplicant,
    SessionDep,
    StateDep,
    load_applicant_from_cookie,
    load_staff_from_cookie,
)
from helpdesk.errors import Conflict, Forbidden, NotFound
from helpdesk.files import file_response, save_upload
from helpdesk.journey import units
from helpdesk.journey.schemas import CallbackIn, HelpRequestIn, RatingIn
from helpdesk.journey.service import Journey, applicant_member, staff_member
from helpdesk.org.calendar import load_calendar
from helpdesk.org.models import ServiceItem
from helpdesk.security import APPLICANT_COOKIE, CSRF_COOKIE, STAFF_COOKIE
from helpdesk.workorders import service as wos
from helpdesk.workorders.models import Channel, FileAttachment, WorkOrder
from helpdesk.workorders.repository import can_staff_view

router = APIRouter(tags=["journey"])
templates = Jinja2Templates(directory=str(REPO_ROOT / "helpdesk" / "web" / "templates"))


def get_journey(state: StateDep) -> Journey:
    journey: Journey = state.components["journey"]
    return journey


JourneyDep = Annotated[Journey, Depends(get_journey)]


@router.get("/help", response_class=HTMLResponse, include_in_schema=False)
async def help_page(request: Request, state: StateDep, item: str = Query("", max_length=64),
                    t: str = Query("", max_length=8192), lang: str | None = Query(None, max_length=8),
                    unit: str = Query("", max_length=64)) -> Response:
    language = lang if lang in ("zh-CN", "en") else state.settings.default_language
    return templates.TemplateResponse(request, "help.html", {
        "lang": language, "item_code": item, "handoff_token": t, "unit_code": unit,
        "csrf_token": getattr(request.state, "csrf_token", "") or request.cookies.get(CSRF_COOKIE, ""),
    })


async def item_or_404(session: Any, code: str) -> ServiceItem:
    item = await session.scalar(select(ServiceItem).where(ServiceItem.code == code))
    if item is None:
        raise NotFound(f"service item {code!r} not found", code="unknown_item")
    return item


@router.get("/api/help/items/{code}")
async def help_item(code: str, session: SessionDep, journey: JourneyDep, clock: ClockDep,
                    unit: str | None = Query(None, max_length=64)) -> dict[str, Any]:
    item = await item_or_404(session, code)
    chain = await units.chain_for(session, item, unit)
    calendar = await load_calendar(session, chain[0].id)
    ready, staffed = await units.agents_for(journey, item, [u.id for u in chain])
    guide = journey.state.components.get("kb_guide")
    return {
        "code": item.code, "name": item.name, "name_en": item.name_en,
        "department": await units.department_name(session, item.department_id),
        "video_help": item.video_help, "remote_inspection": item.remote_inspection,
        "unit": {"code": chain[0].code, "name": chain[0].name},
        "open_now": calendar.is_open(clock.now()), "agents_ready": ready, "agents_online": staffed,
        "guide_html": await guide(session, item.id) if guide else None,
    }


@router.post("/api/help/requests")
async def request_help(body: HelpRequestIn, request: Request, session: SessionDep, journey: JourneyDep,
                       applicant: CurrentApplicant, clock: ClockDep) -> dict[str, Any]:
    """Queues the applicant: a work order now, then the queue routes it."""
    now = clock.now()
    item = await item_or_404(session, body.item)
    if not item.video_help:
        raise Conflict("video help is not offered for this item", code="not_offered")
    if await journey.queue.status(applicant.id) is not None or await journey.open_request(session, applicant.id):
        raise Conflict("you are already waiting for help", code="already_waiting")
    chain = await units.chain_for(session, item, body.unit)
    if not (await load_calendar(session, chain[0].id)).is_open(now):
        raise Conflict("the service centre is closed now: leave your number for a call back", code="closed")
    _, staffed = await units.agents_for(journey, item, [u.id for u in chain])
    if staffed == 0:
        raise Conflict("no agent is online for this item: leave your number for a call back", code="no_agents")
    applicant.name = body.name or applicant.name
    applicant.phone = body.phone or applicant.phone
    handoff = handoff_from_cookie(journey.state.signer, journey.state.settings,
                                  request.cookies.get(APPLICANT_COOKIE))
    if handoff is not None and handoff.get("item") not in (None, item.code):
        handoff = None  # the hand-off was about another item
    priority = int(handoff.get("priority") or 0) if handoff else 0
    wo = await wos.create_request(session, applicant_id=applicant.id, item_id=item.id, unit_id=chain[0].id,
                                  channel=Channel(body.channel), priority=priority, handoff=handoff, now=now)
    await session.commit()
    await journey.queue.join(WaitingEntry(
        ticket=applicant.id, work_order_id=wo.id, unit_chain=[u.id for u in chain], item_id=item.id,
        department_id=item.department_id, priority=priority, enqueued_at=now.timestamp()))
    status = await journey.queue.status(applicant.id)
    return {"work_order": wo.id, "number": wo.number, "ticket": applicant.id,
            "position": status.position if status else None,
            "expected_wait_s": status.expected_wait_s if status else None,
            "expected_wait_low_s": status.expected_wait_low_s if status else None,
            "expected_wait_high_s": status.expected_wait_high_s if status else None,
            "state": status.state if status else "connected"}


async def own_work_order(session: Any, applicant: Applicant, work_order_id: str) -> WorkOrder:
    wo = await session.get(WorkOrder, work_order_id)
    if wo is None or wo.applicant_id != applicant.id:
        raise NotFound("work order not found")  # the same answer for someone else's: no probing
    return wo


@router.post("/api/help/requests/{work_order_id}/leave")
async def leave_queue(work_order_id: str, session: SessionDep, journey: JourneyDep,
                      applicant: CurrentApplicant) -> dict[str, Any]:
    await own_work_order(session, applicant, work_order_id)
    abandoned = await journey.queue.leave(applicant.id)
    return {"left": abandoned is not None}


@router.post("/api/help/callbacks")
async def request_callback(body: CallbackIn, session: SessionDep, applicant: CurrentApplicant,
                           clock: ClockDep) -> dict[str, Any]:
    item = await item_or_404(session, body.item)
    chain = await units.chain_for(session, item, body.unit)
    applicant.phone = body.phone
    wo = await wos.create_callback(session, applicant_id=applicant.id, item_id=item.id, unit_id=chain[0].id,
                                   phone=body.phone, preferred_time=body.preferred_time, note=body.note,
                                   reason="requested", now=clock.now())
    await session.commit()
    return {"work_order": wo.id, "number": wo.number}


@router.post("/api/help/requests/{work_order_id}/rating")
async def rate_call(work_order_id: str, body: RatingIn, session: SessionDep, applicant: CurrentApplicant,
                    clock: ClockDep) -> dict[str, Any]:
    wo = await own_work_order(session, applicant, work_order_id)
    await wos.rate(session, wo, rating=body.rating, comment=body.comment, now=clock.now())
    await session.commit()
    return {"rating": wo.rating}


async def caller_member(request: Request, state: StateDep, session: SessionDep) -> str:
    """The caller as a call member: a logged-in staff member or an applicant with a session (401)."""
    staff = await load_staff_from_cookie(state, session, request.cookies.get(STAFF_COOKIE))
    if staff is not None:
        return staff_member(staff.id)
    applicant = await load_applicant_from_cookie(state, session, request.cookies.get(APPLICANT_COOKIE))
    if applicant is not None:
        return applicant_member(applicant.id)
    from helpdesk.errors import Unauthorized

    raise Unauthorized("login or open the help page first", code="login_required")


# A dependency, so who is asking is settled before the body is validated (401, not 422).
CallerMember = Annotated[str, Depends(caller_member)]


@router.get("/api/ice-servers")
async def ice_servers(member: CallerMember, state: StateDep, journey: JourneyDep) -> dict[str, Any]:
    """Time-limited TURN credentials, only for a logged-in agent or an applicant with a session."""
    return {"ice_servers": journey.ice_for(member), "ttl_s": state.settings.turn_ttl_s}


@router.post("/api/calls/{work_order_id}/files")
async def upload_call_file(work_order_id: str, member: CallerMember, state: StateDep, session: SessionDep,
                           journey: JourneyDep, clock: ClockDep,
                           file: UploadFile = File(...)) -> dict[str, Any]:
    """A file sent in a call: only the two members may send; it lands on the work order and in the room."""
    room = await journey.hub.get_room(work_order_id)
    if room is None or member not in room.members:
        raise Forbidden("you are not in this call", code="not_in_room")
    wo = await session.get(WorkOrder, work_order_id)
    if wo is None:
        raise NotFound("work order not found")
    s = state.settings
    stored = await save_upload(file, s.upload_dir, f"calls/{wo.id}", max_bytes=s.upload_max_bytes,
                               allowed_types=s.upload_allowed_types)
    row = await wos.add_file(session, wo, uploader_kind="applicant" if member.startswith("a:") else "staff",
                             uploader_id=member[2:], filename=stored.filename, content_type=stored.content_type,
                             size=stored.size, sha256=stored.sha256, storage_key=stored.storage_key,
                             source="upload", created_at=clock.now())
    await session.commit()
    out = file_view(row)
    await journey.share_file(room.id, member, out)
    return out


def file_view(row: FileAttachment) -> dict[str, Any]:
    url = f"/api/files/{row.id}"
    return {"id": row.id, "name": row.filename, "content_type": row.content_type, "size": row.size,
            "sha256": row.sha256, "url": url,
            "preview_url": url if row.content_type.startswith("image/") else None}


@router.get("/api/files/{file_id}", dependencies=[Depends(caller_member)])
async def download_file(file_id: str, request: Request, state: StateDep, session: SessionDep) -> Response:
    row = await session.get(FileAttachment, file_id)
    if row is None:
        raise NotFound("file not found")
    staff = await load_staff_from_cookie(state, session, request.cookies.get(STAFF_COOKIE))
    allowed = False
    if staff is not None and row.work_order_id is not None:
        allowed = await can_staff_view(session, staff, row.work_order_id)
    if not allowed:
        applicant = await load_applicant_from_cookie(state, session, request.cookies.get(APPLICANT_COOKIE))
        wo = await session.get(WorkOrder, row.work_order_id) if row.work_order_id else None
        allowed = applicant is not None and wo is not None and wo.applicant_id == applicant.id
    if not allowed:
        raise NotFound("file not found")
    return file_response(state.settings.upload_dir, row.storage_key, row.filename, row.content_type)
