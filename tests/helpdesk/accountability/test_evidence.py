"""Evidence integrity: snapshot, recording and file hashes join the work order's chain when captured;
a signed checkpoint of every chain head catches a chain rewritten from scratch; an exported bundle
verifies offline and fails on one changed byte in any of its evidence files."""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from helpdesk.accountability import audit
from helpdesk.accountability.bundle import verify_bundle
from helpdesk.accountability.checkpoint import as_document, check_document, make_checkpoint, public_hex, signing_key
from helpdesk.cli import main
from helpdesk.clock import FakeClock
from helpdesk.config import Settings
from helpdesk.workorders import service as wos
from helpdesk.workorders.models import WorkOrderEvent, WorkOrderStatus
from tests.helpdesk.factories import T0, api_app, make_item, make_staff, make_unit, make_work_order

JPEG = b"\xff\xd8\xff\xe0" + b"snapshot pixels" * 50
RECORDING = b"\x00\x00\x00\x18ftypmp42" + b"video" * 200


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def build(settings: Settings) -> str:
    """A work order with a call file, an inspection snapshot and a recording, sealed as the app does."""
    from helpdesk_inspection import checklists
    from helpdesk_inspection.models import EvidenceSnapshot, Inspection, InspectionStatus
    from helpdesk_inspection.schemas import PointIn

    async with api_app(settings, FakeClock(T0)) as app:
        state = app.state.helpdesk
        service = state.components["inspection"].service
        async with state.sessions() as s:
            unit = await make_unit(s)
            item = await make_item(s, units=[unit])
            agent = await make_staff(s, unit=unit)
            wo = await make_work_order(s, unit=unit, item=item, agent_id=agent.id, status=WorkOrderStatus.in_call)
            await wos.record_event(s, wo, "answered", f"s:{agent.id}", T0)
            (settings.upload_dir / "calls").mkdir(parents=True)
            (settings.upload_dir / "calls" / "form").write_bytes(b"%PDF-1.4 filled form")
            await wos.add_file(s, wo, uploader_kind="applicant", uploader_id="a", filename="表.pdf",
                               content_type="application/pdf", size=20, sha256=sha(b"%PDF-1.4 filled form"),
                               storage_key="calls/form", source="upload", created_at=T0)
            points = [PointIn(key="p1", title="后厨")]
            checklist = await checklists.save(s, item_id=item.id, title="现场", points=points, now=T0)
            media = settings.recordings_dir / "i1"
            media.mkdir(parents=True)
            (media / "snap.jpg").write_bytes(JPEG)
            (media / "rec.mp4").write_bytes(RECORDING)
            insp = Inspection(work_order_id=wo.id, item_id=item.id, unit_id=unit.id, agent_id=agent.id,
                              applicant_id=wo.applicant_id, checklist_id=checklist.id, point_keys=["p1"],
                              status=InspectionStatus.ended, created_at=T0, started_at=T0, ended_at=T0,
                              recordings=[{"key": "i1/rec.mp4", "sha256": sha(RECORDING), "bytes": len(RECORDING)}])
            s.add(insp)
            await s.flush()
            snap = EvidenceSnapshot(inspection_id=insp.id, point_key="p1", taken_at=T0, taken_by=agent.id,
                                    sha256=sha(JPEG), width=1, height=1, size=len(JPEG), storage_key="i1/snap.jpg")
            s.add(snap)
            await s.flush()
            # The component's hook, as service.snapshot() and service._close() call it.
            await service.evidence(s, insp, "evidence_snapshot", {"snapshot_id": snap.id, "sha256": snap.sha256})
            await service.evidence(s, insp, "evidence_recording", {"sha256": sha(RECORDING), "file": "i1/rec.mp4"})
            await make_checkpoint(s, settings, T0)
            await s.commit()
            return wo.id


@pytest.fixture
def sealed(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> tuple[Settings, str]:
    for name, value in (("DATABASE_URL", settings.database_url), ("UPLOAD_DIR", settings.upload_dir),
                        ("RECORDINGS_DIR", settings.recordings_dir), ("KB_INDEX_DIR", settings.kb_index_dir)):
        monkeypatch.setenv(f"HELPDESK_{name}", str(value))
    return settings, asyncio.run(build(settings))


async def events(settings: Settings, wo_id: str) -> list[Any]:
    from helpdesk.db import make_engine, make_session_factory

    engine = make_engine(settings.database_url)
    async with make_session_factory(engine)() as s:
        rows = (await s.scalars(select(WorkOrderEvent).where(WorkOrderEvent.work_order_id == wo_id)
                                .order_by(WorkOrderEvent.seq))).all()
    await engine.dispose()
    return list(rows)


def test_evidence_hashes_join_the_chain(sealed: tuple[Settings, str]) -> None:
    settings, wo_id = sealed
    rows = asyncio.run(events(settings, wo_id))
    by_kind = {e.kind: e.data for e in rows}
    assert by_kind["evidence_snapshot"]["sha256"] == sha(JPEG)
    assert by_kind["evidence_recording"]["sha256"] == sha(RECORDING)
    assert by_kind["file_shared"]["sha256"] == sha(b"%PDF-1.4 filled form")


def test_a_bundle_verifies_offline_and_any_changed_byte_is_caught(sealed: tuple[Settings, str], tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    _, wo_id = sealed
    bundle = tmp_path / "bundle"
    assert main(["audit", "export", wo_id, "--out", str(bundle)]) == 0
    manifest = json.loads((bundle / "bundle.json").read_text())
    assert {f["kind"] for f in manifest["files"]} == {"call_file", "snapshot", "recording"}
    assert manifest["checkpoint"]["heads"][wo_id]
    assert main(["audit", "verify", "--bundle", str(bundle)]) == 0
    assert verify_bundle(bundle).notes == []  # every file's hash is in the chain

    for f in manifest["files"]:  # one changed byte in any evidence file
        copy = tmp_path / f"changed-{f['kind']}"
        shutil.copytree(bundle, copy)
        path = copy / f["path"]
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0x01
        path.write_bytes(bytes(data))
        report = verify_bundle(copy)
        assert not report.ok and f["path"] in report.problems[0], report.problems
        assert main(["audit", "verify", "--bundle", str(copy)]) == 1

    forged = tmp_path / "forged"  # the file changed and the manifest edited to match: the chain says no
    shutil.copytree(bundle, forged)
    snap = next(f for f in manifest["files"] if f["kind"] == "snapshot")
    (forged / snap["path"]).write_bytes(b"another picture")
    forged_manifest = json.loads((forged / "bundle.json").read_text())
    for f in forged_manifest["files"]:
        if f["kind"] == "snapshot":
            f["sha256"] = f["recorded_sha256"] = sha(b"another picture")
    (forged / "bundle.json").write_text(json.dumps(forged_manifest))
    assert any("not in the audit chain" in n for n in verify_bundle(forged).notes)
    assert not verify_bundle(forged, pinned_public_key="00" * 32).ok  # a pinned key that did not sign it


def test_a_chain_rewritten_from_scratch_is_caught_by_the_checkpoint(sealed: tuple[Settings, str],
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    settings, wo_id = sealed
    assert main(["audit", "verify"]) == 0

    async def rewrite() -> None:
        """Change the snapshot's recorded hash and recompute every hash after it: the chain verifies."""
        from helpdesk.db import make_engine, make_session_factory

        engine = make_engine(settings.database_url)
        async with make_session_factory(engine)() as s:
            prev = audit.GENESIS
            for e in (await s.scalars(select(WorkOrderEvent).where(WorkOrderEvent.work_order_id == wo_id)
                                      .order_by(WorkOrderEvent.seq))).all():
                if e.kind == "evidence_snapshot":
                    e.data = {**e.data, "sha256": "f" * 64}
                e.prev_hash = prev
                e.hash = prev = audit.entry_hash(e)
            await s.commit()
            assert (await audit.verify(s)).ok
        await engine.dispose()

    asyncio.run(rewrite())
    assert main(["audit", "verify"]) == 1
    assert "no longer holds its signed head" in capsys.readouterr().err


def test_checkpoints_are_signed_and_keys_can_be_pinned(settings: Settings) -> None:
    key = signing_key(settings)
    assert public_hex(key) == public_hex(signing_key(settings))  # stable across processes
    assert public_hex(key) != public_hex(signing_key(settings.model_copy(update={"secret_key": "x" * 40})))

    async def one() -> dict[str, Any]:
        async with api_app(settings, FakeClock(T0)) as app, app.state.helpdesk.sessions() as s:
            wo = await make_work_order(s, unit=await make_unit(s))
            await wos.record_event(s, wo, "created", "system", T0)
            return as_document(await make_checkpoint(s, settings, T0))

    doc = asyncio.run(one())
    assert check_document(doc) == [] and check_document(doc, public_hex(key)) == []
    assert check_document({**doc, "digest": "0" * 64})  # heads changed after signing
    assert check_document(doc, "11" * 32) == ["checkpoint was signed with another key than the pinned one"]
