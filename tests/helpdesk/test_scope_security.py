"""Scope across components: county A's staff and an applicant reach nothing of county B's call (work
order, files, inspection, its report and snapshots, KB sends into it); a county supervisor neither
reassigns nor counts outside their subtree. Each refusal has its positive twin (B's own people)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from helpdesk.accounts.models import Role
from helpdesk.applicants.models import Applicant
from helpdesk.clock import FakeClock
from helpdesk.config import Settings
from helpdesk.workorders import service as wos
from helpdesk.workorders.models import WorkOrderStatus
from tests.helpdesk.factories import (
    PASSWORD,
    api_app,
    client_for,
    make_department,
    make_item,
    make_staff,
    make_unit,
    make_work_order,
)

PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452") + b"\x00" * 64


@dataclass
class County:
    agent: httpx.AsyncClient
    supervisor: httpx.AsyncClient
    applicant: httpx.AsyncClient
    ids: dict[str, Any]


@dataclass
class World:
    app: FastAPI
    a: County
    b: County
    admin: httpx.AsyncClient
    units: dict[str, int]
    item_id: int
    department_id: int


async def login(client: httpx.AsyncClient, username: str) -> None:
    r = await client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text


async def seed_call(app: FastAPI, clock: FakeClock, *, unit_id: int, item_id: int, agent_id: int,
                    applicant_id: str, tag: str) -> dict[str, Any]:
    """An ended call of the county: a work order with a file, an ended inspection with a snapshot
    and its report; and an unresolved order awaiting follow-up."""
    from helpdesk_inspection import checklists
    from helpdesk_inspection.models import (
        EvidenceSnapshot,
        Inspection,
        InspectionOutcome,
        InspectionReport,
        InspectionStatus,
    )
    from helpdesk_inspection.schemas import PointIn

    state = app.state.helpdesk
    now = clock.now()
    async with state.sessions() as s:
        from helpdesk.org.models import OrgUnit, ServiceItem

        unit, item = await s.get(OrgUnit, unit_id), await s.get(ServiceItem, item_id)
        applicant = await s.get(Applicant, applicant_id)
        assert unit and item and applicant
        wo = await make_work_order(s, unit=unit, item=item, applicant=applicant, agent_id=agent_id,
                                   handled_unit_id=unit_id, status=WorkOrderStatus.resolved)
        wo.created_at = wo.queued_at = wo.answered_at = now - timedelta(minutes=30)
        open_wo = await make_work_order(s, unit=unit, item=item, applicant=applicant, agent_id=agent_id,
                                        status=WorkOrderStatus.unresolved)
        key = f"calls/{wo.id}/{tag}"
        (state.settings.upload_dir / "calls" / wo.id).mkdir(parents=True)
        (state.settings.upload_dir / key).write_bytes(PNG)
        f = await wos.add_file(s, wo, uploader_kind="applicant", uploader_id=applicant_id, filename=f"{tag}.png",
                               content_type="image/png", size=len(PNG), sha256="0" * 64, storage_key=key,
                               source="upload", created_at=now)
        checklist = await checklists.save(s, item_id=item_id, title="现场", points=[PointIn(key="p1", title="后厨")],
                                          now=now)
        insp = Inspection(work_order_id=wo.id, item_id=item_id, unit_id=unit_id, agent_id=agent_id,
                          applicant_id=applicant_id, checklist_id=checklist.id, point_keys=["p1"],
                          status=InspectionStatus.ended, outcome=InspectionOutcome.passed, created_at=now,
                          consent_at=now, started_at=now, ended_at=now, duration_s=60.0)
        s.add(insp)
        await s.flush()
        media = state.settings.recordings_dir / tag
        media.mkdir(parents=True)
        for name, data in (("snap.jpg", b"\xff\xd8\xff\xe0fake"), ("r.html", b"<p>report</p>"),
                           ("r.pdf", b"%PDF-1.4 fake")):
            (media / name).write_bytes(data)
        snap = EvidenceSnapshot(inspection_id=insp.id, point_key="p1", taken_at=now, taken_by=agent_id,
                                sha256="0" * 64, width=1, height=1, size=8, storage_key=f"{tag}/snap.jpg")
        s.add(snap)
        s.add(InspectionReport(inspection_id=insp.id, work_order_id=wo.id, html_key=f"{tag}/r.html",
                               pdf_key=f"{tag}/r.pdf", html_sha256="0" * 64, pdf_sha256="0" * 64, created_at=now))
        await s.flush()
        ids = {"wo": wo.id, "open_wo": open_wo.id, "file": f.id, "inspection": insp.id, "snapshot": snap.id}
        await s.commit()
    return ids


@pytest.fixture
async def world(settings: Settings, clock: FakeClock) -> AsyncIterator[World]:
    async with api_app(settings, clock) as app:
        state = app.state.helpdesk
        async with state.sessions() as s:
            city = await make_unit(s, name="保定市")
            a = await make_unit(s, parent=city, name="莲池区")
            b = await make_unit(s, parent=city, name="竞秀区")
            dept = await make_department(s)
            item = await make_item(s, department=dept, units=[a, b], remote_inspection=True)
            staff = {
                "agent_a": await make_staff(s, unit=a, username="agent.a"),
                "agent_b": await make_staff(s, unit=b, username="agent.b"),
                "sup_a": await make_staff(s, unit=a, role=Role.supervisor, username="sup.a"),
                "sup_b": await make_staff(s, unit=b, role=Role.supervisor, username="sup.b"),
                "admin": await make_staff(s, unit=city, role=Role.admin, username="admin.city"),
            }
            units = {"city": city.id, "a": a.id, "b": b.id}
            staff_ids = {k: v.id for k, v in staff.items()}
            item_id, dept_id = item.id, dept.id
            await s.commit()
        async with (client_for(app) as agent_a, client_for(app) as sup_a, client_for(app) as app_a,
                    client_for(app) as agent_b, client_for(app) as sup_b, client_for(app) as app_b,
                    client_for(app) as admin):
            for client, username in ((agent_a, "agent.a"), (sup_a, "sup.a"), (agent_b, "agent.b"),
                                     (sup_b, "sup.b"), (admin, "admin.city")):
                await login(client, username)
            counties = {}
            for name, agent, sup, applicant in (("a", agent_a, sup_a, app_a), ("b", agent_b, sup_b, app_b)):
                r = await applicant.post("/api/help/session", json={"name": f"申请人{name}"})
                applicant_id = r.json()["applicant"]["id"]
                ids = await seed_call(app, clock, unit_id=units[name], item_id=item_id,
                                      agent_id=staff_ids[f"agent_{name}"], applicant_id=applicant_id, tag=name)
                ids |= {"applicant": applicant_id, "agent_id": staff_ids[f"agent_{name}"]}
                counties[name] = County(agent, sup, applicant, ids)
            yield World(app, counties["a"], counties["b"], admin, units, item_id, dept_id)


def readable_urls(ids: dict[str, Any]) -> list[str]:
    insp = ids["inspection"]
    return [f"/api/files/{ids['file']}", f"/api/inspections/{insp}", f"/api/inspections/{insp}/report.pdf",
            f"/api/inspections/{insp}/report.html", f"/api/inspections/{insp}/snapshots/{ids['snapshot']}"]


async def statuses(client: httpx.AsyncClient, urls: list[str]) -> dict[str, int]:
    return {url: (await client.get(url)).status_code for url in urls}


async def test_an_agent_reads_nothing_of_another_countys_call(world: World) -> None:
    b = world.b.ids
    urls = [f"/api/workorders/{b['wo']}", *readable_urls(b)]
    assert set((await statuses(world.a.agent, urls)).values()) == {404}
    assert set((await statuses(world.b.agent, urls)).values()) == {200}  # the twin: B's own agent
    listed = (await world.a.agent.get("/api/inspections", params={"work_order": b["wo"]})).json()
    assert listed == {"inspections": []}
    assert b["wo"] not in {w["id"] for w in (await world.a.agent.get("/api/workorders")).json()}


async def test_a_county_supervisor_reads_nothing_of_another_county(world: World) -> None:
    b = world.b.ids
    urls = [f"/api/workorders/{b['wo']}", *readable_urls(b)]
    assert set((await statuses(world.a.supervisor, urls)).values()) == {404}
    assert set((await statuses(world.b.supervisor, urls)).values()) == {200}
    assert set((await statuses(world.admin, urls)).values()) == {200}
    # Nor acts on B's inspections: starting one on B's order, stepping, marking, ending, cancelling.
    insp = f"/api/inspections/{b['inspection']}"
    for url, body in ((f"{insp}/step", {"index": 0}), (f"{insp}/points/p1/mark", {"result": "pass"}),
                      (f"{insp}/end", {"outcome": "pass"}), (f"{insp}/cancel", {}),
                      ("/api/inspections", {"work_order": b["wo"]})):
        r = await world.a.supervisor.post(url, json=body)
        assert r.status_code == 404, (url, r.status_code, r.text)


async def test_an_applicant_reads_nothing_of_another_applicant(world: World) -> None:
    b = world.b.ids
    assert set((await statuses(world.a.applicant, readable_urls(b))).values()) == {404}
    assert set((await statuses(world.b.applicant, readable_urls(b))).values()) == {200}
    for action, body in (("rating", {"rating": 5}), ("leave", {})):
        r = await world.a.applicant.post(f"/api/help/requests/{b['wo']}/{action}", json=body)
        assert r.status_code == 404, (action, r.text)
    listed = (await world.a.applicant.get("/api/inspections", params={"work_order": b["wo"]})).json()
    assert listed == {"inspections": []}
    # Staff routes stay closed to applicants whatever the id.
    assert (await world.b.applicant.get(f"/api/workorders/{b['wo']}")).status_code == 401


async def test_files_and_snapshots_are_served_as_inert_downloads(world: World) -> None:
    b = world.b.ids
    for url in readable_urls(b):
        r = await world.b.agent.get(url)
        if url.endswith(("report.pdf", "report.html")) or "/snapshots/" in url or url.startswith("/api/files/"):
            assert r.headers["x-content-type-options"] == "nosniff", url
            assert "sandbox" in r.headers["content-security-policy"], url
            assert r.headers["content-disposition"].startswith(("inline", "attachment")), url
    report = await world.b.agent.get(f"/api/inspections/{b['inspection']}/report.html")
    assert report.headers["content-disposition"].startswith("attachment")
    assert "default-src 'none'" in report.headers["content-security-policy"]


async def test_kb_sends_only_into_ones_own_call(world: World) -> None:
    """Publishing needs a supervisor; sending needs to be the agent in that very call."""
    sup = world.b.supervisor
    r = await sup.post("/api/kb/articles", json={"title": "办事指南", "body": "材料清单", "item_ids": [world.item_id],
                                                 "department_ids": [world.department_id], "tags": []})
    assert r.status_code == 201, r.text
    article = r.json()["id"]
    for action in ("submit", "publish"):
        assert (await sup.post(f"/api/kb/articles/{article}/{action}", json={})).status_code == 200
    b = world.b.ids
    journey = world.app.state.helpdesk.components["journey"]
    await journey.hub.open_room(b["wo"], (f"a:{b['applicant']}", f"s:{b['agent_id']}"), {"work_order": b["wo"]})
    for outsider in (world.a.agent, world.a.supervisor, world.b.supervisor):
        r = await outsider.post(f"/api/kb/calls/{b['wo']}/send", json={"article_id": article})
        assert (r.status_code, r.json()["error"]) == (403, "not_in_room")
    r = await world.b.agent.post(f"/api/kb/calls/{b['wo']}/send", json={"article_id": article})
    assert r.status_code == 200, r.text
    events = (await world.b.agent.get(f"/api/workorders/{b['wo']}")).json()["events"]
    assert "kb_article_sent" in [e["kind"] for e in events]
    assert (await world.a.agent.get(f"/api/workorders/{b['wo']}")).status_code == 404  # nor read of it


async def test_a_county_supervisor_reassigns_only_within_the_subtree(world: World) -> None:
    a, b = world.a.ids, world.b.ids
    r = await world.a.supervisor.post(f"/api/workorders/{b['open_wo']}/reassign",
                                      json={"staff_id": a["agent_id"], "reason": "接手"})
    assert r.status_code == 404  # B's order: as if it did not exist
    r = await world.a.supervisor.post(f"/api/workorders/{a['open_wo']}/reassign",
                                      json={"staff_id": b["agent_id"], "reason": "接手"})
    assert r.status_code == 404  # to B's agent
    r = await world.a.supervisor.post(f"/api/workorders/{a['open_wo']}/reassign",
                                      json={"unit_id": world.units["b"], "reason": "接手"})
    assert r.status_code == 404  # to B's unit
    r = await world.a.supervisor.post(f"/api/workorders/{a['open_wo']}/reassign",
                                      json={"staff_id": a["agent_id"], "reason": "接手"})
    assert r.status_code == 200, r.text


async def test_a_county_supervisor_counts_only_the_subtree(world: World) -> None:
    units = world.units

    async def unit_keys(client: httpx.AsyncClient) -> set[Any]:
        r = await client.get("/api/stats/figures", params={"group": "unit"})
        assert r.status_code == 200, r.text
        return {row["key"] for row in r.json()["rows"] if row["offered"] or row["answered"]}

    async def inspection_units(client: httpx.AsyncClient) -> set[int]:
        r = await client.get("/api/inspections/figures")
        assert r.status_code == 200, r.text
        return {row["unit_id"] for row in r.json()["rows"]}

    assert units["b"] not in await unit_keys(world.a.supervisor)
    assert units["b"] in await unit_keys(world.b.supervisor)
    assert await inspection_units(world.a.supervisor) == {units["a"]}
    assert await inspection_units(world.b.supervisor) == {units["b"]}
    assert await inspection_units(world.admin) == {units["a"], units["b"]}
    unresolved = {w["id"] for w in (await world.a.supervisor.get("/api/stats/unresolved")).json()}
    assert world.a.ids["open_wo"] in unresolved and world.b.ids["open_wo"] not in unresolved
    for csv in ("/api/stats/workorders.csv", "/api/followups/report.csv"):
        text = (await world.a.supervisor.get(csv)).text
        assert world.b.ids["wo"] not in text


async def test_a_county_supervisor_reads_the_policies_bearing_on_the_subtree_only(world: World) -> None:
    r = await world.b.supervisor.put("/api/followups/policies", json={"unit_id": world.units["b"], "t2_s": 600})
    assert r.status_code == 200, r.text
    assert (await world.admin.put("/api/followups/policies", json={"t2_s": 900})).status_code == 200
    r = await world.admin.put("/api/followups/policies", json={"unit_id": world.units["city"], "t2_s": 800})
    assert r.status_code == 200

    async def units(client: httpx.AsyncClient) -> list[int | None]:
        return [p["unit_id"] for p in (await client.get("/api/followups/policies")).json()["policies"]]

    assert await units(world.a.supervisor) == [None, world.units["city"]]  # global and the parent's apply
    assert await units(world.b.supervisor) == [world.units["b"], None, world.units["city"]]
    assert await units(world.admin) == [world.units["b"], None, world.units["city"]]
