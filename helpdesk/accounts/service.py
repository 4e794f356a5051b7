"""Staff accounts: creation, passwords, login with DB-backed throttling, the profile.

Login throttling schedule: failures are counted per username (any IP) and per IP within
`login_window_s`. Once a key has `login_free_failures` failures, attempts wait
2**(failures - free) seconds after the latest failure: 1 s, 2 s, 4 s, ... capped at
`login_max_lockout_s`. Attempts refused with 429 are not checked and not counted; a success
clears the username's failures. Rows live in the database, so every server process sees the
same counts.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk.accounts import repository as repo
from helpdesk.accounts.models import LoginFailure, Role, Staff, StaffSkill
from helpdesk.config import Settings
from helpdesk.errors import BadRequest, Conflict, NotFound, TooManyRequests, Unauthorized
from helpdesk.org.models import OrgUnit
from helpdesk.security import dummy_verify, hash_one_time_password, hash_password, verify_password

log = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 8


@dataclass(frozen=True)
class Skill:
    """One skill: a service item, or every item of a department (exactly one of the two)."""

    item_id: int | None = None
    department_id: int | None = None

    def __post_init__(self) -> None:
        if (self.item_id is None) == (self.department_id is None):
            raise ValueError("a skill names exactly one of item_id or department_id")


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise BadRequest(f"the password needs at least {MIN_PASSWORD_LENGTH} characters",
                         code="weak_password")


async def create_staff(
    session: AsyncSession,
    *,
    username: str,
    password: str,
    display_name: str,
    role: Role | str,
    unit_id: int,
    capacity: int = 1,
    skills: Iterable[Skill] = (),
    kb_editor: bool = False,
    language: str | None = None,
    now: datetime | None = None,
    one_time: bool = False,
) -> Staff:
    """Adds a staff account (CLI `createuser`, the demo loader, admins). Flushes; the caller commits.
    `one_time`: the password is a generated one-time password (fast hash, changed at first login).

    Raises Conflict for a taken username, NotFound for an unknown unit, BadRequest for a short
    password or a capacity below 1.
    """
    username = username.strip()
    if not username or len(username) > 64:
        raise BadRequest("the username needs 1 to 64 characters")
    _check_password(password)
    if capacity < 1:
        raise BadRequest("capacity must be at least 1")
    if await repo.get_staff_by_username(session, username) is not None:
        raise Conflict(f"username {username!r} is taken", code="username_taken")
    if await session.get(OrgUnit, unit_id) is None:
        raise NotFound(f"unit {unit_id} not found")
    staff = Staff(
        username=username, display_name=display_name,
        password_hash=hash_one_time_password(password) if one_time else hash_password(password),
        role=Role(role), unit_id=unit_id, capacity=capacity, kb_editor=kb_editor, is_active=True,
        language=language, created_at=now or datetime.now(UTC),
    )
    session.add(staff)
    await session.flush()
    for skill in skills:
        session.add(StaffSkill(staff_id=staff.id, item_id=skill.item_id, department_id=skill.department_id))
    await session.flush()
    return staff


async def change_password(
    session: AsyncSession, *, staff: Staff, new_password: str, current_password: str | None = None
) -> None:
    """Sets a new password; with `current_password` (self-service) it must match. Old sessions end,
    since the session cookie carries the tail of the hash."""
    if current_password is not None and not verify_password(staff.password_hash, current_password):
        raise Unauthorized("the current password is wrong", code="wrong_password")
    _check_password(new_password)
    if current_password is not None and new_password == current_password:
        raise BadRequest("choose a password different from the current one", code="same_password")
    staff.password_hash = hash_password(new_password)
    staff.must_change_password = False  # a one-time password from an admin's reset is used up
    await session.flush()


def lockout_seconds(failures: int, free: int, cap: int) -> int:
    """0 below the free failures, then 1, 2, 4, ... seconds, capped."""
    if failures < free:
        return 0
    return int(min(2 ** min(failures - free, 40), cap))


async def _wait_left(session: AsyncSession, settings: Settings, now: datetime, username: str, ip: str) -> int:
    since = now - timedelta(seconds=settings.login_window_s)
    wait = 0.0
    for where in (LoginFailure.username == username, LoginFailure.ip == ip):
        count, last = await repo.failures_since(session, where, since)
        lock = lockout_seconds(count, settings.login_free_failures, settings.login_max_lockout_s)
        if lock and last is not None:
            wait = max(wait, (last + timedelta(seconds=lock) - now).total_seconds())
    return math.ceil(wait) if wait > 0 else 0


async def authenticate(
    session: AsyncSession, settings: Settings, *, username: str, password: str, ip: str, now: datetime
) -> Staff | None:
    """The staff member, or None after recording a failure (the caller commits either way).

    Raises TooManyRequests while the username or the IP is locked out, without checking the
    password, so a locked-out guess teaches nothing.
    """
    key, ip = username.strip().lower()[:64], ip[:64]
    wait = await _wait_left(session, settings, now, key, ip)
    if wait:
        log.info("login refused during lock-out: username=%r ip=%s retry_after=%ss", key, ip, wait)
        raise TooManyRequests(f"too many failed logins: try again in {wait} s", retry_after_s=wait)
    staff = await repo.get_staff_by_username(session, key)
    if staff is None:
        dummy_verify()
        ok = False
    else:
        ok = verify_password(staff.password_hash, password) and staff.is_active
    if ok and staff is not None:
        await repo.forget_failures(session, username=key)
        staff.last_login_at = now
        await session.flush()
        return staff
    await repo.forget_failures(session, before=now - timedelta(seconds=settings.login_window_s))
    await repo.add_failure(session, username=key, ip=ip, at=now)
    log.warning("login failed: username=%r ip=%s", key, ip)
    wait = await _wait_left(session, settings, now, key, ip)
    if wait:
        log.warning("login locked out: username=%r ip=%s for %ss", key, ip, wait)
    return None


async def staff_profile(session: AsyncSession, staff: Staff) -> dict[str, Any]:
    """What the console needs about the caller (GET /api/auth/me)."""
    unit = await session.get(OrgUnit, staff.unit_id)
    skills = [{"item_id": s.item_id, "department_id": s.department_id}
              for s in await repo.skills_of(session, staff.id)]
    return {
        "id": staff.id, "username": staff.username, "display_name": staff.display_name,
        "role": str(staff.role), "capacity": staff.capacity, "kb_editor": staff.kb_editor,
        "language": staff.language, "unit_admin": staff.unit_admin,
        "must_change_password": staff.must_change_password,
        "unit": None if unit is None else {"id": unit.id, "name": unit.name, "level": str(unit.level)},
        "skills": skills,
    }
