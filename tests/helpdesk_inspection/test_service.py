"""The inspection flow: consent, steps, marks, snapshots, rectify and follow-up, and its clear errors."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import timedelta
from typing import Any

import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from helpdesk_inspection.errors import InspectionError
from helpdesk_inspection.models import EvidenceSnapshot, InspectionOutcome, InspectionStatus, MarkResult
from helpdesk_inspection.service import InspectionService
from helpdesk_inspection.synthetic import PatternTrack
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from helpdesk.clock import FakeClock

from .conftest import World, make_work_order

Sent = list[tuple[str, dict[str, Any]]]


async def connect_camera(
    service: InspectionService, s: AsyncSession, world: World, insp_id: str, sent: Sent
) -> RTCPeerConnection:
    pc = RTCPeerConnection()
    pc.addTrack(PatternTrack())
    await pc.setLocalDescription(await pc.createOffer())
    offer = {"type": pc.localDescription.type, "sdp": pc.localDescription.sdp}
    await service.signal(s, applicant_id=world.applicant_id, payload={"inspection": insp_id, "description": offer})
    answer = next(m for who, m in reversed(sent) if m["type"] == "inspection.signal" and m.get("description"))
    assert all(who.startswith("a:") for who, m in sent if m["type"] == "inspection.signal")
    await pc.setRemoteDescription(RTCSessionDescription(**answer["description"]))
    peer = service.live.peer(insp_id)
    assert peer is not None
    await asyncio.wait_for(peer.connected.wait(), 15)
    await peer.recorder.wait_first_frame(10)
    return pc


def types(sent: Sent, member: str) -> list[str]:
    return [m["type"] for who, m in sent if who == member]


async def test_full_flow_with_rectify_and_follow_up(
    service: InspectionService,
    world: World,
    db_sessions: async_sessionmaker[AsyncSession],
    sent: Sent,
    clock: FakeClock,
) -> None:
    agent = world.agent
    async with db_sessions() as s:
        insp = await service.start(s, staff=agent, work_order_id=world.work_order, room="r1")
        assert insp.status == InspectionStatus.awaiting_consent and insp.point_keys == ["K1", "K2", "K3"]
        with pytest.raises(InspectionError) as err:  # nothing before consent
            await service.mark(s, staff=agent, inspection_id=insp.id, point_key="K1", result=MarkResult.passed)
        assert err.value.code == "wrong_state"
        await service.consent(
            s,
            applicant_id=world.applicant_id,
            inspection_id=insp.id,
            accept=True,
            location={"lat": 38.87, "lon": 115.46, "accuracy_m": 20},
        )
        await s.commit()
        await service.deliver(s)
        started = next(m for who, m in sent if who == f"a:{world.applicant_id}" and m["type"] == "inspection.started")
        assert started["camera"] == "environment" and started["point"]["guidance"] == "请拍摄操作间全景"
        pc = await connect_camera(service, s, world, insp.id, sent)
        try:
            shots = []
            for index, key in enumerate(["K1", "K2", "K3"]):
                await service.step(s, staff=agent, inspection_id=insp.id, index=index)
                marks = [{"kind": "arrow", "points": [[0.2, 0.3], [0.5, 0.5]], "pinned": True, "by": "agent"}]
                shots.append(await service.snapshot(s, staff=agent, inspection_id=insp.id, point_key=key,
                                                    marks=marks if key == "K2" else None))
            # "Snapshot with marks": the marks sit beside the image; the stored bytes match the hash.
            assert shots[1].annotations == marks and shots[0].annotations is None
            stored = (service.live.root / shots[1].storage_key).read_bytes()
            assert hashlib.sha256(stored).hexdigest() == shots[1].sha256
            with pytest.raises(InspectionError) as err:
                await service.snapshot(s, staff=agent, inspection_id=insp.id, point_key="K9")
            assert (err.value.code, err.value.status_code) == ("unknown_point", 404)
            await service.mark(s, staff=agent, inspection_id=insp.id, point_key="K1", result=MarkResult.passed)
            await service.mark(
                s,
                staff=agent,
                inspection_id=insp.id,
                point_key="K2",
                result=MarkResult.rectify,
                note="冰箱温度8℃，需调至5℃以下",
            )
            await service.mark(s, staff=agent, inspection_id=insp.id, point_key="K3", result=MarkResult.passed)
            with pytest.raises(InspectionError) as err:
                await service.end(s, staff=agent, inspection_id=insp.id, outcome=InspectionOutcome.passed)
            assert err.value.code == "points_open"
            with pytest.raises(InspectionError):
                await service.end(s, staff=agent, inspection_id=insp.id, outcome=InspectionOutcome.rectify)
            deadline = clock.now() + timedelta(days=7)
            ended = await service.end(
                s,
                staff=agent,
                inspection_id=insp.id,
                outcome=InspectionOutcome.rectify,
                rectify_deadline=deadline,
                note="整改后复查",
            )
            await s.commit()
            await service.deliver(s)
        finally:
            await pc.close()
        assert ended.rectify_points == ["K2"] and ended.location and ended.location["lat"] == 38.87
        assert len(ended.recordings) == 1 and ended.recordings[0]["frames"] > 0
        rec = service.live.root / ended.recordings[0]["key"]
        assert hashlib.sha256(rec.read_bytes()).hexdigest() == ended.recordings[0]["sha256"]
        for shot in shots:
            data = (service.live.root / shot.storage_key).read_bytes()
            assert data[:2] == b"\xff\xd8" and hashlib.sha256(data).hexdigest() == shot.sha256
        assert "inspection.snapshot" in types(sent, f"s:{agent.id}")

        # The follow-up, in a later call, checks only the point to fix.
        wo2 = await make_work_order(s, world, world.food_item, "WO-2")
        await s.commit()
        await service.deliver(s)
        follow = await service.start(s, staff=agent, work_order_id=wo2, room="r2", follow_up_of=insp.id)
        assert follow.point_keys == ["K2"] and follow.checklist_id == insp.checklist_id
        await service.consent(s, applicant_id=world.applicant_id, inspection_id=follow.id, accept=True)
        with pytest.raises(InspectionError):
            await service.mark(s, staff=agent, inspection_id=follow.id, point_key="K1", result=MarkResult.passed)
        await service.mark(s, staff=agent, inspection_id=follow.id, point_key="K2", result=MarkResult.passed)
        done = await service.end(s, staff=agent, inspection_id=follow.id, outcome=InspectionOutcome.passed)
        await s.commit()
        await service.deliver(s)
        assert done.outcome == InspectionOutcome.passed and done.recordings == []


async def test_consent_refused_records_nothing(
    service: InspectionService, world: World, db_sessions: async_sessionmaker[AsyncSession], sent: Sent
) -> None:
    async with db_sessions() as s:
        insp = await service.start(s, staff=world.agent, work_order_id=world.work_order, room="r1")
        assert sent == []  # nothing is sent before the caller commits
        await s.commit()
        await service.deliver(s)
        assert types(sent, f"a:{world.applicant_id}") == ["inspection.requested"]
        await service.consent(s, applicant_id=world.applicant_id, inspection_id=insp.id, accept=False)
        await s.commit()
        await service.deliver(s)
        assert insp.status == InspectionStatus.refused and insp.started_at is None
        with pytest.raises(InspectionError) as err:
            await service.signal(
                s,
                applicant_id=world.applicant_id,
                payload={"inspection": insp.id, "description": {"type": "offer", "sdp": "v=0"}},
            )
        assert err.value.code == "wrong_state"
        assert service.live.peer(insp.id) is None
        assert not service.settings.recordings_dir.exists() or not any(service.settings.recordings_dir.iterdir())
        assert (await s.execute(select(EvidenceSnapshot))).first() is None
        # After a refusal another inspection may be asked for in the same call.
        again = await service.start(s, staff=world.agent, work_order_id=world.work_order, room="r1")
        assert again.status == InspectionStatus.awaiting_consent


async def test_clear_errors(
    service: InspectionService, world: World, db_sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with db_sessions() as s:
        first = await service.start(s, staff=world.agent, work_order_id=world.work_order, room="r1")
        await s.commit()
        await service.deliver(s)
        with pytest.raises(InspectionError) as err:
            await service.start(s, staff=world.agent, work_order_id=world.work_order, room="r1")
        assert (err.value.status_code, err.value.code) == (409, "inspection_running")
        # The savepoint rolled back only the duplicate: the session and the first inspection live on.
        assert (await service.get(s, first.id)).status == InspectionStatus.awaiting_consent

        with pytest.raises(InspectionError) as err:
            await service.start(s, staff=world.other_agent, work_order_id=world.work_order, room="r1")
        assert err.value.status_code == 403
        bare = await make_work_order(s, world, world.bare_item, "WO-B")
        plain = await make_work_order(s, world, world.plain_item, "WO-P")
        with pytest.raises(InspectionError) as err:
            await service.start(s, staff=world.agent, work_order_id=bare, room="r3")
        assert (err.value.status_code, err.value.code) == (409, "no_checklist")
        with pytest.raises(InspectionError) as err:
            await service.start(s, staff=world.agent, work_order_id=plain, room="r4")
        assert err.value.code == "not_inspection_item"
        with pytest.raises(InspectionError) as err:
            await service.start(s, staff=world.agent, work_order_id=bare, room="r3", follow_up_of=first.id)
        assert err.value.code == "bad_follow_up"
        await service.consent(s, applicant_id=world.applicant_id, inspection_id=first.id, accept=True)
        with pytest.raises(InspectionError) as err:  # no camera yet
            await service.snapshot(s, staff=world.agent, inspection_id=first.id, point_key="K1")
        assert (err.value.status_code, err.value.code) == (503, "no_video")
        with pytest.raises(InspectionError) as err:
            await service.consent(s, applicant_id="someone-else", inspection_id=first.id, accept=True)
        assert err.value.status_code == 404
        cancelled = await service.cancel(s, inspection_id=first.id, reason="hangup")
        assert cancelled.status == InspectionStatus.cancelled and cancelled.live_key is None


async def test_rolled_back_changes_send_nothing(
    service: InspectionService, world: World, db_sessions: async_sessionmaker[AsyncSession], sent: Sent
) -> None:
    async with db_sessions() as s:
        await service.start(s, staff=world.agent, work_order_id=world.work_order, room="r1")
        await s.rollback()
        await service.deliver(s)
        assert sent == []
        assert await service.live_for_work_order(s, world.work_order) is None
