"""Two processes' worth of LiveMedia on one Redis: the peer in A, snapshot and stop asked from B."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any

import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from helpdesk_inspection.errors import InspectionError
from helpdesk_inspection.live import LiveMedia
from helpdesk_inspection.relay import RedisRelay
from helpdesk_inspection.synthetic import PatternTrack

pytestmark = pytest.mark.redis


async def test_snapshot_and_stop_across_processes(redis_url: str, redis_prefix: str, tmp_path: Path) -> None:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    node_a = LiveMedia(tmp_path, relay=RedisRelay(client, prefix=redis_prefix, node_id="A"))
    node_b = LiveMedia(tmp_path, relay=RedisRelay(client, prefix=redis_prefix, node_id="B"))
    await node_a.start()
    await node_b.start()
    browser = RTCPeerConnection()
    browser.addTrack(PatternTrack())
    replies: list[dict[str, Any]] = []

    async def push(message: dict[str, Any]) -> None:
        replies.append(message)

    try:
        await browser.setLocalDescription(await browser.createOffer())
        offer = {"type": "offer", "sdp": browser.localDescription.sdp}
        await node_a.signal("insp1", {"description": offer}, push)
        await browser.setRemoteDescription(RTCSessionDescription(**replies[0]["description"]))
        peer = node_a.peer("insp1")
        assert peer is not None
        await asyncio.wait_for(peer.connected.wait(), 15)
        await peer.recorder.wait_first_frame(within_s=10)
        await asyncio.sleep(0.5)

        snap = await asyncio.wait_for(node_b.snapshot("insp1"), 15)
        assert snap.jpeg[:2] == b"\xff\xd8" and hashlib.sha256(snap.jpeg).hexdigest() == snap.sha256
        with pytest.raises(InspectionError) as err:
            await node_b.snapshot("unknown")
        assert err.value.code == "no_video"

        segments = await asyncio.wait_for(node_b.stop("insp1"), 30)
        assert len(segments) == 1 and segments[0]["frames"] > 5
        assert node_a.peer("insp1") is None
        assert await client.get(f"{redis_prefix}insp:peer:insp1") is None
    finally:
        await browser.close()
        await node_a.close_all()
        await node_b.close_all()
        await client.aclose()
