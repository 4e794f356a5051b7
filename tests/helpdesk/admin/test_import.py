"""Bulk import and export: the sample files load into an empty database, re-import changes nothing,
an export re-imports unchanged; a dry run lists every row's problem and writes nothing; malformed
files, a wrong sheet and too many rows get clear errors. Also through the `helpdesk` command."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk.accounts.models import Staff
from helpdesk.admin import exporting, importing, sheets
from helpdesk.admin.models import AdminEvent
from helpdesk.admin.scope import CLI_SCOPE
from helpdesk.org.models import OrgUnit, ServiceItem, ServiceItemUnit
from helpdesk.security import verify_password
from tests.helpdesk.factories import T0
from tests.helpdesk.test_cli import rows as sql_rows
from tests.helpdesk.test_cli import run as run_cli

SAMPLES = Path(__file__).parents[3] / "helpdesk" / "admin" / "samples"


async def load(session: AsyncSession, kind: str, data: bytes | None = None, name: str = "", *,
               dry_run: bool = False) -> importing.Plan:
    data = data if data is not None else (SAMPLES / f"{kind}.csv").read_bytes()
    plan = await importing.run(session, CLI_SCOPE, kind, data, name or f"{kind}.csv", dry_run=dry_run, now=T0,
                               max_rows=50_000)
    await session.commit()
    return plan


async def count(session: AsyncSession, model: Any) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_samples_load_then_reimport_and_export_change_nothing(session: AsyncSession) -> None:
    units = await load(session, "units")
    assert units.applied and len(units.created) == 12 and not units.problems
    items = await load(session, "items")
    assert items.applied and len(items.created) == 35
    staff = await load(session, "staff")
    assert len(staff.created) == 9 and len(staff.passwords) == 9
    assert await count(session, ServiceItemUnit) > 35
    events = await count(session, AdminEvent)
    for kind in ("units", "items", "staff"):
        again = await load(session, kind)
        assert (again.created, again.updated, again.unchanged, again.applied) == ([], [], again.rows, False), kind
        for fmt in ("csv", "xlsx"):
            exported = sheets.write(kind, await exporting.rows(session, CLI_SCOPE, kind), fmt)
            back = await load(session, kind, exported, f"{kind}.{fmt}")
            assert (back.created, back.updated, back.problem_count) == ([], [], 0), (kind, fmt, back.changes[:3])
    assert await count(session, AdminEvent) == events  # nothing changed, nothing recorded
    admin = await session.scalar(select(Staff).where(Staff.username == "supervisor2"))
    assert admin is not None and admin.unit_admin and admin.must_change_password
    new = {p["username"]: p["one_time_password"] for p in staff.passwords}
    agent = await session.scalar(select(Staff).where(Staff.username == "agent1"))
    assert agent is not None and verify_password(agent.password_hash, new["agent1"])


async def test_an_update_changes_only_what_differs_and_is_audited(session: AsyncSession) -> None:
    await load(session, "units")
    await load(session, "items")
    data = ("code,name,video_help,units\nSCJG-001,企业开办一件事,否,130600\n").encode()
    plan = await load(session, "items", data)
    assert plan.updated == ["SCJG-001"] and plan.unchanged == 0
    item = await session.scalar(select(ServiceItem).where(ServiceItem.code == "SCJG-001"))
    assert item is not None and item.name == "企业开办一件事" and not item.video_help
    assert item.name_en == "Company registration"  # a column absent from the file keeps its value
    event = await session.scalar(select(AdminEvent).order_by(AdminEvent.seq.desc()).limit(1))
    assert event is not None and event.kind == "import.items"
    change = event.data["changes"][0]
    assert change["before"]["name"] == "企业设立登记" and change["after"]["video_help"] is False


async def test_dry_run_lists_every_rows_problem_and_writes_nothing(session: AsyncSession) -> None:
    await load(session, "units")
    await load(session, "items")
    before = await count(session, ServiceItem)
    data = "\n".join([
        "code,name,department,units,video_help",
        "NEW-1,新事项,SCJG,130600,是",          # fine
        "NEW-2,,SCJG,130600,是",                # missing name
        "NEW-3,事项三,NOPE,130600,是",           # unknown department
        "NEW-4,事项四,SCJG,999999,是",           # unknown unit
        "NEW-5,事项五,SCJG,130600,也许",         # bad flag
        "NEW-1,重复,SCJG,130600,是",            # duplicate code
    ]).encode()
    plan = await load(session, "items", data, dry_run=True)
    assert not plan.applied
    found = {(p.row, p.column) for p in plan.problems}
    assert found == {(3, "name"), (4, "department"), (5, "units"), (6, "video_help"), (7, "code")}
    assert "row 2" in next(p.problem for p in plan.problems if p.row == 7)
    applied = await load(session, "items", data)  # not even the good row lands
    assert not applied.applied and await count(session, ServiceItem) == before


def xlsx(sheets_rows: dict[str, list[list[Any]]]) -> bytes:
    book = Workbook()
    book.remove(book.active)
    for name, rows in sheets_rows.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


@pytest.mark.parametrize(("data", "name", "message"), [
    (b"\x00\x01garbage", "units.xlsx", "not a readable XLSX"),
    (b"PK\x03\x04broken zip", "units.csv", "not a readable XLSX"),
    (b"", "units.csv", "empty"),
    (b"%PDF-1.4", "units.pdf", "use a .csv or .xlsx"),
    (b"username,unit\nx,130600\n", "units.csv", "missing column(s) code, level, name"),
    (b"code,name,level,colour\n1,a,city,red\n", "units.csv", "unknown column(s) colour"),
    ("code,name,level\n".encode("utf-16"), "units.csv", "neither UTF-8 nor GB18030"),
])
async def test_malformed_files_get_a_clear_error(session: AsyncSession, data: bytes, name: str,
                                                 message: str) -> None:
    with pytest.raises(sheets.ImportFileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        await load(session, "units", data, name)


async def test_wrong_sheet_and_too_many_rows(session: AsyncSession) -> None:
    book = xlsx({"Sheet1": [["code"]], "说明": [["x"]]})
    with pytest.raises(sheets.ImportFileError, match=r"no sheet named 'units'.*Sheet1, 说明"):
        await load(session, "units", book, "units.xlsx")
    big = ("code,name,level\n" + "".join(f"U{i},单位{i},city\n" for i in range(100_000))).encode()
    with pytest.raises(sheets.ImportFileError, match="more than 50000 rows") as exc:
        await load(session, "units", big)
    assert exc.value.code == "too_many_rows"
    assert await count(session, OrgUnit) == 0


async def test_xlsx_with_a_named_sheet_and_chinese_headers(session: AsyncSession) -> None:
    book = xlsx({"说明": [["填写说明"]], "单位": [["编码", "名称", "层级", "上级", "办公时间"],
                                               [130600, "保定市", "市", None, "mon-fri 08:30-17:00; sat 09:00-12:00"],
                                               [130606, "莲池区", "区", 130600, None]]})
    plan = await load(session, "units", book, "org.xlsx")
    assert plan.applied and plan.created == ["130600", "130606"], plan.summary()
    city = await session.scalar(select(OrgUnit).where(OrgUnit.code == "130600"))
    assert city is not None and city.business_hours["sat"] == [["09:00", "12:00"]]


async def test_unit_cycles_and_levels_in_a_file_are_refused(session: AsyncSession) -> None:
    data = "code,name,level,parent\nA,甲,county,B\nB,乙,county,A\nC,丙,city,\nD,丁,city,C\n".encode()
    plan = await load(session, "units", data)
    problems = {(p.key, p.column) for p in plan.problems}
    assert ("A", "parent") in problems and ("D", "level") in problems and not plan.applied


def test_the_helpdesk_command_imports_exports_and_loads_holidays(tmp_path: Path) -> None:
    assert run_cli(tmp_path, "db", "upgrade").returncode == 0
    r = run_cli(tmp_path, "import", "units", str(SAMPLES / "units.csv"), "--dry-run")
    assert r.returncode == 0 and "would create 12" in r.stdout, r.stdout + r.stderr
    assert sql_rows(tmp_path, "select count(*) from org_units") == [(0,)]
    r = run_cli(tmp_path, "import", "units", str(SAMPLES / "units.csv"))
    assert r.returncode == 0 and "created 12" in r.stdout, r.stderr
    bad = tmp_path / "items.csv"
    bad.write_text("code,name,department,units\nX-1,事项,NOPE,130600\n", encoding="utf-8")
    r = run_cli(tmp_path, "import", "items", str(bad))
    assert r.returncode == 1 and "unknown department code 'NOPE'" in r.stderr and "nothing was changed" in r.stderr
    r = run_cli(tmp_path, "import", "items", str(SAMPLES / "items.csv"))
    assert r.returncode == 0 and "created 35" in r.stdout, r.stderr
    r = run_cli(tmp_path, "export", "items", str(tmp_path / "out.xlsx"))
    assert r.returncode == 0 and "35 items" in r.stdout
    r = run_cli(tmp_path, "import", "items", str(tmp_path / "out.xlsx"))
    assert "created 0, updated 0, unchanged 35" in r.stdout, r.stdout + r.stderr
    r = run_cli(tmp_path, "createuser", "zhao", "--role", "agent", "--unit", "130606", "--skills", "SCJG",
                "--password-stdin", stdin="a long enough password\n")
    assert r.returncode == 0, r.stderr
    assert sql_rows(tmp_path, "select kind, actor from admin_events order by seq")[-1] == ("staff.create", "cli")
    r = run_cli(tmp_path, "holidays", "load", "2026")
    assert r.returncode == 0 and "added 39" in r.stdout, r.stdout + r.stderr
    r = run_cli(tmp_path, "audit", "verify")
    assert r.returncode == 0 and "intact" in r.stdout, r.stdout + r.stderr


def test_the_kb_commands_run_through_the_helpdesk_entry_point(tmp_path: Path) -> None:
    assert run_cli(tmp_path, "db", "upgrade").returncode == 0
    folder = tmp_path / "articles"
    r = run_cli(tmp_path, "kb", "export", str(folder))
    assert r.returncode == 0, r.stdout + r.stderr
    r = run_cli(tmp_path, "kb", "reindex")
    assert r.returncode == 0, r.stdout + r.stderr
    r = run_cli(tmp_path, "kb", "import", str(folder))
    assert r.returncode == 0, r.stdout + r.stderr


async def test_a_staff_file_cannot_remove_the_last_admin(session: AsyncSession) -> None:
    await load(session, "units")
    await load(session, "items")
    await load(session, "staff")
    again = await load(session, "staff")  # no admin row changes: fine, every time
    assert again.problem_count == 0
    demote = await load(session, "staff", b"username,unit,role\nadmin,130000,agent\n")
    assert [p.problem for p in demote.problems] == ["the file would leave no active admin"]
    assert not demote.applied
