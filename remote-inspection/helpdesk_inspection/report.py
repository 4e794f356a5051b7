"""The inspection report (HTML and PDF): points, marks, snapshots with server times and hashes.

PDF: fpdf2 (pure Python, maintained) with Noto Sans CJK SC from Debian's fonts-noto-cjk, subset
into the file so any reader shows the Chinese text.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from jinja2 import Environment, select_autoescape
from sqlalchemy import column, select, table
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_inspection import checklists, overlay
from helpdesk_inspection.messages import points_of
from helpdesk_inspection.models import EvidenceSnapshot, Inspection, InspectionReport, PointMark

CJK_FONTS = [
    (Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"), 2),  # index 2: Simplified Chinese
    (Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"), 0),
]
BEIJING = timezone(timedelta(hours=8))
RESULT_ZH = {"pass": "合格", "fail": "不合格", "rectify": "需整改", None: "未检查"}
OUTCOME_ZH = {"pass": "通过", "rectify": "限期整改", "fail": "不通过", None: "未完成"}
work_orders = table("work_orders", column("id"), column("number"))


@dataclass
class ReportData:
    title: str
    item_name: str
    work_order_number: str
    insp: Inspection
    rows: list[dict[str, Any]]


def bj(value: datetime | None) -> str:
    return value.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S") if value else "—"


async def collect(session: AsyncSession, insp: Inspection, root: Path) -> ReportData:
    checklist = await checklists.get(session, insp.checklist_id)
    item = await checklists.item_row(session, insp.item_id)
    number = (
        await session.execute(select(work_orders.c.number).where(work_orders.c.id == insp.work_order_id))
    ).scalar_one_or_none()
    marks = {
        m.point_key: m
        for m in (await session.execute(select(PointMark).where(PointMark.inspection_id == insp.id))).scalars()
    }
    shots = list(
        (
            await session.execute(
                select(EvidenceSnapshot)
                .where(EvidenceSnapshot.inspection_id == insp.id)
                .order_by(EvidenceSnapshot.taken_at)
            )
        ).scalars()
    )
    rows = []
    for n, point in enumerate(points_of(insp, checklist), 1):
        mark = marks.get(point["key"])
        evidence = []
        for shot in (s for s in shots if s.point_key == point["key"]):
            path = root / shot.storage_key
            data = path.read_bytes() if shot.deleted_at is None and path.exists() else None
            evidence.append(
                {
                    "taken_at": bj(shot.taken_at),
                    "sha256": shot.sha256,
                    "jpeg": data,
                    "size": f"{shot.width}×{shot.height}",
                    "marks": shot.annotations or [],
                    "width": shot.width,
                    "height": shot.height,
                }
            )
        rows.append(
            {
                "n": n,
                "point": point,
                "result": RESULT_ZH[mark.result.value if mark else None],
                "note": mark.note if mark else "",
                "marked_at": bj(mark.marked_at if mark else None),
                "evidence": evidence,
            }
        )
    return ReportData(checklist.title, item.name, number or insp.work_order_id, insp, rows)


TEMPLATE = Path(__file__).parent / "templates" / "report.html"

_env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
_template = _env.from_string(TEMPLATE.read_text(encoding="utf-8"))


def render_html(d: ReportData) -> bytes:
    outcome = OUTCOME_ZH[d.insp.outcome.value if d.insp.outcome else None]
    return _template.render(d=d, i=d.insp, bj=bj, outcome=outcome, b64=lambda b: base64.b64encode(b).decode(),
                            mark_paths=lambda e: overlay.paths(e["marks"], e["width"], e["height"])).encode()


def render_pdf(d: ReportData) -> bytes:
    """Renders the same content with fpdf2; CPU-bound, so callers run it in a thread."""
    from fpdf import FPDF

    font_path, index = next(((p, i) for p, i in CJK_FONTS if p.exists()), (None, 0))
    if font_path is None:
        raise RuntimeError("no CJK font found: install fonts-noto-cjk")
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_font("cjk", fname=str(font_path), collection_font_number=index)
    pdf.add_page()
    pdf.set_font("cjk", size=16)
    pdf.cell(0, 10, "现场勘验报告（视频帮办）", align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=10)
    i = d.insp
    lines = [
        f"事项：{d.item_name}    工单：{d.work_order_number}    检查表：{d.title}",
        f"开始：{bj(i.started_at)}    结束：{bj(i.ended_at)}    结论："
        f"{OUTCOME_ZH[i.outcome.value if i.outcome else None]}",
    ]
    if i.rectify_points:
        lines.append(f"整改项：{'、'.join(i.rectify_points)}；整改期限：{bj(i.rectify_deadline)}")
    if i.outcome_note:
        lines.append(f"说明：{i.outcome_note}")
    if i.location:
        lines.append(f"位置：{i.location.get('lat')}, {i.location.get('lon')}")
    for line in lines:
        pdf.multi_cell(0, 6, line, align="L", new_x="LMARGIN", new_y="NEXT")
    for r in d.rows:
        pdf.ln(3)
        pdf.set_font("cjk", size=12)
        pdf.multi_cell(
            0, 7, f"{r['n']}. {r['point']['title']}  —  {r['result']}", align="L", new_x="LMARGIN", new_y="NEXT"
        )
        pdf.set_font("cjk", size=9)
        for label, text in (
            ("合格标准", r["point"]["compliance"]),
            ("说明", r["note"]),
            ("标记时间", r["marked_at"]),
        ):
            if text:
                pdf.multi_cell(0, 5, f"{label}：{text}", align="L", new_x="LMARGIN", new_y="NEXT")
        for e in r["evidence"]:
            if e["jpeg"]:
                if pdf.get_y() > 200:
                    pdf.add_page()
                pdf.image(_jpeg_stream(e["jpeg"]), w=80)
                if e["marks"]:  # the same still again with the marks drawn over it; the first is untouched
                    if pdf.get_y() > 200:
                        pdf.add_page()
                    x, y, h = pdf.get_x(), pdf.get_y(), 80 * e["height"] / max(1, e["width"])
                    pdf.image(_jpeg_stream(e["jpeg"]), w=80)
                    overlay.draw_pdf(pdf, e["marks"], x, y, 80, h)
                    pdf.multi_cell(0, 5, f"（带标注，{len(e['marks'])} 处标注；原图未改动）", align="L",
                                   new_x="LMARGIN", new_y="NEXT")
            pdf.multi_cell(
                0,
                5,
                f"截图 {e['taken_at']} {e['size']} SHA-256 {e['sha256']}",
                align="L",
                new_x="LMARGIN",
                new_y="NEXT",
            )
    pdf.ln(3)
    for rec in i.recordings:
        pdf.multi_cell(
            0,
            5,
            f"录像 {rec['key']}：{rec.get('duration_s') or '?'} 秒，{rec.get('frames') or '?'} 帧，"
            f"SHA-256 {rec['sha256']}",
            align="L",
            new_x="LMARGIN",
            new_y="NEXT",
        )
    return bytes(pdf.output())


def _jpeg_stream(data: bytes) -> io.BytesIO:
    return io.BytesIO(data)


async def generate(session: AsyncSession, insp: Inspection, root: Path, now: datetime) -> InspectionReport:
    """Writes report.html and report.pdf beside the evidence and records them on the work order."""
    data = await collect(session, insp, root)
    html = render_html(data)
    pdf = await asyncio.to_thread(render_pdf, data)
    folder = root / insp.id
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.html").write_bytes(html)
    (folder / "report.pdf").write_bytes(pdf)
    row = await session.scalar(select(InspectionReport).where(InspectionReport.inspection_id == insp.id))
    if row is None:
        row = InspectionReport(inspection_id=insp.id, work_order_id=insp.work_order_id)
        session.add(row)
    row.html_key, row.pdf_key = f"{insp.id}/report.html", f"{insp.id}/report.pdf"
    row.html_sha256, row.pdf_sha256 = hashlib.sha256(html).hexdigest(), hashlib.sha256(pdf).hexdigest()
    row.created_at = now
    await session.flush()
    return row
