"""HTTP routes of administration (/api/admin/...): HTTP only; rules live in the services, every
route first resolves the caller's AdminScope (admins everywhere, unit admins in their subtree)."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from fastapi import APIRouter, Query, Request

from helpdesk.accounts.schemas import ApiTokenCreated, ApiTokenOut
from helpdesk.admin import catalogue, holidays, staff, tokens, units
from helpdesk.admin.live import announce
from helpdesk.admin.schemas import (
    ClosureIn,
    DepartmentIn,
    ItemIn,
    StaffIn,
    StaffPatch,
    TokenIn,
    UnitIn,
    UnitMove,
    UnitPatch,
    present,
)
from helpdesk.admin.scope import AdminScopeDep
from helpdesk.deps import ClockDep, CurrentStaff, SessionDep
from helpdesk.errors import BadRequest

router = APIRouter(prefix="/api/admin", tags=["admin"])


async def _done(request: Request, session: Any, *topics: str) -> None:
    """Commit, then tell every process to drop what it cached about these topics."""
    await session.commit()
    await announce(request.app.state.helpdesk, *topics)


@router.get("/me")
async def my_scope(scope: AdminScopeDep) -> dict[str, Any]:
    """What the admin pages may offer this caller."""
    unit_id = scope.staff.unit_id if scope.staff is not None and not scope.is_admin else None
    return {"is_admin": scope.is_admin, "path": scope.path, "unit_id": unit_id}


# ---- org tree ----------------------------------------------------------------------------------
@router.get("/units")
async def list_units(scope: AdminScopeDep, session: SessionDep) -> list[dict[str, Any]]:
    return await units.list_units(session, scope)


@router.post("/units", status_code=201)
async def create_unit(body: UnitIn, scope: AdminScopeDep, session: SessionDep, clock: ClockDep,
                      request: Request) -> dict[str, Any]:
    unit = await units.create_unit(session, scope, now=clock.now(), **body.model_dump())
    view = units.view(unit)
    await _done(request, session, "units")
    return view


@router.patch("/units/{unit_id}")
async def update_unit(unit_id: int, body: UnitPatch, scope: AdminScopeDep, session: SessionDep, clock: ClockDep,
                      request: Request) -> dict[str, Any]:
    view = units.view(await units.update_unit(session, scope, unit_id, present(body), clock.now()))
    await _done(request, session, "units")
    return view


@router.post("/units/{unit_id}/move")
async def move_unit(unit_id: int, body: UnitMove, scope: AdminScopeDep, session: SessionDep, clock: ClockDep,
                    request: Request) -> dict[str, Any]:
    view = units.view(await units.move_unit(session, scope, unit_id, body.parent_id, clock.now()))
    await _done(request, session, "units")
    return view


@router.post("/units/{unit_id}/disable")
async def disable_unit(unit_id: int, scope: AdminScopeDep, session: SessionDep, clock: ClockDep,
                       request: Request) -> dict[str, Any]:
    view = units.view(await units.set_disabled(session, scope, unit_id, True, clock.now()))
    await _done(request, session, "units")
    return view


@router.post("/units/{unit_id}/enable")
async def enable_unit(unit_id: int, scope: AdminScopeDep, session: SessionDep, clock: ClockDep,
                      request: Request) -> dict[str, Any]:
    view = units.view(await units.set_disabled(session, scope, unit_id, False, clock.now()))
    await _done(request, session, "units")
    return view


# ---- departments and items ---------------------------------------------------------------------
@router.get("/departments")
async def list_departments(scope: AdminScopeDep, session: SessionDep) -> list[dict[str, Any]]:
    return await catalogue.list_departments(session)


@router.put("/departments")
async def save_department(body: DepartmentIn, scope: AdminScopeDep, session: SessionDep, clock: ClockDep,
                          request: Request) -> dict[str, Any]:
    view = catalogue.dept_view(await catalogue.save_department(session, scope, now=clock.now(), **body.model_dump()))
    await _done(request, session, "items")
    return view


@router.get("/items")
async def search_items(scope: AdminScopeDep, session: SessionDep, q: str = "", department: str | None = None,
                       unit: str | None = None, video_help: bool | None = None, outdated: bool | None = None,
                       offset: int = Query(0, ge=0), limit: int = Query(50, ge=1, le=200)) -> dict[str, Any]:
    return await catalogue.search_items(session, scope, q=q, department=department, unit=unit,
                                        video_help=video_help, outdated=outdated, offset=offset, limit=limit)


@router.put("/items")
async def save_item(body: ItemIn, scope: AdminScopeDep, session: SessionDep, clock: ClockDep,
                    request: Request) -> dict[str, Any]:
    """Creates or updates an item by its code (only the fields sent)."""
    item = await catalogue.save_item(session, scope, present(body), clock.now())
    code = item.code
    await _done(request, session, "items")
    found = await catalogue.search_items(session, scope, q=code, limit=200)
    return next(i for i in found["items"] if i["code"] == code)


# ---- staff -------------------------------------------------------------------------------------
@router.get("/staff")
async def search_staff(scope: AdminScopeDep, session: SessionDep, q: str = "", unit: str | None = None,
                       role: str | None = None, active: bool | None = None, offset: int = Query(0, ge=0),
                       limit: int = Query(50, ge=1, le=200)) -> dict[str, Any]:
    return await staff.search_staff(session, scope, q=q, unit=unit, role=role, active=active, offset=offset,
                                    limit=limit)


@router.post("/staff", status_code=201)
async def create_staff(body: StaffIn, scope: AdminScopeDep, session: SessionDep, clock: ClockDep,
                       request: Request) -> dict[str, Any]:
    """The one-time password is in this answer only; it must be changed at the first login."""
    person, password = await staff.create_staff(session, scope, body.model_dump(), clock.now())
    person_id = person.id
    await _done(request, session, "staff")
    s, unit = await staff.get_in_scope(session, scope, person_id)
    skills = (await staff.skill_codes(session, [person_id]))[person_id]
    return staff.view(s, unit.code, skills) | {"one_time_password": password}


@router.patch("/staff/{staff_id}")
async def update_staff(staff_id: int, body: StaffPatch, scope: AdminScopeDep, session: SessionDep,
                       clock: ClockDep, request: Request) -> dict[str, Any]:
    await staff.update_staff(session, scope, staff_id, present(body), clock.now())
    await _done(request, session, "staff")
    s, unit = await staff.get_in_scope(session, scope, staff_id)
    return staff.view(s, unit.code, (await staff.skill_codes(session, [staff_id]))[staff_id])


@router.post("/staff/{staff_id}/reset-password")
async def reset_password(staff_id: int, scope: AdminScopeDep, session: SessionDep, clock: ClockDep,
                         request: Request) -> dict[str, Any]:
    password = await staff.reset_password(session, scope, staff_id, clock.now())
    await _done(request, session, "staff")
    return {"one_time_password": password}


@router.get("/directory")
async def staff_directory(me: CurrentStaff, session: SessionDep, q: str = "", unit_id: int | None = None,
                          limit: int = Query(50, ge=1, le=200)) -> list[dict[str, Any]]:
    """Colleagues a call may be handed to (any staff member: the console's transfer dialog)."""
    return await staff.directory(session, q=q, unit_id=unit_id, limit=limit)


# ---- holidays and closures ---------------------------------------------------------------------
@router.get("/holidays/{year}")
async def list_holidays(year: int, scope: AdminScopeDep, session: SessionDep) -> list[dict[str, Any]]:
    return await holidays.list_year(session, scope, year)


@router.post("/holidays/{year}/load")
async def load_holidays(year: int, scope: AdminScopeDep, session: SessionDep, clock: ClockDep,
                        request: Request) -> dict[str, Any]:
    counts = await holidays.load_year(session, scope, year, clock.now())
    await _done(request, session, "holidays")
    return counts


@router.put("/closures")
async def save_closure(body: ClosureIn, scope: AdminScopeDep, session: SessionDep, clock: ClockDep,
                       request: Request) -> dict[str, Any]:
    view = await holidays.save_day(session, scope, now=clock.now(), **body.model_dump())
    await _done(request, session, "holidays")
    return view


@router.delete("/closures/{holiday_id}", status_code=204)
async def delete_closure(holiday_id: int, scope: AdminScopeDep, session: SessionDep, clock: ClockDep,
                         request: Request) -> None:
    await holidays.delete_day(session, scope, holiday_id, clock.now())
    await _done(request, session, "holidays")


# ---- integration tokens ------------------------------------------------------------------------
@router.get("/api-tokens", response_model=list[ApiTokenOut])
async def list_api_tokens(scope: AdminScopeDep, session: SessionDep, clock: ClockDep) -> list[dict[str, Any]]:
    return await tokens.list_tokens(session, scope, clock.now())


@router.post("/api-tokens", status_code=201, response_model=ApiTokenCreated)
async def create_api_token(body: TokenIn, scope: AdminScopeDep, session: SessionDep,
                           clock: ClockDep) -> dict[str, Any]:
    """The token itself is in this answer only."""
    if body.expires_at is not None and body.expires_at.tzinfo is None:
        raise BadRequest("expires_at needs a time zone (e.g. 2027-01-01T00:00:00+08:00)")
    now = clock.now()
    token, plain = await tokens.create_token(
        session, scope, name=body.name, scopes=body.scopes, unit_id=body.unit_id,
        expires_at=body.expires_at.astimezone(UTC) if body.expires_at else None, now=now)
    view = tokens.tokens.token_view(token, now) | {"token": plain}
    await session.commit()
    return view


@router.delete("/api-tokens/{token_id}", response_model=ApiTokenOut)
async def revoke_api_token(token_id: int, scope: AdminScopeDep, session: SessionDep,
                           clock: ClockDep) -> dict[str, Any]:
    now = clock.now()
    view = tokens.tokens.token_view(await tokens.revoke_token(session, scope, token_id, now), now)
    await session.commit()
    return view
