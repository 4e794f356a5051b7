"""The report renders to HTML and PDF with points, marks, snapshots, times and hashes."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from datetime import timedelta

from av.video.frame import VideoFrame
from helpdesk_inspection import report
from helpdesk_inspection.models import EvidenceSnapshot, InspectionOutcome, MarkResult
from helpdesk_inspection.recorder import encode_jpeg
from helpdesk_inspection.service import InspectionService
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from helpdesk.clock import FakeClock
from tests.conftest import require_service

from .conftest import World


async def test_report_html_and_pdf(
    service: InspectionService, world: World, db_sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    agent = world.agent
    async with db_sessions() as s:
        insp = await service.start(s, staff=agent, work_order_id=world.work_order, room="r1")
        await service.consent(
            s,
            applicant_id=world.applicant_id,
            inspection_id=insp.id,
            accept=True,
            location={"lat": 38.87, "lon": 115.46, "accuracy_m": 15.0},
        )
        frame = VideoFrame(640, 480, "yuv420p")
        jpeg = encode_jpeg(frame)
        path = service.live.root / insp.id / "snapshot-test.jpg"
        path.parent.mkdir(parents=True)
        path.write_bytes(jpeg)
        s.add(
            EvidenceSnapshot(
                inspection_id=insp.id,
                point_key="K2",
                taken_at=clock.now(),
                taken_by=agent.id,
                sha256=hashlib.sha256(jpeg).hexdigest(),
                width=640,
                height=480,
                size=len(jpeg),
                storage_key=f"{insp.id}/snapshot-test.jpg",
                annotations=[{"kind": "circle", "points": [[0.5, 0.5], [0.6, 0.5]], "pinned": True, "by": "agent"},
                             {"kind": "free", "points": [[0.1, 0.1], [0.2, 0.15], [0.3, 0.1]], "by": "applicant"}],
            )
        )
        for key, result in (("K1", MarkResult.passed), ("K2", MarkResult.rectify), ("K3", MarkResult.passed)):
            await service.mark(
                s,
                staff=agent,
                inspection_id=insp.id,
                point_key=key,
                result=result,
                note="冰箱温度8℃" if key == "K2" else "",
            )
        await service.end(
            s,
            staff=agent,
            inspection_id=insp.id,
            outcome=InspectionOutcome.rectify,
            rectify_deadline=clock.now() + timedelta(days=10),
        )
        row = await report.generate(s, insp, service.live.root, clock.now())
        await s.commit()

    html = (service.live.root / row.html_key).read_bytes()
    pdf = (service.live.root / row.pdf_key).read_bytes()
    assert hashlib.sha256(html).hexdigest() == row.html_sha256 and row.work_order_id == world.work_order
    text = html.decode()
    for needle in (
        "冷藏设施",
        "需整改",
        "限期整改",
        "冰箱温度8℃",
        hashlib.sha256(jpeg).hexdigest(),
        "data:image/jpeg;base64,",
        "WO-1",
        "2026-11-30 09:00:00",
        "带标注（2 处，原图未改动）",
        'viewBox="0 0 640 480"',
        "stroke=\"rgb(0,103,192)\"",
    ):
        assert needle in text
    assert text.count("data:image/jpeg;base64,") == 2  # the untouched still, and the same still with marks
    assert pdf.startswith(b"%PDF") and hashlib.sha256(pdf).hexdigest() == row.pdf_sha256
    assert b"NotoSansCJK" in pdf and b"/ToUnicode" in pdf  # the CJK font is embedded, text extractable
    require_service("pdftotext (poppler-utils)", shutil.which("pdftotext") is not None)
    out = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True, timeout=30)
    extracted = out.stdout.decode()
    assert "冷藏设施" in extracted and "限期整改" in extracted and "带标注" in extracted
    assert hashlib.sha256(jpeg).hexdigest() in extracted.replace("\n", "").replace(" ", "")
