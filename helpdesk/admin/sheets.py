"""Reading and writing the import/export files: CSV (UTF-8, or GB18030 as Excel in China saves it)
and XLSX (openpyxl, read-only streaming). Columns per kind, Chinese header aliases, flags, hours.

Every problem with the file itself (not one of its rows) is an ImportFileError naming the reason:
an unknown format, a broken XLSX, a missing sheet or column, too many rows."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from helpdesk.errors import BadRequest

KINDS = ("units", "items", "staff")
SHEET_ALIASES = {"units": {"units", "单位", "组织机构"}, "items": {"items", "事项", "服务事项"},
                 "staff": {"staff", "人员", "工作人员"}}

# The columns of each kind, in file order; the first is the key (idempotency by code/username).
COLUMNS: dict[str, tuple[str, ...]] = {
    "units": ("code", "name", "name_en", "level", "parent", "hours", "fallback_after_s", "disabled"),
    "items": ("code", "name", "name_en", "department", "department_name", "department_name_en", "units",
              "video_help", "remote_inspection", "outdated", "time_limit_days", "checklist", "guide",
              "description"),
    "staff": ("username", "display_name", "role", "unit", "skills", "capacity", "kb_editor", "unit_admin",
              "active"),
}
REQUIRED = {"units": {"code", "name", "level"}, "items": {"code"},
            "staff": {"username", "unit"}}
HEADER_ALIASES = {
    "编码": "code", "代码": "code", "事项编码": "code", "单位编码": "code", "区划代码": "code",
    "名称": "name", "事项名称": "name", "单位名称": "name", "英文名称": "name_en", "层级": "level",
    "上级": "parent", "上级编码": "parent", "办公时间": "hours", "转上级秒数": "fallback_after_s",
    "停用": "disabled", "部门": "department", "部门编码": "department", "部门名称": "department_name",
    "部门英文名称": "department_name_en", "办理单位": "units", "视频帮办": "video_help",
    "远程勘验": "remote_inspection", "已过时": "outdated", "承诺时限": "time_limit_days",
    "勘验清单": "checklist", "办事指南": "guide", "说明": "description", "用户名": "username",
    "姓名": "display_name", "角色": "role", "单位": "unit", "技能": "skills", "并发数": "capacity",
    "知识库编辑": "kb_editor", "单位管理员": "unit_admin", "在岗": "active",
}
TRUE = {"1", "true", "yes", "y", "是", "开", "on", "√"}
FALSE = {"0", "false", "no", "n", "否", "关", "off", ""}
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
LIST_SPLIT = re.compile(r"[\s,;，；、]+")


class ImportFileError(BadRequest):
    code = "bad_import_file"


@dataclass
class Sheet:
    kind: str
    columns: list[str]  # the columns present, normalised
    rows: list[tuple[int, dict[str, str]]]  # (row number in the file, values by column)


def parse_flag(value: str) -> bool:
    v = value.strip().lower()
    if v in TRUE:
        return True
    if v in FALSE:
        return False
    raise ValueError(f"{value!r} is not a yes/no value (是/否, yes/no, 1/0)")


def split_list(value: str) -> list[str]:
    return [x for x in LIST_SPLIT.split(value.strip()) if x]


def _day_range(spec: str) -> list[str]:
    out: list[str] = []
    for part in spec.split(","):
        a, _, b = part.strip().lower().partition("-")
        if a not in DAYS or (b and b not in DAYS):
            raise ValueError(f"{part.strip()!r} is not a weekday (mon..sun)")
        out += list(DAYS[DAYS.index(a):DAYS.index(b) + 1]) if b else [a]
    return out


def parse_hours(text: str) -> dict[str, list[list[str]]] | None:
    """"mon-fri 09:00-12:00 13:30-17:30; sat 09:00-12:00" → weekday → periods (other days closed).
    Empty: None (the default hours)."""
    if not text.strip():
        return None
    hours: dict[str, list[list[str]]] = {d: [] for d in DAYS}
    for segment in text.split(";"):
        if not segment.strip():
            continue
        days, *periods = segment.split()
        for day in _day_range(days):
            for period in periods:
                start, sep, end = period.partition("-")
                if not sep:
                    raise ValueError(f"{period!r} is not a period like 09:00-12:00")
                hours[day].append([start, end])
    return hours


def format_hours(hours: Mapping[str, Sequence[Sequence[str]]] | None) -> str:
    """The inverse of parse_hours, joining consecutive days with the same periods."""
    if not hours:
        return ""
    groups: list[tuple[list[str], str]] = []
    for day in DAYS:
        periods = " ".join(f"{a}-{b}" for a, b in hours.get(day) or [])
        if not periods:
            continue
        if groups and groups[-1][1] == periods and DAYS.index(groups[-1][0][-1]) == DAYS.index(day) - 1:
            groups[-1][0].append(day)
        else:
            groups.append(([day], periods))
    return "; ".join((f"{d[0]}-{d[-1]}" if len(d) > 1 else d[0]) + " " + p for d, p in groups)


def _normalise_header(name: Any) -> str:
    text = str(name or "").strip().lstrip("\ufeff")
    return HEADER_ALIASES.get(text, text.lower().replace(" ", "_"))


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # 130600.0 from a numeric XLSX cell is the code 130600
    return str(value).strip()


def _csv_rows(data: bytes) -> Iterator[list[str]]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ImportFileError("the CSV file is neither UTF-8 nor GB18030 text")
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    yield from csv.reader(io.StringIO(text, newline=""), dialect)


def _xlsx_rows(data: bytes, kind: str) -> Iterator[list[str]]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError) as exc:
        raise ImportFileError(f"not a readable XLSX file ({type(exc).__name__})") from exc
    try:
        names = book.sheetnames
        wanted = [n for n in names if n.strip().lower() in SHEET_ALIASES[kind]]
        if not wanted and len(names) > 1:
            raise ImportFileError(f"no sheet named {kind!r} (or {'/'.join(sorted(SHEET_ALIASES[kind] - {kind}))}); "
                                  f"the file has: {', '.join(names)}")
        sheet = book[wanted[0] if wanted else names[0]]
        for row in sheet.iter_rows(values_only=True):
            yield [_cell(v) for v in row]
    finally:
        book.close()


def read(data: bytes, filename: str, kind: str, max_rows: int) -> Sheet:
    """The file's rows as dicts, checked for format, sheet, columns and size (nothing else)."""
    if kind not in KINDS:
        raise ImportFileError(f"unknown import kind {kind!r}: {', '.join(KINDS)}")
    if not data:
        raise ImportFileError("the file is empty")
    name = filename.lower()
    if name.endswith(".xlsx") or data[:2] == b"PK":
        rows = _xlsx_rows(data, kind)
    elif name.endswith((".csv", ".txt")):
        rows = _csv_rows(data)
    else:
        raise ImportFileError(f"{filename}: use a .csv or .xlsx file")
    header: list[str] | None = None
    out: list[tuple[int, dict[str, str]]] = []
    for number, raw in enumerate(rows, start=1):
        if header is None:
            if not any(str(c).strip() for c in raw):
                continue  # blank lines above the header
            header = [_normalise_header(c) for c in raw]
            _check_header(kind, header)
            continue
        if not any(c.strip() for c in raw):
            continue
        if len(out) >= max_rows:
            raise ImportFileError(f"the file has more than {max_rows} rows: split it into smaller files",
                                  code="too_many_rows")
        out.append((number, {h: (raw[i].strip() if i < len(raw) else "") for i, h in enumerate(header) if h}))
    if header is None:
        raise ImportFileError("the file has no header row")
    return Sheet(kind, [h for h in header if h], out)


def _check_header(kind: str, header: list[str]) -> None:
    present = {h for h in header if h}
    missing = REQUIRED[kind] - present
    if missing:
        raise ImportFileError(f"missing column(s) {', '.join(sorted(missing))} for {kind} "
                              f"(columns: {', '.join(COLUMNS[kind])}; is this the right file or sheet?)",
                              code="missing_columns")
    unknown = sorted(present - set(COLUMNS[kind]))
    if unknown:
        raise ImportFileError(f"unknown column(s) {', '.join(unknown)} for {kind} "
                              f"(known: {', '.join(COLUMNS[kind])})", code="unknown_columns")
    dupes = sorted({h for h in header if h and header.count(h) > 1})
    if dupes:
        raise ImportFileError(f"column {dupes[0]!r} appears twice", code="duplicate_columns")


def write(kind: str, rows: Sequence[Mapping[str, Any]], fmt: str) -> bytes:
    """The export file: the same columns the import reads, so an export re-imports unchanged."""
    columns = COLUMNS[kind]
    if fmt == "csv":
        buf = io.StringIO(newline="")
        writer = csv.writer(buf)
        writer.writerow(columns)
        for row in rows:
            writer.writerow(["" if row.get(c) is None else row.get(c) for c in columns])
        return ("\ufeff" + buf.getvalue()).encode()  # the BOM makes Excel read UTF-8
    if fmt == "xlsx":
        from openpyxl import Workbook

        book = Workbook(write_only=True)
        sheet = book.create_sheet(kind)
        sheet.append(list(columns))
        for row in rows:
            sheet.append(["" if row.get(c) is None else row.get(c) for c in columns])
        buf_b = io.BytesIO()
        book.save(buf_b)
        return buf_b.getvalue()
    raise BadRequest(f"export format {fmt!r}: csv or xlsx", code="bad_format")
