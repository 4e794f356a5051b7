"""HTTP routes: console login/logout/me, admin API-token management, the integration whoami."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from fastapi import APIRouter, Request, Response

from helpdesk.accounts import service, tokens
from helpdesk.accounts.models import Staff
from helpdesk.accounts.schemas import (
    ApiTokenCreated,
    ApiTokenIn,
    ApiTokenOut,
    LoginIn,
    LoginOut,
    PasswordChangeIn,
    StaffProfile,
    WhoAmI,
)
from helpdesk.config import Settings
from helpdesk.deps import (
    ClockDep,
    CurrentAdmin,
    CurrentStaff,
    SessionDep,
    SettingsDep,
    SignerDep,
    StateDep,
    load_staff_from_cookie,
)
from helpdesk.errors import BadRequest, Unauthorized
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
    staff = await service.authenticate(session, settings, username=body.username, password=body.password,
                                       ip=ip, now=clock.now())
    await session.commit()  # the failure row or the cleared failures, before answering
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
                          session: SessionDep, settings: SettingsDep, signer: SignerDep) -> Response:
    """Self-service change; the new cookie keeps this browser in, other sessions end."""
    await service.change_password(session, staff=staff, new_password=body.new_password,
                                  current_password=body.current_password)
    await session.commit()
    _set_session_cookie(response, signer, settings, staff)
    response.status_code = 204
    return response


@router.get("/api/admin/api-tokens", response_model=list[ApiTokenOut])
async def list_api_tokens(admin: CurrentAdmin, session: SessionDep, clock: ClockDep) -> list[dict[str, Any]]:
    now = clock.now()
    return [tokens.token_view(t, now) for t in await tokens.list_api_tokens(session)]


@router.post("/api/admin/api-tokens", response_model=ApiTokenCreated, status_code=201)
async def create_api_token(body: ApiTokenIn, admin: CurrentAdmin, session: SessionDep,
                           clock: ClockDep) -> dict[str, Any]:
    if body.expires_at is not None and body.expires_at.tzinfo is None:
        raise BadRequest("expires_at needs a time zone (e.g. 2027-01-01T00:00:00+08:00)")
    now = clock.now()
    token, plain = await tokens.create_api_token(
        session, name=body.name, scopes=body.scopes, unit_id=body.unit_id,
        expires_at=body.expires_at.astimezone(UTC) if body.expires_at else None,
        now=now, created_by=admin.id,
    )
    await session.commit()
    return tokens.token_view(token, now) | {"token": plain}


@router.delete("/api/admin/api-tokens/{token_id}", response_model=ApiTokenOut)
async def revoke_api_token(token_id: int, admin: CurrentAdmin, session: SessionDep,
                           clock: ClockDep) -> dict[str, Any]:
    now = clock.now()
    token = await tokens.revoke_api_token(session, token_id=token_id, now=now)
    await session.commit()
    return tokens.token_view(token, now)


@router.get("/api/integrations/whoami", response_model=WhoAmI)
async def whoami(token: tokens.CurrentApiToken) -> dict[str, Any]:
    """Lets an integrator check a token and its scopes."""
    return {"name": token.name, "scopes": list(token.scopes), "unit_id": token.unit_id,
            "expires_at": token.expires_at}
