"""The live media of inspections in this process: one InspectionPeer (and recorder) per inspection."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from helpdesk_inspection.errors import Conflict, InspectionError, Unavailable
from helpdesk_inspection.peer import InspectionPeer, SignalError, ice_servers_from_dicts
from helpdesk_inspection.recorder import Recorder, RecorderError, RecordingResult, Snapshot, file_sha256
from helpdesk_inspection.relay import RedisRelay, snapshot_from_dict, snapshot_to_dict

log = logging.getLogger(__name__)

MAX_OFFERS = 30
PushSignal = Callable[[dict[str, Any]], Awaitable[None]]


def segment_dict(result: RecordingResult, root: Path) -> dict[str, Any]:
    return {
        "key": str(result.path.relative_to(root)),
        "sha256": result.sha256,
        "bytes": result.size_bytes,
        "duration_s": result.duration_s,
        "frames": result.frames_written,
        "dropped": result.frames_dropped,
        "width": result.width,
        "height": result.height,
        "error": result.error,
    }


class LiveMedia:
    """Creates the server-side peer on the applicant's offer and keeps finished segments until end."""

    def __init__(
        self,
        recordings_dir: Path,
        *,
        container: str = ".mp4",
        ice_servers: Callable[[], list[dict[str, Any]]] | None = None,
        relay: RedisRelay | None = None,
    ) -> None:
        self.root = recordings_dir
        self.relay = relay
        self.container = container
        self._ice_servers = ice_servers
        self._peers: dict[str, InspectionPeer] = {}
        self._segments: dict[str, list[dict[str, Any]]] = {}
        self._offers: dict[str, int] = {}
        self._lock = asyncio.Lock()

    def peer(self, inspection_id: str) -> InspectionPeer | None:
        return self._peers.get(inspection_id)

    async def start(self) -> None:
        """With a relay: serve snapshot/stop commands from other processes."""
        if self.relay is not None:
            await self.relay.start(self._serve_remote)

    async def _serve_remote(self, op: str, inspection_id: str) -> dict[str, Any]:
        if op == "snapshot":
            return snapshot_to_dict(await self._local_snapshot(inspection_id))
        if op == "stop":
            return {"segments": await self._local_stop(inspection_id)}
        raise InspectionError(f"unknown relay op {op!r}")

    async def signal(self, inspection_id: str, payload: dict[str, Any], push: PushSignal) -> None:
        """Applies the applicant's offer (creating the peer) or candidate."""
        if payload.get("description") is not None:
            await self._new_peer(inspection_id, push)
        peer = self._peers.get(inspection_id)
        if peer is None:
            raise InspectionError("send the offer before candidates", status_code=409, code="no_peer")
        try:
            await peer.handle_signal(payload)
        except SignalError as exc:
            raise InspectionError(str(exc), code="invalid_signal") from exc

    async def _new_peer(self, inspection_id: str, push: PushSignal) -> None:
        async with self._lock:
            # A new offer (the page reloaded, the camera switched, ICE failed) replaces the old peer;
            # the old recording is kept as a finished segment. Bounded, so a looping page cannot
            # make the server build peer after peer.
            self._offers[inspection_id] = self._offers.get(inspection_id, 0) + 1
            if self._offers[inspection_id] > MAX_OFFERS:
                raise Conflict(f"more than {MAX_OFFERS} camera connections for one inspection")
            if inspection_id in self._peers:
                await self._finish(inspection_id)
            n = len(self._segments.get(inspection_id, [])) + 1
            path = self.root / inspection_id / f"recording-{n}{self.container}"
            while path.exists():  # e.g. a segment written before a restart: never overwrite evidence
                n += 1
                path = path.with_name(f"recording-{n}{self.container}")
            servers = ice_servers_from_dicts(self._ice_servers()) if self._ice_servers else None
            self._peers[inspection_id] = InspectionPeer(
                Recorder(path), push, ice_servers=servers, name=f"inspection:{inspection_id}"
            )
            if self.relay is not None:
                await self.relay.claim(inspection_id)

    async def snapshot(self, inspection_id: str) -> Snapshot:
        """The latest frame, from this process's peer or (with a relay) from the process holding it."""
        if inspection_id not in self._peers and self.relay is not None:
            node = await self.relay.owner(inspection_id)
            if node is not None:
                return snapshot_from_dict(await self.relay.call(node, "snapshot", inspection_id))
        return await self._local_snapshot(inspection_id)

    async def _local_snapshot(self, inspection_id: str) -> Snapshot:
        peer = self._peers.get(inspection_id)
        if peer is None:
            raise Unavailable("the applicant's camera is not connected to the inspection yet", code="no_video")
        try:
            return await peer.recorder.snapshot()
        except RecorderError as exc:
            raise Unavailable(f"no video yet: {exc}", code="no_video") from exc

    async def _finish(self, inspection_id: str) -> None:
        peer = self._peers.pop(inspection_id, None)
        if peer is None:
            return
        result = await peer.close()
        if result is not None and result.frames_written > 0:
            self._segments.setdefault(inspection_id, []).append(segment_dict(result, self.root))
        elif result is not None:
            result.path.unlink(missing_ok=True)

    def orphans(self, inspection_id: str, known: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Segments on disk but not in ``known`` (written by a process that died before the end:
        fragmented MP4 stays playable up to its last fragment)."""
        keys = {seg["key"] for seg in known}
        found = []
        for path in sorted((self.root / inspection_id).glob(f"recording-*{self.container}")):
            key = str(path.relative_to(self.root))
            if key not in keys:
                found.append(
                    {
                        "key": key,
                        "sha256": file_sha256(path),
                        "bytes": path.stat().st_size,
                        "duration_s": None,
                        "frames": None,
                        "recovered": True,
                    }
                )
        return found

    async def stop(self, inspection_id: str) -> list[dict[str, Any]]:
        """Closes the peer (here or, with a relay, in the process holding it); the recording is
        finalised in its thread. Returns every segment."""
        remote: list[dict[str, Any]] = []
        if self.relay is not None and inspection_id not in self._peers:
            node = await self.relay.owner(inspection_id)
            if node is not None:
                with contextlib.suppress(Unavailable):  # that process died: orphans are recovered
                    remote = (await self.relay.call(node, "stop", inspection_id))["segments"]
        return remote + await self._local_stop(inspection_id)

    async def _local_stop(self, inspection_id: str) -> list[dict[str, Any]]:
        await self._finish(inspection_id)
        self._offers.pop(inspection_id, None)
        if self.relay is not None:
            await self.relay.release(inspection_id)
        return self._segments.pop(inspection_id, [])

    async def close_all(self) -> None:
        if self.relay is not None:
            await self.relay.close()
        for inspection_id in list(self._peers):
            try:
                await self._finish(inspection_id)
            except Exception:  # shutdown must close the others; the cause is logged
                log.exception("closing inspection %s failed", inspection_id)
