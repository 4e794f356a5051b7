"""Personal data (个人信息保护法): phone numbers masked for everyone but the handling agent and in logs;
retention periods swept; the admin exports or erases one applicant's data, audited, the work orders
kept with their personal fields blanked."""

from __future__ import annotations

import io
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from helpdesk.accountability import audit
from helpdesk.accounts.models import Role
from helpdesk.applicants.models import Applicant
from helpdesk.cli import main
from helpdesk.clock import FakeClock
from helpdesk.config import Settings
from helpdesk.logs import configure_logging
from helpdesk.privacy.mask import mask_in_text, mask_phone
from helpdesk.privacy.retention import sweep
from helpdesk.workorders import service as wos
from helpdesk.workorders.models import ChatMessage, FileAttachment, WorkOrder, WorkOrderEvent, WorkOrderStatus
from tests.helpdesk.factories import (
    PASSWORD,
    T0,
    api_app,
    client_for,
    make_applicant,
    make_item,
    make_staff,
    make_unit,
    make_work_order,
)

PHONE = "13812345678"


def test_numbers_are_masked_in_text_but_ids_are_not() -> None:
    assert mask_phone(PHONE) == "138****5678" and mask_phone("0312-5551234") == "031****1234"
    assert mask_in_text(f"call back {PHONE} or 0312-5551234") == "call back 138****5678 or 0312****1234"
    for kept in ("work order WO20261130000123", "digest a013812345678f", "id 138123456789"):
        assert mask_in_text(kept) == kept
    assert mask_in_text("电话13812345678。") == "电话138****5678。"


def test_log_lines_never_carry_a_full_number() -> None:
    configure_logging("INFO")
    stream = io.StringIO()
    handler = logging.getLogger().handlers[0]
    handler.setStream(stream)  # type: ignore[attr-defined]
    logging.getLogger("helpdesk.test").info("callback for %s requested", PHONE)
    assert "138****5678" in stream.getvalue() and PHONE not in stream.getvalue()


@dataclass
class World:
    app: FastAPI
    admin: httpx.AsyncClient
    agent: httpx.AsyncClient
    supervisor: httpx.AsyncClient
    applicant_id: str
    work_order: str
    agent_id: int


@pytest.fixture
async def world(settings: Settings, clock: FakeClock) -> AsyncIterator[World]:
    async with api_app(settings, clock) as app:
        async with app.state.helpdesk.sessions() as s:
            unit = await make_unit(s)
            item = await make_item(s, units=[unit])
            agent = await make_staff(s, unit=unit, username="pv.agent")
            await make_staff(s, unit=unit, role=Role.supervisor, username="pv.super")
            await make_staff(s, unit=unit, role=Role.admin, username="pv.admin")
            applicant = await make_applicant(s, name="张三", phone=PHONE)
            wo = await make_work_order(s, unit=unit, item=item, applicant=applicant, agent_id=agent.id,
                                       status=WorkOrderStatus.resolved, callback_phone=PHONE)
            await wos.add_chat(s, wo, sender_kind="applicant", sender_id=applicant.id, text=f"我的电话 {PHONE}", now=T0)
            key = f"calls/{wo.id}/photo"
            (settings.upload_dir / "calls" / wo.id).mkdir(parents=True)
            (settings.upload_dir / key).write_bytes(b"%PDF-1.4 id card")
            await wos.add_file(s, wo, uploader_kind="applicant", uploader_id=applicant.id, filename="身份证.pdf",
                               content_type="application/pdf", size=16, sha256="0" * 64, storage_key=key,
                               source="upload", created_at=T0)
            await s.commit()
            ids = (applicant.id, wo.id, agent.id)
        async with client_for(app) as admin, client_for(app) as agent_c, client_for(app) as sup:
            for c, name in ((admin, "pv.admin"), (agent_c, "pv.agent"), (sup, "pv.super")):
                r = await c.post("/api/auth/login", json={"username": name, "password": PASSWORD})
                assert r.status_code == 200
            yield World(app, admin, agent_c, sup, *ids)


async def test_only_the_handling_agent_sees_the_full_number(world: World) -> None:
    mine = (await world.agent.get(f"/api/workorders/{world.work_order}")).json()
    assert mine["callback_phone"] == PHONE
    for client in (world.supervisor, world.admin):
        seen = (await client.get(f"/api/workorders/{world.work_order}")).json()
        assert seen["callback_phone"] == "138****5678"
        listed = (await client.get("/api/workorders")).json()
        assert PHONE not in str(listed)


async def test_the_admin_exports_then_erases_one_applicant(world: World, settings: Settings) -> None:
    r = await world.admin.get(f"/api/admin/applicants/{world.applicant_id}/export")
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["applicant"]["phone"] == PHONE and data["work_orders"][0]["chat"][0]["text"].endswith(PHONE)
    assert (await world.supervisor.get(f"/api/admin/applicants/{world.applicant_id}/export")).status_code == 403

    r = await world.admin.post(f"/api/admin/applicants/{world.applicant_id}/erase")
    assert r.json() == {"work_orders": 1, "chat": 1, "files": 1}
    async with world.app.state.helpdesk.sessions() as s:
        applicant = await s.get(Applicant, world.applicant_id)
        wo = await s.get(WorkOrder, world.work_order)
        assert applicant is not None and (applicant.name, applicant.phone) == (None, None)
        assert wo is not None and wo.callback_phone is None and wo.status == WorkOrderStatus.resolved  # kept
        assert (await s.scalars(select(ChatMessage))).all() == []
        f = (await s.scalars(select(FileAttachment))).one()
        assert f.deleted_at is not None and not (settings.upload_dir / f.storage_key).exists()
        kinds = (await s.scalars(select(WorkOrderEvent.kind).where(WorkOrderEvent.work_order_id == wo.id))).all()
        assert kinds[-2:] == ["personal_data_exported", "personal_data_erased"]
        assert (await audit.verify(s)).ok
    r = await world.agent.get(f"/api/files/{f.id}")
    assert (r.status_code, r.json()["error"]) == (404, "file_deleted")
    assert (await world.admin.post("/api/admin/applicants/nobody/erase")).status_code == 404


async def test_the_retention_sweep_removes_what_is_past_its_period(world: World, settings: Settings) -> None:
    sessions = world.app.state.helpdesk.sessions
    async with sessions() as s:
        swept = await sweep(s, settings, T0 + timedelta(days=30))  # nothing is old enough yet
        assert (swept.files, swept.chat, swept.phones) == (0, 0, 0)
        wo = await s.get(WorkOrder, world.work_order)
        assert wo is not None
        waiting = WorkOrder(number="WO-CB-1", applicant_id=world.applicant_id, item_id=wo.item_id, unit_id=wo.unit_id,
                            status=WorkOrderStatus.callback_pending, channel=wo.channel, callback_phone="13900000000",
                            created_at=T0, updated_at=T0)
        s.add(waiting)
        swept = await sweep(s, settings, T0 + timedelta(days=400))
        await s.commit()
        assert (swept.files, swept.chat, swept.phones) == (1, 1, 2)  # the applicant's and the finished call-back's
        await s.refresh(waiting)
        assert waiting.callback_phone == "13900000000"  # still to be called: kept
        again = await sweep(s, settings, T0 + timedelta(days=401))
        assert (again.files, again.chat, again.phones) == (0, 0, 0)  # idempotent


def test_the_cli_erases_only_with_yes(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["applicant", "erase", "someone", "--url", settings.database_url]) == 1
    assert "--yes" in capsys.readouterr().err
