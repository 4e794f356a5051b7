"""Annotated dependencies: the one way routes get settings, a session, the clock and the caller."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk.accounts.models import Role, Staff
from helpdesk.applicants.models import Applicant
from helpdesk.clock import Clock
from helpdesk.config import Settings
from helpdesk.errors import Forbidden, Unauthorized
from helpdesk.security import APPLICANT_COOKIE, STAFF_COOKIE, Signer
from helpdesk.state import AppState


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.helpdesk
    return state


StateDep = Annotated[AppState, Depends(get_state)]


def get_settings(state: StateDep) -> Settings:
    return state.settings


def get_clock(state: StateDep) -> Clock:
    return state.clock


def get_signer(state: StateDep) -> Signer:
    return state.signer


async def get_session(state: StateDep) -> AsyncIterator[AsyncSession]:
    """A session for the request; the route commits (services only flush)."""
    async with state.sessions() as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
ClockDep = Annotated[Clock, Depends(get_clock)]
SignerDep = Annotated[Signer, Depends(get_signer)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def load_staff_from_cookie(state: AppState, session: AsyncSession, cookie: str | None) -> Staff | None:
    if not cookie:
        return None
    payload = state.signer.loads("staff-session", cookie, state.settings.session_max_age_s)
    if not isinstance(payload, dict) or "sid" not in payload:
        return None
    staff = await session.scalar(select(Staff).where(Staff.id == payload["sid"], Staff.is_active.is_(True)))
    # A password change bumps the hash; sessions signed before it stop working.
    if staff is None or payload.get("pv") != staff.password_hash[-12:]:
        return None
    return staff


# What a staff member holding a one-time password (an admin's reset) may still call.
PASSWORD_CHANGE_PATHS = frozenset({"/api/auth/me", "/api/auth/password", "/api/auth/logout"})


async def get_current_staff(request: Request, state: StateDep, session: SessionDep) -> Staff:
    staff = await load_staff_from_cookie(state, session, request.cookies.get(STAFF_COOKIE))
    if staff is None:
        raise Unauthorized("login required", code="login_required")
    if staff.must_change_password and request.url.path not in PASSWORD_CHANGE_PATHS:
        raise Forbidden("change the one-time password first", code="password_change_required")
    return staff


CurrentStaff = Annotated[Staff, Depends(get_current_staff)]


def require_role(*roles: Role) -> Any:
    async def _check(staff: CurrentStaff) -> Staff:
        if staff.role not in roles:
            raise Forbidden(f"this needs one of the roles: {', '.join(roles)}")
        return staff

    return Depends(_check)


CurrentSupervisor = Annotated[Staff, require_role(Role.supervisor, Role.admin)]
CurrentAdmin = Annotated[Staff, require_role(Role.admin)]


async def load_applicant_from_cookie(
    state: AppState, session: AsyncSession, cookie: str | None
) -> Applicant | None:
    if not cookie:
        return None
    payload = state.signer.loads("applicant-session", cookie, state.settings.applicant_session_max_age_s)
    if not isinstance(payload, dict) or "aid" not in payload:
        return None
    return await session.get(Applicant, payload["aid"])


async def get_current_applicant(request: Request, state: StateDep, session: SessionDep) -> Applicant:
    applicant = await load_applicant_from_cookie(state, session, request.cookies.get(APPLICANT_COOKIE))
    if applicant is None:
        raise Unauthorized("no applicant session: open the help page first", code="no_applicant_session")
    return applicant


CurrentApplicant = Annotated[Applicant, Depends(get_current_applicant)]


async def get_optional_staff(request: Request, state: StateDep, session: SessionDep) -> Staff | None:
    """The logged-in staff member, or None (routes that serve staff and applicants alike)."""
    return await load_staff_from_cookie(state, session, request.cookies.get(STAFF_COOKIE))


async def get_optional_applicant(request: Request, state: StateDep, session: SessionDep) -> Applicant | None:
    return await load_applicant_from_cookie(state, session, request.cookies.get(APPLICANT_COOKIE))
