"""The recorder and the inspection peer over a real aiortc-to-aiortc connection."""

from __future__ import annotations

import asyncio
import hashlib
import io
import time
from pathlib import Path
from typing import Any

import av
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from helpdesk_inspection.live import LiveMedia
from helpdesk_inspection.peer import InspectionPeer, SignalError
from helpdesk_inspection.recorder import Recorder, RecorderError
from helpdesk_inspection.synthetic import PatternTrack, connect_loopback


def probe(path: Path) -> tuple[float, int, int, int]:
    """(duration s, decoded frames, width, height) as PyAV sees the file."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
        duration = (container.duration or 0) / 1_000_000
        return duration, len(frames), frames[0].width, frames[0].height


async def record_loopback(path: Path, seconds: float, track: PatternTrack) -> tuple[Recorder, Any]:
    sender, receiver = RTCPeerConnection(), RTCPeerConnection()
    sender.addTrack(track)
    recorder = Recorder(path)
    receiver.on("track", lambda t: recorder.start(t) if t.kind == "video" else None)
    try:
        await connect_loopback(sender, receiver)
        await recorder.wait_first_frame(within_s=10)
        await asyncio.sleep(seconds)
        snap = await recorder.snapshot()
        result = await recorder.stop(max_wait_s=20)
    finally:
        await sender.close()
        await receiver.close()
    return recorder, (result, snap)


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
async def test_loopback_recording_plays_from_zero(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"rec{suffix}"
    _, (result, snap) = await asyncio.wait_for(record_loopback(path, 2.0, PatternTrack()), 40)
    duration, frames, width, height = probe(path)
    assert result.error is None
    assert frames > 10 and duration > 1.0
    assert (width, height) == (640, 480) == (result.width, result.height)
    assert result.frames_written == frames
    assert result.duration_s < 4.0  # rebased: starts at zero, not at the sender's clock
    assert result.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert snap.sha256 == hashlib.sha256(snap.jpeg).hexdigest()
    assert snap.jpeg[:2] == b"\xff\xd8"
    with av.open(io.BytesIO(snap.jpeg)) as img:
        decoded = next(img.decode(video=0))
        assert (decoded.width, decoded.height) == (640, 480)


async def test_size_fixed_by_first_frame(tmp_path: Path) -> None:
    path = tmp_path / "switch.mkv"
    track = PatternTrack(320, 240, switch_after=10, switch_to=(640, 360))
    recorder = Recorder(path)
    recorder.start(track)
    await asyncio.sleep(1.2)
    snap = await recorder.snapshot()
    result = await asyncio.wait_for(recorder.stop(), 20)
    track.stop()
    _, frames, width, height = probe(path)
    assert (width, height) == (320, 240) and frames == result.frames_written > 15
    assert (snap.width, snap.height) == (640, 360)  # snapshots keep the full resolution


async def test_given_size_scales_every_frame(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "sized.mp4", size=(640, 360))
    track = PatternTrack(320, 240)
    recorder.start(track)
    await recorder.wait_first_frame(within_s=5)
    await asyncio.sleep(0.5)
    result = await asyncio.wait_for(recorder.stop(), 20)
    track.stop()
    assert probe(result.path)[2:] == (640, 360) == (result.width, result.height)


async def test_stop_does_not_block_the_loop(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "big.mp4", preset="medium")
    track = PatternTrack(1280, 720, fps=30, noise=True)
    recorder.start(track)
    await asyncio.sleep(1.0)
    gaps: list[float] = []

    async def ticker() -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.01)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    tick = asyncio.create_task(ticker())
    t0 = time.monotonic()
    result = await asyncio.wait_for(recorder.stop(), 30)
    took = time.monotonic() - t0
    tick.cancel()
    track.stop()
    assert result.frames_written > 0 and result.error is None
    # A blocking stop shows as one gap as long as stop() itself; a busy machine only adds jitter.
    assert took < 0.3 or max(gaps, default=0) < took / 2


async def test_snapshot_before_video_and_bad_container(tmp_path: Path) -> None:
    with pytest.raises(RecorderError):
        Recorder(tmp_path / "x.avi")
    recorder = Recorder(tmp_path / "none.mp4")
    with pytest.raises(RecorderError):
        await recorder.snapshot()
    with pytest.raises(RecorderError):
        await recorder.stop()


async def test_drop_policy_counts_dropped_frames(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "slow.mkv", queue_size=2, preset="slow")
    track = PatternTrack(1280, 720, fps=60, noise=True)
    recorder.start(track)
    await asyncio.sleep(1.5)
    result = await asyncio.wait_for(recorder.stop(), 60)
    track.stop()
    assert result.frames_dropped > 0
    assert result.frames_received == result.frames_written + result.frames_dropped
    assert recorder.max_backlog <= 2


async def test_inspection_peer_answers_and_records(tmp_path: Path) -> None:
    browser = RTCPeerConnection()
    track = PatternTrack()
    browser.addTrack(track)
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    peer = InspectionPeer(Recorder(tmp_path / "peer.mp4"), send)
    try:
        await browser.setLocalDescription(await browser.createOffer())
        offer = browser.localDescription
        await peer.handle_signal({"description": {"type": offer.type, "sdp": offer.sdp}})
        answer = sent[0]["description"]
        assert answer["type"] == "answer" and "a=recvonly" in answer["sdp"]
        assert sent[1] == {"candidate": None}
        await browser.setRemoteDescription(RTCSessionDescription(**answer))
        await asyncio.wait_for(peer.connected.wait(), 15)
        await peer.recorder.wait_first_frame(10)
        await asyncio.sleep(1.0)
        with pytest.raises(SignalError):
            await peer.handle_signal({"description": {"type": "answer", "sdp": "x"}})
        with pytest.raises(SignalError):
            await peer.handle_signal({"candidate": {"candidate": "garbage"}})
        await peer.handle_signal({"candidate": None})
        result = await asyncio.wait_for(peer.close(), 20)
    finally:
        await browser.close()
    assert result is not None and result.frames_written > 5
    assert probe(result.path)[1] == result.frames_written
    assert await peer.close() is None


async def test_new_offer_replaces_the_peer_and_keeps_segments(tmp_path: Path) -> None:
    live = LiveMedia(tmp_path)
    replies: list[dict[str, Any]] = []

    async def push(message: dict[str, Any]) -> None:
        replies.append(message)

    browsers = []
    try:
        for _ in range(2):  # e.g. the applicant's page reloaded mid-inspection
            browser = RTCPeerConnection()
            browsers.append(browser)
            browser.addTrack(PatternTrack())
            await browser.setLocalDescription(await browser.createOffer())
            await live.signal("i1", {"description": {"type": "offer", "sdp": browser.localDescription.sdp}}, push)
            answer = next(m for m in reversed(replies) if m.get("description"))
            await browser.setRemoteDescription(RTCSessionDescription(**answer["description"]))
            peer = live.peer("i1")
            assert peer is not None
            await asyncio.wait_for(peer.connected.wait(), 15)
            await peer.recorder.wait_first_frame(within_s=10)
            await asyncio.sleep(0.3)
        segments = await asyncio.wait_for(live.stop("i1"), 30)
    finally:
        for browser in browsers:
            await browser.close()
        await live.close_all()
    assert [s["key"] for s in segments] == ["i1/recording-1.mp4", "i1/recording-2.mp4"]
    assert all(s["frames"] > 0 for s in segments)
