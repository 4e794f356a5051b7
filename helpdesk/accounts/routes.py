"""HTTP routes: console login/logout/me, password change, the integration whoami (token management
lives in helpdesk/admin/routes.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from helpdesk.accounts import service, tokens
from helpdesk.accounts.models import Staff
from helpdesk.accounts.schemas import (
    LoginIn,
    LoginOut,
    PasswordChangeIn,
    StaffProfile,
    WhoAmI,
)
from helpdesk.admin import audit
from helpdesk.config import Settings
from helpdesk.deps import (
    ClockDep,
    CurrentStaff,
    SessionDep,
    SettingsDep,
    SignerDep,
    StateDep,
    load_staff_from_cookie,
)
from helpdesk.errors import Unauthorized
from helpdesk.security import STAFF_COOKIE, Signer

router = APIRouter(tags=["accounts"])


def _set_session_cookie(response: Response, signer: Signer, settings: Settings, staff: Staff) -> None:
    value = signer.dumps("staff-session", {"sid": staff.id, "pv": staff.password_hash[-12:]})
    response.set_cookie(STAFF_COOKIE, value, max_age=settings.session_max_age_s, path="/",
                        httponly=True, samesite="lax", secure=settings.secure_cookies)


@router.post("/api/auth/login", response_model=LoginOut)
async def login(body: LoginIn, request: Request, response: Response, session: SessionDep,
                settings: SettingsDep, signer: SignerDep, clock: ClockDep) -> dict[str, Any]:
    ip = request.client.host if request.client else "unknown"
    now = clock.now()
    staff = await service.authenticate(session, settings, username=body.username, password=body.password,
                                       ip=ip, now=now)
    name = body.username.strip().lower()[:64]
    await audit.record(session, kind="login" if staff else "login.failed",
                       actor=audit.actor_of(staff) if staff else "anonymous", at=now, target=f"staff:{name}")
    await session.commit()  # the failure row or the cleared failures, and the audit entry, before answering
    if staff is None:
        raise Unauthorized("wrong username or password", code="bad_credentials")
    _set_session_cookie(response, signer, settings, staff)
    return {"staff": await service.staff_profile(session, staff)}


@router.post("/api/auth/logout", status_code=204)
async def logout(response: Response, settings: SettingsDep) -> Response:
    response.delete_cookie(STAFF_COOKIE, path="/", httponly=True, samesite="lax",
                           secure=settings.secure_cookies)
    response.status_code = 204
    return response


@router.get("/api/auth/me", response_model=StaffProfile)
async def me(staff: CurrentStaff, session: SessionDep) -> dict[str, Any]:
    return await service.staff_profile(session, staff)


@router.get("/api/auth/session")
async def current_session(request: Request, state: StateDep, session: SessionDep) -> dict[str, Any]:
    """Who is logged in, or nobody: pages ask this first, so a fresh visit logs no 401."""
    staff = await load_staff_from_cookie(state, session, request.cookies.get(STAFF_COOKIE))
    return {"staff": await service.staff_profile(session, staff) if staff is not None else None}


@router.post("/api/auth/password", status_code=204)
async def change_password(body: PasswordChangeIn, staff: CurrentStaff, response: Response,
                          session: SessionDep, settings: SettingsDep, signer: SignerDep,
                          clock: ClockDep) -> Response:
    """Self-service change; the new cookie keeps this browser in, other sessions end."""
    await service.change_password(session, staff=staff, new_password=body.new_password,
                                  current_password=body.current_password)
    await audit.record(session, kind="password.change", actor=audit.actor_of(staff), at=clock.now(),
                       target=f"staff:{staff.username}")
    await session.commit()
    _set_session_cookie(response, signer, settings, staff)
    response.status_code = 204
    return response


@router.get("/api/integrations/whoami", response_model=WhoAmI)
async def whoami(token: tokens.CurrentApiToken) -> dict[str, Any]:
    """Lets an integrator check a token and its scopes."""
    return {"name": token.name, "scopes": list(token.scopes), "unit_id": token.unit_id,
            "expires_at": token.expires_at}
