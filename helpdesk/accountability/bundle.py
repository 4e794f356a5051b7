"""Evidence bundles: one work order's audit chain, its evidence files (call files, inspection snapshots,
recordings, reports), their hashes and the latest signed checkpoint, in one folder that
`helpdesk audit verify --bundle` checks offline (no database, no server).

A changed byte in any file breaks its SHA-256; a manifest edited to match breaks the chain, which
records every evidence hash when it is captured; a chain rewritten to match no longer holds the
head that the checkpoint signed."""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk.accountability.audit import ENTRY_COLUMNS, GENESIS, entry_hash
from helpdesk.accountability.checkpoint import as_document, check_document
from helpdesk.accountability.models import AuditCheckpoint
from helpdesk.config import Settings
from helpdesk.errors import NotFound
from helpdesk.workorders.models import FileAttachment, WorkOrder, WorkOrderEvent

MANIFEST = "bundle.json"


@dataclass
class Evidence:
    kind: str
    source: Path
    name: str
    sha256: str | None  # as recorded when captured (None: not recorded)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


async def evidence_of(session: AsyncSession, settings: Settings, wo: WorkOrder) -> list[Evidence]:
    from helpdesk_inspection.models import EvidenceSnapshot, Inspection, InspectionReport

    out = [Evidence("call_file", settings.upload_dir / f.storage_key, f"files/{f.id}-{f.filename}", f.sha256)
           for f in (await session.scalars(select(FileAttachment).where(
               FileAttachment.work_order_id == wo.id, FileAttachment.deleted_at.is_(None)))).all()]
    media = settings.recordings_dir
    for insp in (await session.scalars(select(Inspection).where(Inspection.work_order_id == wo.id))).all():
        if insp.media_deleted_at is not None:
            continue
        for snap in (await session.scalars(select(EvidenceSnapshot).where(
                EvidenceSnapshot.inspection_id == insp.id, EvidenceSnapshot.deleted_at.is_(None)))).all():
            out.append(Evidence("snapshot", media / snap.storage_key, f"snapshots/{snap.id}.jpg", snap.sha256))
        for n, seg in enumerate(insp.recordings or []):
            if seg.get("key"):
                out.append(Evidence("recording", media / seg["key"], f"recordings/{insp.id}-{n}-"
                                    f"{Path(seg['key']).name}", seg.get("sha256")))
        rep = await session.scalar(select(InspectionReport).where(InspectionReport.inspection_id == insp.id))
        if rep is not None:
            out += [Evidence("report", media / rep.html_key, f"reports/{insp.id}.html", rep.html_sha256),
                    Evidence("report", media / rep.pdf_key, f"reports/{insp.id}.pdf", rep.pdf_sha256)]
    return out


def event_row(e: Any) -> dict[str, Any]:
    return {"work_order_id": e.work_order_id, "seq": e.seq, "at": e.at.isoformat(), "kind": e.kind,
            "actor": e.actor, "data": e.data, "ip": e.ip, "origin": e.origin, "prev_hash": e.prev_hash,
            "hash": e.hash}


async def export_bundle(session: AsyncSession, settings: Settings, ref: str, out: Path) -> dict[str, Any]:
    """Writes the bundle folder for the work order (its id or number); returns the manifest."""
    wo = await session.scalar(select(WorkOrder).where(or_(WorkOrder.id == ref, WorkOrder.number == ref)))
    if wo is None:
        raise NotFound(f"work order {ref} not found")
    events = (await session.execute(select(*ENTRY_COLUMNS).where(WorkOrderEvent.work_order_id == wo.id)
                                    .order_by(WorkOrderEvent.seq))).all()
    checkpoints = (await session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.day.desc()))).all()
    checkpoint = next((as_document(cp) for cp in checkpoints if wo.id in cp.heads), None)
    manifest = {"format": "helpdesk-evidence-bundle/1", "work_order": {"id": wo.id, "number": wo.number},
                "events": [event_row(e) for e in events], "files": [], "checkpoint": checkpoint}
    await asyncio.to_thread(write_bundle, out, manifest, await evidence_of(session, settings, wo))
    return manifest


def write_bundle(out: Path, manifest: dict[str, Any], evidence: list[Evidence]) -> None:
    """Copies the files that still exist (retention may have removed some) and writes the manifest."""
    for ev in evidence:
        if not ev.source.is_file():
            continue
        target = out / "evidence" / ev.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ev.source, target)
        manifest["files"].append({"path": f"evidence/{ev.name}", "kind": ev.kind, "sha256": sha256_file(target),
                                  "recorded_sha256": ev.sha256})
    out.mkdir(parents=True, exist_ok=True)
    (out / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")


@dataclass
class BundleReport:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_bundle(folder: Path, pinned_public_key: str | None = None) -> BundleReport:
    """Offline: the chain, every file against its hash and the chain, the checkpoint's signature."""
    report = BundleReport()
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    prev, sealed = GENESIS, set()
    for n, row in enumerate(manifest["events"], start=1):
        event = type("Entry", (), {**row, "at": datetime.fromisoformat(row["at"])})
        if row["seq"] != n or row["prev_hash"] != prev or entry_hash(event) != row["hash"]:
            report.problems.append(f"audit chain broken at seq {row['seq']} ({row['kind']})")
            break
        prev = row["hash"]
        if isinstance(row["data"], dict) and row["data"].get("sha256"):
            sealed.add(row["data"]["sha256"])
    for f in manifest["files"]:
        path = folder / f["path"]
        if not path.is_file():
            report.problems.append(f"{f['path']}: missing")
            continue
        actual = sha256_file(path)
        if actual != f["sha256"] or (f["recorded_sha256"] and actual != f["recorded_sha256"]):
            report.problems.append(f"{f['path']}: content changed (SHA-256 {actual[:16]}… does not match)")
        elif actual not in sealed:
            report.notes.append(f"{f['path']}: its hash is not in the audit chain (captured before sealing)")
    cp = manifest.get("checkpoint")
    if cp is None:
        report.notes.append("no signed checkpoint covers this work order yet")
    else:
        report.problems += check_document(cp, pinned_public_key)
        seq, head = cp["heads"][manifest["work_order"]["id"]]
        events = manifest["events"]
        if len(events) < seq or events[seq - 1]["hash"] != head:
            report.problems.append(f"the chain does not hold the head signed on {cp['day']} (rewritten or cut)")
    return report
