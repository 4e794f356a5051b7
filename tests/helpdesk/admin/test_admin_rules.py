"""The rules behind the admin pages: cycles, disabling, the last admin, one-time passwords, hours,
holidays, and the audit chain that records every change (and `helpdesk audit verify` that checks it)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select, update

from helpdesk.accountability.cli import run_verify
from helpdesk.admin.models import AdminEvent
from helpdesk.clock import FakeClock
from helpdesk.config import Settings
from helpdesk.org.calendar import load_calendar
from helpdesk.org.models import Holiday
from tests.helpdesk.admin.world import world
from tests.helpdesk.factories import PASSWORD, client_for, make_applicant, make_work_order


async def test_moving_a_unit_under_its_own_child_is_refused(settings: Settings, clock: FakeClock) -> None:
    async with world(settings, clock, ("admin",)) as w:
        c = w.clients["admin"]
        r = await c.post(f"/api/admin/units/{w.ids['a']}/move", json={"parent_id": w.ids["a_town"]})
        assert r.status_code == 409 and r.json()["error"] == "cycle", r.text
        # a real move re-roots the whole subtree's paths
        r = await c.post(f"/api/admin/units/{w.ids['a']}/move", json={"parent_id": w.ids["b_town"]})
        assert r.status_code == 400 and r.json()["error"] == "bad_level", r.text  # a county under a township
        r = await c.post("/api/admin/units", json={"code": "130699", "name": "新区", "level": "county",
                                                   "parent_id": w.ids["city"]})
        new = r.json()
        r = await c.post(f"/api/admin/units/{w.ids['a_town']}/move", json={"parent_id": new["id"]})
        assert r.status_code == 200, r.text
        assert r.json()["path"] == f"{new['path']}{w.ids['a_town']}/"


async def test_disabling_refuses_units_with_staff_or_waiting_applicants(settings: Settings,
                                                                         clock: FakeClock) -> None:
    async with world(settings, clock, ("admin",)) as w:
        c = w.clients["admin"]
        r = await c.post(f"/api/admin/units/{w.ids['a_town']}/disable")
        assert r.status_code == 409 and r.json()["error"] == "unit_has_staff", r.text
        async with w.app.state.helpdesk.sessions() as s:
            from helpdesk.org.models import OrgUnit

            town = await s.get(OrgUnit, w.ids["b_town"])
            await make_work_order(s, unit=town, applicant=await make_applicant(s))
            await s.commit()
        r = await c.post(f"/api/admin/units/{w.ids['b_town']}/disable")
        assert r.status_code == 409 and r.json()["error"] == "unit_has_waiting", r.text
        r = await c.post(f"/api/admin/units/{w.ids['b']}/disable")
        assert r.status_code == 409, r.text


async def test_the_last_admin_cannot_be_removed(settings: Settings, clock: FakeClock) -> None:
    async with world(settings, clock, ("admin",)) as w:
        c = w.clients["admin"]
        me = w.ids["staff_admin"]
        for change in ({"role": "agent"}, {"is_active": False}):
            r = await c.patch(f"/api/admin/staff/{me}", json=change)
            assert r.status_code == 409 and r.json()["error"] == "last_admin", r.text


async def test_new_staff_must_change_the_one_time_password(settings: Settings, clock: FakeClock) -> None:
    async with world(settings, clock, ("admin",)) as w:
        r = await w.clients["admin"].post("/api/admin/staff", json={
            "username": "zhang.min", "display_name": "张敏", "unit": "130606", "skills": ["SCJG", "B-001"],
            "capacity": 2})
        assert r.status_code == 201, r.text
        assert r.json()["skills"] == ["SCJG", "B-001"]
        once = r.json()["one_time_password"]
        async with client_for(w.app) as person:
            r = await person.post("/api/auth/login", json={"username": "zhang.min", "password": once})
            assert r.status_code == 200 and r.json()["staff"]["must_change_password"] is True
            r = await person.get("/api/workorders")
            assert r.status_code == 403 and r.json()["error"] == "password_change_required"
            r = await person.post("/api/auth/password", json={"current_password": once, "new_password": PASSWORD})
            assert r.status_code == 204, r.text
            assert (await person.get("/api/workorders")).status_code == 200
        staff_id = (await w.clients["admin"].get("/api/admin/staff", params={"q": "zhang"})).json()["staff"][0]["id"]
        r = await w.clients["admin"].post(f"/api/admin/staff/{staff_id}/reset-password")
        async with client_for(w.app) as person:
            bad = await person.post("/api/auth/login", json={"username": "zhang.min", "password": PASSWORD})
            assert bad.status_code == 401
            ok = await person.post("/api/auth/login", json={"username": "zhang.min",
                                                             "password": r.json()["one_time_password"]})
            assert ok.json()["staff"]["must_change_password"] is True


async def test_business_hours_are_checked(settings: Settings, clock: FakeClock) -> None:
    async with world(settings, clock, ("admin",)) as w:
        c = w.clients["admin"]
        path = f"/api/admin/units/{w.ids['a']}"
        for hours, why in (({"mon": [["09:00", "12:00"], ["11:00", "17:00"]]}, "overlaps"),
                           ({"mon": [["18:00", "09:00"]]}, "ends before"),
                           ({"monday": [["09:00", "12:00"]]}, "unknown weekday"),
                           ({"mon": [["9", "12"]]}, "HH:MM")):
            r = await c.patch(path, json={"business_hours": hours})
            assert r.status_code == 400 and why in r.json()["detail"], r.text
        hours = {"sat": [["09:00", "12:00"], ["14:00", "17:00"]], "mon": [["08:30", "17:30"]]}
        r = await c.patch(path, json={"business_hours": hours})
        assert r.status_code == 200 and r.json()["business_hours"]["sat"] == hours["sat"]
        async with w.app.state.helpdesk.sessions() as s:  # the clocks read it at once
            cal = await load_calendar(s, w.ids["a"])
            assert cal.is_open(datetime(2026, 12, 5, 2, 0, tzinfo=UTC))  # Saturday 10:00 Beijing
            assert not cal.is_open(datetime(2026, 12, 5, 5, 0, tzinfo=UTC))  # 13:00: the lunch break


async def test_holidays_load_from_the_package_and_local_closures_override(settings: Settings,
                                                                           clock: FakeClock) -> None:
    async with world(settings, clock, ("admin", "admin_a")) as w:
        c = w.clients["admin"]
        r = await c.post("/api/admin/holidays/2026/load")
        assert r.status_code == 200 and r.json()["provisional"] is False, r.text
        assert r.json()["added"] == 39  # 33 days off and 6 make-up working days (调休)
        again = await c.post("/api/admin/holidays/2026/load")
        assert again.json()["added"] == again.json()["changed"] == again.json()["removed"] == 0
        r = await c.post("/api/admin/holidays/2027/load")
        assert r.status_code == 200 and r.json()["days"] > 0, r.text  # present, provisional until the notice
        days = {d["day"]: d for d in (await c.get("/api/admin/holidays/2026")).json()}
        assert days["2026-02-14"]["is_workday"] and not days["2026-10-01"]["is_workday"]
        r = await w.clients["admin_a"].put("/api/admin/closures", json={
            "unit_id": w.ids["a"], "day": "2026-12-08", "name": "停电检修"})
        assert r.status_code == 200, r.text
        async with w.app.state.helpdesk.sessions() as s:
            assert date(2026, 12, 8) in (await load_calendar(s, w.ids["a_town"])).closed_days  # the subtree
            assert date(2026, 12, 8) not in (await load_calendar(s, w.ids["b"])).closed_days
            assert date(2026, 10, 1) in (await load_calendar(s, w.ids["b"])).closed_days


async def test_every_change_and_login_is_in_the_audit_chain(settings: Settings, clock: FakeClock) -> None:
    async with world(settings, clock, ("admin",)) as w:
        c = w.clients["admin"]
        await c.patch(f"/api/admin/units/{w.ids['a']}", json={"name": "莲池区（新）"})
        await c.patch(f"/api/admin/staff/{w.ids['staff_agent_a']}", json={"role": "supervisor"})
        token = (await c.post("/api/admin/api-tokens", json={"name": "审批系统", "scopes": ["workorders:read"]})).json()
        await c.delete(f"/api/admin/api-tokens/{token['id']}")
        async with client_for(w.app) as stranger:
            await stranger.post("/api/auth/login", json={"username": "w.admin", "password": "wrong password"})
        async with w.app.state.helpdesk.sessions() as s:
            events = (await s.scalars(select(AdminEvent).order_by(AdminEvent.seq))).all()
            kinds = [e.kind for e in events]
            assert kinds == ["login", "unit.update", "staff.role", "token.create", "token.revoke", "login.failed"]
            update_event = events[1]
            assert update_event.data["before"] == {"name": "莲池区"}
            assert update_event.data["after"] == {"name": "莲池区（新）"}
            assert update_event.actor.startswith(f"staff:{w.ids['staff_admin']}:")
        result = await run_verify(settings.database_url, None)
        assert result.ok and result.entries >= 6
        async with w.app.state.helpdesk.sessions() as s:  # tamper: rewrite history
            await s.execute(update(AdminEvent).where(AdminEvent.seq == 2)
                            .values(data={"target": "unit:130606", "before": None, "after": {"name": "x"}}))
            await s.commit()
        result = await run_verify(settings.database_url, None)
        assert not result.ok and result.first is not None and result.first.seq == 2


async def test_a_deleted_tail_of_the_admin_chain_is_caught(settings: Settings, clock: FakeClock) -> None:
    async with world(settings, clock, ("admin",)) as w:
        async with w.app.state.helpdesk.sessions() as s:
            last = await s.scalar(select(AdminEvent).order_by(AdminEvent.seq.desc()).limit(1))
            assert last is not None
            await s.delete(last)
            await s.commit()
        result = await run_verify(settings.database_url, None)
        assert not result.ok and "deleted" in str(result.first)


async def test_holiday_rows_of_a_unit_are_separate_from_bureau_days(settings: Settings, clock: FakeClock) -> None:
    async with world(settings, clock, ("admin",)) as w:
        c = w.clients["admin"]
        await c.put("/api/admin/closures", json={"unit_id": None, "day": "2026-12-09", "name": "全局"})
        await c.put("/api/admin/closures", json={"unit_id": w.ids["b"], "day": "2026-12-09", "name": "定兴开门",
                                                  "is_workday": True})
        async with w.app.state.helpdesk.sessions() as s:
            rows = (await s.scalars(select(Holiday).where(Holiday.day == date(2026, 12, 9)))).all()
            assert len(rows) == 2
            assert date(2026, 12, 9) in (await load_calendar(s, w.ids["a"])).closed_days
            assert date(2026, 12, 9) not in (await load_calendar(s, w.ids["b"])).closed_days


async def test_a_disabled_unit_takes_no_applicants_and_no_transfers(settings: Settings, clock: FakeClock) -> None:
    async with world(settings, clock, ("admin", "agent_a")) as w:
        c = w.clients["admin"]
        assert (await c.post(f"/api/admin/units/{w.ids['b_town']}/disable")).status_code == 200
        tree = (await w.clients["agent_a"].get("/api/org/units")).json()

        def codes_of(nodes: list[dict[str, object]]) -> set[str]:
            out: set[str] = set()
            for n in nodes:
                out.add(str(n["code"]))
                out |= codes_of(n["children"])  # type: ignore[arg-type]
            return out

        assert "130626100" not in codes_of(tree) and "130626" in codes_of(tree)
        async with client_for(w.app) as applicant:  # the help page of that unit says it does not exist
            r = await applicant.get("/api/help/items/B-001", params={"unit": "130626100"})
            assert r.status_code == 404 and r.json()["error"] == "unknown_unit", r.text
            assert (await applicant.get("/api/help/items/B-001", params={"unit": "130626"})).status_code == 200
