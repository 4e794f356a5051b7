"""HTTP routes of the applicant session (the help page calls this first)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy.exc import IntegrityError

from helpdesk.applicants import service
from helpdesk.applicants.schemas import SessionIn, SessionOut
from helpdesk.deps import ClockDep, SessionDep, StateDep, load_applicant_from_cookie
from helpdesk.errors import Unauthorized
from helpdesk.security import APPLICANT_COOKIE

router = APIRouter(tags=["applicants"])


@router.post("/api/help/session", response_model=SessionOut)
async def open_session(body: SessionIn, request: Request, response: Response, state: StateDep,
                       session: SessionDep, clock: ClockDep) -> dict[str, Any]:
    """Starts (or resumes) the applicant's session, optionally from a hand-off token."""
    cookie = request.cookies.get(APPLICANT_COOKIE)
    current = await load_applicant_from_cookie(state, session, cookie)
    started = await service.start_session(
        session, state.settings, now=clock.now(), current=current,
        current_handoff=service.handoff_from_cookie(state.signer, state.settings, cookie),
        token=body.token, name=body.name, phone=body.phone, item_code=body.item,
    )
    try:
        await session.commit()
    except IntegrityError as exc:  # two tabs racing with the same link: the jti is the primary key
        await session.rollback()
        raise Unauthorized("this hand-off link was already used", code="token_replayed") from exc
    response.set_cookie(APPLICANT_COOKIE, service.cookie_value(state.signer, started),
                        max_age=state.settings.applicant_session_max_age_s, path="/", httponly=True,
                        samesite="lax", secure=state.settings.secure_cookies)
    a, item, hf = started.applicant, started.item, started.handoff
    return {
        "applicant": {"id": a.id, "name": a.name, "phone": a.phone},
        "item": None if item is None else {"code": item.code, "name": item.name},
        "handoff": None if hf is None else {k: hf[k] for k in ("issuer", "ctx", "priority")},
        # A call-back needs a code sent to the phone unless a hand-off vouches for the person.
        "needs_phone_code": state.settings.phone_verification and a.issuer is None,
    }
