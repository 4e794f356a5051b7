"""Tiny factories for tests: each adds one row with sensible defaults and flushes.

Reuse them from any test: `from tests.helpdesk.factories import make_unit, ...`. `api_client`
builds the app on the settings' database and hands back an httpx client that already holds the
CSRF cookie and echoes it in X-CSRF-Token.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

import helpdesk.models  # noqa: F401 - registers every table
from helpdesk.accounts.models import Role, Staff, StaffSkill
from helpdesk.accounts.service import Skill, create_staff
from helpdesk.app import create_app
from helpdesk.applicants.models import Applicant
from helpdesk.clock import Clock
from helpdesk.config import Settings
from helpdesk.db import Base, make_engine
from helpdesk.org.models import Department, OrgUnit, ServiceItem, UnitLevel
from helpdesk.org.service import create_department, create_item, create_unit
from helpdesk.security import hash_password
from helpdesk.workorders.models import Channel, WorkOrder, WorkOrderStatus

_seq = itertools.count(1)
PASSWORD = "correct horse battery"
T0 = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)


async def make_unit(session: AsyncSession, *, parent: OrgUnit | None = None, name: str | None = None,
                    level: UnitLevel | None = None, **kw: Any) -> OrgUnit:
    n = next(_seq)
    default_level = UnitLevel.county if parent is not None else UnitLevel.city
    return await create_unit(session, code=kw.pop("code", f"U{n}"), name=name or f"单位{n}",
                             level=level or default_level, parent_id=parent.id if parent else None, **kw)


async def make_department(session: AsyncSession, **kw: Any) -> Department:
    n = next(_seq)
    code, name = kw.pop("code", f"D{n}"), kw.pop("name", f"部门{n}")
    return await create_department(session, code=code, name=name, **kw)


async def make_item(session: AsyncSession, *, department: Department | None = None,
                    units: Sequence[OrgUnit] = (), **kw: Any) -> ServiceItem:
    n = next(_seq)
    dept = department or await make_department(session)
    return await create_item(session, code=kw.pop("code", f"ITEM{n}"), name=kw.pop("name", f"事项{n}"),
                             department_id=dept.id, unit_ids=[u.id for u in units], **kw)


@functools.cache
def _default_hash() -> str:
    return hash_password(PASSWORD)


async def make_staff(session: AsyncSession, *, unit: OrgUnit, role: Role = Role.agent,
                     password: str = PASSWORD, skills: Sequence[Skill] = (), **kw: Any) -> Staff:
    """Like create_staff, but the default password's argon2 hash is computed once per run
    (argon2 is slow on purpose); pass another password to go through create_staff itself."""
    n = next(_seq)
    username, display_name = kw.pop("username", f"user{n}"), kw.pop("display_name", f"员工{n}")
    if password != PASSWORD:
        return await create_staff(session, username=username, password=password, display_name=display_name,
                                  role=role, unit_id=unit.id, skills=skills, now=T0, **kw)
    staff = Staff(username=username, display_name=display_name, password_hash=_default_hash(), role=role,
                  unit_id=unit.id, capacity=kw.pop("capacity", 1), kb_editor=kw.pop("kb_editor", False),
                  is_active=True, created_at=T0, **kw)
    session.add(staff)
    await session.flush()
    session.add_all(StaffSkill(staff_id=staff.id, item_id=k.item_id, department_id=k.department_id)
                    for k in skills)
    await session.flush()
    return staff


async def make_applicant(session: AsyncSession, **kw: Any) -> Applicant:
    applicant = Applicant(created_at=T0, **kw)
    session.add(applicant)
    await session.flush()
    return applicant


async def make_work_order(session: AsyncSession, *, unit: OrgUnit, item: ServiceItem | None = None,
                          applicant: Applicant | None = None, **kw: Any) -> WorkOrder:
    n = next(_seq)
    item = item or await make_item(session, units=[unit])
    applicant = applicant or await make_applicant(session)
    wo = WorkOrder(number=kw.pop("number", f"WO{n:08d}"), applicant_id=applicant.id, item_id=item.id,
                   unit_id=unit.id, status=kw.pop("status", WorkOrderStatus.queued),
                   channel=kw.pop("channel", Channel.video), created_at=T0, updated_at=T0, **kw)
    session.add(wo)
    await session.flush()
    return wo


async def create_tables(url: str) -> None:
    engine = make_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    await engine.dispose()


@asynccontextmanager
async def api_app(settings: Settings, clock: Clock) -> AsyncIterator[FastAPI]:
    """The app with its lifespan running, on the settings' database (tables created if missing)."""
    await create_tables(settings.database_url)
    app = create_app(settings, clock=clock)
    async with app.router.lifespan_context(app):
        yield app


@asynccontextmanager
async def client_for(app: FastAPI, ip: str = "203.0.113.7",
                     base_url: str = "http://testserver") -> AsyncIterator[httpx.AsyncClient]:
    """A browser-like client from `ip`, holding the CSRF cookie and echoing it in X-CSRF-Token."""
    transport = httpx.ASGITransport(app=app, client=(ip, 50000))
    async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
        await client.get("/healthz")  # any response sets hd_csrf
        client.headers["X-CSRF-Token"] = client.cookies["hd_csrf"]
        yield client


@asynccontextmanager
async def api_client(settings: Settings, clock: Clock, ip: str = "203.0.113.7",
                     base_url: str = "http://testserver") -> AsyncIterator[httpx.AsyncClient]:
    async with api_app(settings, clock) as app, client_for(app, ip, base_url) as client:
        yield client
