"""A synthetic camera and an aiortc-to-aiortc loopback, for tests, the bench and demos."""

from __future__ import annotations

import asyncio
import fractions
import os
import time

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, VideoStreamTrack
from av.video.frame import VideoFrame

CLOCK_RATE = 90000


class PatternTrack(VideoStreamTrack):
    """Moving stripes (or noise) at a fixed size and rate; ``switch_after``/``switch_to`` change the
    resolution mid-stream."""

    def __init__(
        self,
        width: int = 640,
        height: int = 480,
        fps: int = 20,
        switch_after: int = 0,
        switch_to: tuple[int, int] | None = None,
        noise: bool = False,
    ) -> None:
        super().__init__()
        self.width, self.height, self.fps = width, height, fps
        self.switch_after, self.switch_to = switch_after, switch_to
        self.sent = 0
        self._t0: float | None = None
        self._pattern = bytes(range(256)) * 16
        # noise: 8 precomputed random frames, cycled (hard to encode: makes the encoder the bottleneck)
        size = sum(p.buffer_size for p in VideoFrame(width, height, "yuv420p").planes)
        self._noise = [os.urandom(size) for _ in range(8)] if noise else []

    async def recv(self) -> VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._t0 is None:
            self._t0 = time.monotonic()
        else:
            wait = self._t0 + self.sent / self.fps - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        w, h = self.width, self.height
        if self.switch_to and self.switch_after and self.sent >= self.switch_after:
            w, h = self.switch_to
        frame = VideoFrame(w, h, "yuv420p")
        offset = (self.sent * 7) % 256
        if self._noise and (w, h) == (self.width, self.height):
            data, pos = self._noise[self.sent % len(self._noise)], 0
            for plane in frame.planes:
                plane.update(data[pos : pos + plane.buffer_size])
                pos += plane.buffer_size
        for index, plane in enumerate(frame.planes if not self._noise else []):
            line = plane.line_size
            rows = plane.buffer_size // line
            row = self._pattern[offset + index * 40 : offset + index * 40 + line]
            plane.update(row * rows)
        frame.pts = int(self.sent * CLOCK_RATE / self.fps)
        frame.time_base = fractions.Fraction(1, CLOCK_RATE)
        self.sent += 1
        return frame


async def connect_loopback(sender: RTCPeerConnection, receiver: RTCPeerConnection, within_s: float = 15) -> None:
    """Offer from ``sender`` (tracks already added), answer from ``receiver``; waits for both connected."""
    await sender.setLocalDescription(await sender.createOffer())
    offer = sender.localDescription
    await receiver.setRemoteDescription(RTCSessionDescription(sdp=offer.sdp, type=offer.type))
    await receiver.setLocalDescription(await receiver.createAnswer())
    answer = receiver.localDescription
    await sender.setRemoteDescription(RTCSessionDescription(sdp=answer.sdp, type=answer.type))

    async def connected(pc: RTCPeerConnection) -> None:
        while pc.connectionState != "connected":
            if pc.connectionState in ("failed", "closed"):
                raise ConnectionError(f"peer connection {pc.connectionState}")
            await asyncio.sleep(0.02)

    await asyncio.wait_for(asyncio.gather(connected(sender), connected(receiver)), within_s)
