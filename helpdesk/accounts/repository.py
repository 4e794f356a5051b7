"""Every query on staff, skills, login failures and API tokens."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk.accounts.models import ApiToken, LoginFailure, Staff, StaffSkill


async def get_staff(session: AsyncSession, staff_id: int) -> Staff | None:
    return await session.get(Staff, staff_id)


async def get_staff_by_username(session: AsyncSession, username: str) -> Staff | None:
    """Case-insensitive: "Zhang.Wei" and "zhang.wei" are one account."""
    return await session.scalar(select(Staff).where(func.lower(Staff.username) == username.lower()))


async def skills_of(session: AsyncSession, staff_id: int) -> Sequence[StaffSkill]:
    stmt = select(StaffSkill).where(StaffSkill.staff_id == staff_id).order_by(StaffSkill.id)
    return (await session.scalars(stmt)).all()


async def failures_since(
    session: AsyncSession, where: ColumnElement[bool], since: datetime
) -> tuple[int, datetime | None]:
    """How many failures match `where` since `since`, and when the latest was."""
    stmt = select(func.count(LoginFailure.id), func.max(LoginFailure.at)).where(
        where, LoginFailure.at > since
    )
    count, last = (await session.execute(stmt)).one()
    return int(count), last


async def add_failure(session: AsyncSession, *, username: str, ip: str, at: datetime) -> None:
    session.add(LoginFailure(username=username, ip=ip, at=at))
    await session.flush()


async def forget_failures(session: AsyncSession, *, username: str | None = None,
                          before: datetime | None = None) -> None:
    """Drops a username's failures (after a success) or every failure older than `before`."""
    if username is None and before is None:
        raise ValueError("forget_failures needs a username or a cut-off")
    stmt = delete(LoginFailure)
    if username is not None:
        stmt = stmt.where(LoginFailure.username == username)
    if before is not None:
        stmt = stmt.where(LoginFailure.at < before)
    await session.execute(stmt)


async def get_token_by_hash(session: AsyncSession, token_hash: str) -> ApiToken | None:
    return await session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash))


async def get_token(session: AsyncSession, token_id: int) -> ApiToken | None:
    return await session.get(ApiToken, token_id)


async def list_tokens(session: AsyncSession) -> Sequence[ApiToken]:
    return (await session.scalars(select(ApiToken).order_by(ApiToken.id))).all()
