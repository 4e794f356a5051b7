"""The server-side peer of an inspection: receives the applicant's camera and feeds the recorder.

The applicant's browser offers (one sendonly video track); this peer answers recvonly. aiortc does
not trickle its own candidates: they are in the answer, followed by an end-of-candidates signal.
The browser's trickled candidates may arrive while the offer is still being applied; one lock
keeps the messages in order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aioice.ice
from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaBlackhole
from aiortc.mediastreams import MediaStreamTrack
from aiortc.sdp import candidate_from_sdp

from helpdesk_inspection.recorder import Recorder, RecordingResult

log = logging.getLogger(__name__)

SendSignal = Callable[[dict[str, Any]], Awaitable[None]]

_original_host_addresses = aioice.ice.get_host_addresses


def _host_addresses_with_loopback(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    addresses = _original_host_addresses(use_ipv4=use_ipv4, use_ipv6=use_ipv6)
    return [*addresses, "127.0.0.1"] if use_ipv4 and "127.0.0.1" not in addresses else addresses


def include_loopback_candidates(enabled: bool = True) -> None:
    """Test-only: aioice skips 127.0.0.1 when gathering host candidates; a machine whose only
    interface is loopback then cannot connect. This patches aioice's address list process-wide."""
    patched = _host_addresses_with_loopback if enabled else _original_host_addresses
    aioice.ice.get_host_addresses = patched


class SignalError(Exception):
    """A malformed inspection.signal payload."""


def ice_servers_from_dicts(servers: list[dict[str, Any]]) -> list[RTCIceServer]:
    """Converts browser-shaped RTCIceServer dicts (urls, username, credential) for aiortc."""
    return [
        RTCIceServer(urls=s["urls"], username=s.get("username"), credential=s.get("credential"))
        for s in servers
        if s.get("urls")
    ]


class InspectionPeer:
    """One RTCPeerConnection per inspection; the recorder starts on the first video track."""

    def __init__(
        self,
        recorder: Recorder,
        send: SendSignal,
        *,
        ice_servers: list[RTCIceServer] | None = None,
        name: str = "inspection",
    ) -> None:
        self.recorder = recorder
        self.name = name
        self._send = send
        self._lock = asyncio.Lock()
        self._blackhole = MediaBlackhole()
        self._closed = False
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=ice_servers or []))
        self.connected = asyncio.Event()
        self.pc.on("track", self._on_track)
        self.pc.on("connectionstatechange", self._on_state)

    @property
    def state(self) -> str:
        return str(self.pc.connectionState)

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "video" and not self.recorder.started:
            self.recorder.start(track)
        else:  # audio or a second video: consumed and discarded so nothing piles up
            self._blackhole.addTrack(track)

    async def _on_state(self) -> None:
        log.info("%s: connection %s", self.name, self.pc.connectionState)
        if self.pc.connectionState == "connected":
            self.connected.set()

    async def handle_signal(self, message: dict[str, Any]) -> None:
        """Applies one `inspection.signal` payload from the browser: an offer or a candidate."""
        async with self._lock:
            if self._closed:
                return
            if message.get("description") is not None:
                await self._on_description(message["description"])
            elif "candidate" in message:
                await self._on_candidate(message["candidate"])
            else:
                raise SignalError("inspection.signal needs a description or a candidate")

    async def _on_description(self, desc: Any) -> None:
        if not isinstance(desc, dict) or desc.get("type") != "offer" or not isinstance(desc.get("sdp"), str):
            raise SignalError("the inspection peer only accepts an offer {type: 'offer', sdp}")
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=desc["sdp"], type="offer"))
        for transceiver in self.pc.getTransceivers():
            transceiver.direction = "recvonly"
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        await self._blackhole.start()
        local = self.pc.localDescription
        await self._send({"description": {"type": local.type, "sdp": local.sdp}})
        await self._send({"candidate": None})

    async def _on_candidate(self, cand: Any) -> None:
        if cand is None or (isinstance(cand, dict) and cand.get("candidate") == ""):
            return  # end of candidates: aiortc needs nothing
        if not isinstance(cand, dict) or not isinstance(cand.get("candidate"), str):
            raise SignalError("candidate must be {candidate, sdpMid, sdpMLineIndex}")
        text = cand["candidate"].removeprefix("candidate:")
        try:
            candidate = candidate_from_sdp(text)
        except (AssertionError, ValueError, IndexError) as exc:  # aiortc asserts on bad input
            raise SignalError(f"unparsable candidate: {exc}") from exc
        candidate.sdpMid = cand.get("sdpMid")
        candidate.sdpMLineIndex = cand.get("sdpMLineIndex")
        if candidate.sdpMid is None and candidate.sdpMLineIndex is None:
            candidate.sdpMLineIndex = 0
        await self.pc.addIceCandidate(candidate)

    async def close(self) -> RecordingResult | None:
        """Stops the recording (finalised in its thread) and closes the connection."""
        async with self._lock:
            if self._closed:
                return None
            self._closed = True
        result = await self.recorder.stop() if self.recorder.started else None
        await self._blackhole.stop()
        await self.pc.close()
        return result
