"""Every admin route × role × unit: a county's unit admin reaches only their own subtree (another
county's units, items, staff, closures and tokens are 404 or 403, and absent from every list); a
supervisor without the admin mark and an agent are refused (403); the bureau admin reaches all."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from helpdesk.clock import FakeClock
from helpdesk.config import Settings
from helpdesk.org.models import Holiday
from tests.helpdesk.admin.world import codes, world
from tests.helpdesk.test_route_security import ADMIN, ROUTES

DENIED = {403, 404}


def cases(ids: dict[str, int]) -> list[tuple[str, str, dict[str, Any] | None, bool]]:
    """(method, path, body, admin-only): each aims at county B's objects."""
    b, b_town = ids["b"], ids["b_town"]
    return [
        ("POST", "/api/admin/units", {"code": "130626101", "name": "新镇", "level": "township", "parent_id": b}, False),
        ("PATCH", f"/api/admin/units/{b_town}", {"name": "定兴镇（新）", "fallback_after_s": 90}, False),
        ("POST", f"/api/admin/units/{b_town}/move", {"parent_id": b}, False),
        ("POST", f"/api/admin/units/{b_town}/disable", None, False),
        ("POST", f"/api/admin/units/{b_town}/enable", None, False),
        ("PUT", "/api/admin/departments", {"code": "NEW", "name": "新部门"}, True),
        ("PUT", "/api/admin/items", {"code": "B-001", "name": "定兴事项（改）"}, False),
        ("POST", "/api/admin/staff", {"username": "new.b", "unit": "130626"}, False),
        ("PATCH", f"/api/admin/staff/{ids['staff_agent_b']}", {"capacity": 2}, False),
        ("POST", f"/api/admin/staff/{ids['staff_agent_b']}/reset-password", None, False),
        ("POST", "/api/admin/holidays/2026/load", None, True),
        ("PUT", "/api/admin/closures", {"unit_id": b, "day": "2026-12-10", "name": "停电"}, False),
        ("DELETE", f"/api/admin/closures/{ids['closure_b']}", None, False),
        ("POST", "/api/admin/api-tokens", {"name": "B 系统", "scopes": ["workorders:read"], "unit_id": b}, False),
        ("DELETE", f"/api/admin/api-tokens/{ids['token_b']}", None, False),
    ]


# Bulk routes answer row problems rather than 404: test_import_and_export_stay_in_scope covers them.
BULK = [("POST", "/api/admin/imports/items"), ("GET", "/api/admin/imports/progress/job-12345678"),
        ("GET", "/api/admin/exports/units.csv")]
LISTS = ["/api/admin/me", "/api/admin/units", "/api/admin/departments", "/api/admin/items", "/api/admin/staff",
         "/api/admin/holidays/2026", "/api/admin/api-tokens", "/api/admin/webhooks", "/api/admin/webhook-deliveries",
         "/api/admin/messages", "/api/admin/message-templates", "/api/admin/packages"]
# The bureau's own routes (role admin, never a unit admin): here only "agents and unit admins are
# refused"; what the admin gets is tested beside each (test_privacy.py, tests/helpdesk/integration/).
BUREAU_ONLY = [("GET", "/api/admin/applicants/a1/export"), ("POST", "/api/admin/applicants/a1/erase"),
               ("POST", "/api/admin/webhooks"), ("DELETE", "/api/admin/webhooks/1"),
               ("POST", "/api/admin/webhook-deliveries/d1/replay"), ("PUT", "/api/admin/message-templates/k/en"),
               ("PUT", "/api/admin/packages/P1")]


def test_every_admin_route_has_a_scope_case() -> None:
    ids = dict.fromkeys(("b", "b_town", "staff_agent_b", "closure_b", "token_b"), 1)
    tried = [(m, p) for m, p, _, _ in cases(ids)] + [("GET", p) for p in LISTS] + BULK + BUREAU_ONLY
    templates = [(m, p) for (m, p), v in ROUTES.items() if v == ADMIN and p.startswith("/api/admin/")]
    for method, template in templates:
        pattern = re.compile("^" + re.sub(r"\\{\w+\\}", "[^/]+", re.escape(template)) + "$")
        assert any(m == method and pattern.match(p) for m, p in tried), f"no scope case for {method} {template}"


async def test_scope_of_every_admin_route(settings: Settings, clock: FakeClock) -> None:
    async with world(settings, clock) as w:
        async with w.app.state.helpdesk.sessions() as s:
            closure = Holiday(unit_id=w.ids["b"], day=date(2026, 12, 1), name="消杀")
            s.add(closure)
            await s.commit()
            w.ids["closure_b"] = closure.id
        c = w.clients
        for method, path, body, admin_only in cases(w.ids):
            kw = {"json": body} if body is not None else {}
            for who in ("agent_a", "super_a"):
                r = await c[who].request(method, path, **kw)
                assert r.status_code == 403, f"{who} {method} {path} → {r.status_code} {r.text}"
            r = await c["admin_a"].request(method, path, **kw)
            assert r.status_code in DENIED, f"county A's admin {method} {path} → {r.status_code} {r.text}"
            allowed = "admin" if admin_only else "admin_b"
            if admin_only:
                r = await c["admin_b"].request(method, path, **kw)
                assert r.status_code in DENIED, f"county B's admin {method} {path} → {r.status_code}"
            r = await c[allowed].request(method, path, **kw)
            assert r.status_code < 300, f"{allowed} {method} {path} → {r.status_code} {r.text}"
        for path in LISTS + [p for m, p in BULK if m == "GET"]:
            for who in ("agent_a", "super_a"):
                assert (await c[who].get(path)).status_code == 403, f"{who} GET {path}"
        for who in ("agent_a", "super_a"):
            r = await c[who].post("/api/admin/imports/items", files={"file": ("i.csv", b"code\n")})
            assert r.status_code == 403, r.text
        for method, path in BUREAU_ONLY:
            for who in ("agent_a", "super_a", "admin_a"):
                r = await c[who].request(method, path, json={})
                assert r.status_code == 403, f"{who} {method} {path} → {r.status_code}"


async def test_import_and_export_stay_in_scope(settings: Settings, clock: FakeClock) -> None:
    async with world(settings, clock) as w:
        c = w.clients
        text = (await c["admin_a"].get("/api/admin/exports/units.csv")).text
        assert [line.split(",")[0] for line in text.lstrip("\ufeff").splitlines()] == ["code", "130606", "130606201"]
        items = (await c["admin_a"].get("/api/admin/exports/items.csv")).text
        assert "A-001" in items and "B-001" not in items
        people = (await c["admin_a"].get("/api/admin/exports/staff.csv")).text
        assert "w.agent_a" in people and "w.agent_b" not in people
        for kind, body in (("items", "code,name,department,units\nB-001,改名,SCJG,130626\nN-1,新,SCJG,130626\n"),
                           ("units", "code,name,level,parent\n130626100,改名,township,130626\n"),
                           ("staff", "username,unit\nw.agent_b,130606\nnew.b,130626\n")):
            r = await c["admin_a"].post(f"/api/admin/imports/{kind}", params={"dry_run": "false"},
                                        files={"file": (f"{kind}.csv", body.encode())})
            assert r.status_code == 200 and not r.json()["applied"], r.text
            rows_with_problems = {p["row"] for p in r.json()["problems"]}
            assert rows_with_problems == set(range(2, body.count("\n") + 1)), r.json()["problems"]
        r = await c["admin_b"].post("/api/admin/imports/items", params={"dry_run": "false", "job": "job-12345678"},
                                    files={"file": ("i.csv", "code,name,units\nB-001,改名,130626\n".encode())})
        assert r.json()["applied"] and r.json()["updated"] == 1, r.text
        r = await c["admin_b"].get("/api/admin/imports/progress/job-12345678")
        assert r.json()["finished"] and r.json()["done"] == r.json()["total"] == 1, r.text


async def test_lists_hold_only_the_callers_subtree(settings: Settings, clock: FakeClock) -> None:
    async with world(settings, clock) as w:
        c = w.clients
        units = (await c["admin_a"].get("/api/admin/units")).json()
        assert codes(units) == {"130606", "130606201"}
        assert codes((await c["admin"].get("/api/admin/units")).json()) >= {"130600", "130606", "130626"}
        items = (await c["admin_a"].get("/api/admin/items")).json()
        assert codes(items["items"]) == {"A-001", "C-001"} and items["total"] == 2
        staff = (await c["admin_a"].get("/api/admin/staff")).json()["staff"]
        assert codes(staff, "username") == {"w.admin_a", "w.super_a", "w.agent_a", "w.agent_ta"}
        tokens = (await c["admin_a"].get("/api/admin/api-tokens")).json()
        assert [t["id"] for t in tokens] == [w.ids["token_a"]]
        assert len((await c["admin"].get("/api/admin/api-tokens")).json()) == 2
        # the city's item is visible to a county admin, but not theirs to change
        r = await c["admin_a"].put("/api/admin/items", json={"code": "C-001", "name": "改"})
        assert r.status_code == 404, r.text
        # and they cannot grant admin rights, nor touch an admin
        r = await c["admin_a"].post("/api/admin/staff", json={"username": "x", "unit": "130606", "role": "admin"})
        assert r.status_code == 403, r.text
        r = await c["admin_a"].patch(f"/api/admin/staff/{w.ids['staff_super_a']}", json={"unit_admin": True})
        assert r.status_code == 403, r.text
