"""Records an aiortc video track to H.264 (fragmented MP4 or MKV) with encoding off the event loop.

aiortc's own MediaRecorder encodes on the event loop, keeps the codec size of whatever frame
arrives first per stream, does not rebase timestamps and can block the loop in stop(). Here:

* the event loop only awaits ``track.recv()`` (aiortc decodes in its own thread) and hands each
  frame to a bounded ``queue.Queue``; one worker thread per recording scales, encodes and muxes;
* drop policy: when the queue is full (the encoder is behind by ``queue_size`` frames) the
  *incoming* frame is dropped and counted; timestamps are kept, so a drop shows as a short
  freeze, never as a time jump or a corrupt file;
* the size is fixed by the first frame (or given); later frames of another size are scaled to it;
* pts are rebased so the file starts at zero; a non-increasing pts is nudged forward by one tick;
* ``await stop()`` posts a sentinel and awaits a future the worker resolves after flushing and
  closing the container: the loop never blocks on finalisation;
* ``snapshot()`` JPEG-encodes the latest full-resolution frame in a thread, with server time and
  SHA-256.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import fractions
import hashlib
import logging
import queue
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av.video.frame import VideoFrame

log = logging.getLogger(__name__)

TIME_BASE = fractions.Fraction(1, 90000)
FRAGMENTED_MP4 = {"movflags": "frag_keyframe+empty_moov+default_base_moof"}
_STOP = object()


class RecorderError(Exception):
    """The recorder was misused or has nothing to give (e.g. a snapshot before the first frame)."""


@dataclass(frozen=True)
class Snapshot:
    jpeg: bytes
    sha256: str
    taken_at: datetime
    width: int
    height: int


@dataclass(frozen=True)
class RecordingResult:
    path: Path
    frames_received: int
    frames_written: int
    frames_dropped: int
    duration_s: float
    width: int | None
    height: int | None
    size_bytes: int
    sha256: str | None
    error: str | None = None


def encode_jpeg(frame: VideoFrame, quality: int = 3) -> bytes:
    """Encodes one frame as a baseline JPEG with FFmpeg's mjpeg (qscale 2..31, lower is better)."""
    ctx = av.CodecContext.create("mjpeg", "w")
    ctx.width, ctx.height = frame.width, frame.height
    ctx.pix_fmt = "yuvj420p"
    ctx.time_base = fractions.Fraction(1, 25)
    ctx.options = {"qmin": str(quality), "qmax": str(quality)}
    src = frame.reformat(format="yuvj420p")
    src.pts = 0
    packets = list(ctx.encode(src)) + list(ctx.encode(None))
    return b"".join(bytes(p) for p in packets)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class Recorder:
    """Consumes one video track and writes ``path`` (``.mp4``: fragmented MP4, ``.mkv``: Matroska)."""

    def __init__(
        self,
        path: Path,
        *,
        queue_size: int = 40,
        preset: str = "veryfast",
        crf: int = 26,
        threads: int = 1,
        hash_on_stop: bool = True,
        size: tuple[int, int] | None = None,
    ) -> None:
        if path.suffix not in (".mp4", ".mkv"):
            raise RecorderError(f"unsupported container {path.suffix!r}: use .mp4 or .mkv")
        self.path = path
        self.queue_size = queue_size
        self._codec_options = {"preset": preset, "crf": str(crf), "tune": "zerolatency"}
        self._threads = threads
        self._hash_on_stop = hash_on_stop
        self._size = size  # None: the first frame's size (a fixed size avoids a low first frame)
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=queue_size)
        self._done: concurrent.futures.Future[RecordingResult] = concurrent.futures.Future()
        self._reader: asyncio.Task[None] | None = None
        self._thread: threading.Thread | None = None
        self._latest: VideoFrame | None = None
        self._first_frame = asyncio.Event()
        self._stopping = False
        self.frames_received = 0
        self.frames_dropped = 0
        self.frames_written = 0
        self.max_backlog = 0
        self.encode_cpu_s = 0.0  # CPU time of the worker thread: scale, encode, mux

    @property
    def backlog(self) -> int:
        """Frames waiting for the encoder (grows when the CPU cannot keep up)."""
        return self._queue.qsize()

    @property
    def started(self) -> bool:
        return self._reader is not None

    def start(self, track: MediaStreamTrack) -> None:
        if self._reader is not None:
            raise RecorderError("recorder already started")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self._work, name=f"recorder:{self.path.name}", daemon=True)
        self._thread.start()
        self._reader = asyncio.get_running_loop().create_task(self._read(track))

    async def wait_first_frame(self, within_s: float) -> None:
        await asyncio.wait_for(self._first_frame.wait(), within_s)

    async def _read(self, track: MediaStreamTrack) -> None:
        try:
            while True:
                try:
                    frame = await track.recv()
                except MediaStreamError:
                    return
                if not isinstance(frame, VideoFrame):
                    continue
                self.frames_received += 1
                self._latest = frame
                self._first_frame.set()
                try:
                    self._queue.put_nowait(frame)
                except queue.Full:
                    self.frames_dropped += 1
                    continue
                self.max_backlog = max(self.max_backlog, self._queue.qsize())
        finally:
            self._post_stop()

    def _post_stop(self) -> None:
        """Posts the sentinel without blocking: if the queue is full, the worker makes room soon."""
        if self._stopping:
            return
        self._stopping = True
        while True:
            try:
                self._queue.put_nowait(_STOP)
                return
            except queue.Full:
                with contextlib.suppress(queue.Empty):
                    self._queue.get_nowait()
                    self.frames_dropped += 1

    async def stop(self, max_wait_s: float = 30.0) -> RecordingResult:
        """Stops reading, lets the worker flush and close the file, and returns what was written."""
        if self._reader is None:
            raise RecorderError("recorder not started")
        if not self._reader.done():
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        self._post_stop()
        return await asyncio.wait_for(asyncio.wrap_future(self._done), max_wait_s)

    async def snapshot(self) -> Snapshot:
        """The latest received frame at full resolution as JPEG, stamped with server time."""
        frame = self._latest
        if frame is None:
            raise RecorderError("no video received yet")
        taken_at = datetime.now(UTC)
        jpeg = await asyncio.to_thread(encode_jpeg, frame)
        return Snapshot(jpeg, hashlib.sha256(jpeg).hexdigest(), taken_at, frame.width, frame.height)

    # --- worker thread -------------------------------------------------------------------------

    def _work(self) -> None:
        try:
            result = self._encode_loop()
        except Exception as exc:  # the thread must always resolve the future; the cause is kept
            log.exception("recording %s failed", self.path)
            result = self._result(None, None, 0.0, error=f"{type(exc).__name__}: {exc}")
        self._done.set_result(result)

    def _encode_loop(self) -> RecordingResult:
        container: Any = None
        stream: Any = None
        first_pts: int | None = None
        last_pts = -1
        width = height = None
        try:
            while True:
                item = self._queue.get()
                if item is _STOP:
                    break
                frame: VideoFrame = item
                if container is None:
                    width, height = self._size or (frame.width, frame.height)
                    width, height = width - width % 2, height - height % 2
                    container, stream = self._open(width, height)
                pts = self._rebase(frame, first_pts)
                if first_pts is None:
                    first_pts = pts
                    pts = 0
                if pts <= last_pts:
                    pts = last_pts + 1
                last_pts = pts
                started = time.thread_time()
                out = frame.reformat(width=width, height=height, format="yuv420p")
                out.pts, out.time_base = pts, TIME_BASE
                for packet in stream.encode(out):
                    container.mux(packet)
                self.frames_written += 1
                self.encode_cpu_s += time.thread_time() - started
            if stream is not None:
                for packet in stream.encode(None):
                    container.mux(packet)
        finally:
            if container is not None:
                container.close()
        duration = (last_pts / TIME_BASE.denominator) if last_pts > 0 else 0.0
        return self._result(width, height, duration)

    @staticmethod
    def _rebase(frame: VideoFrame, first_pts: int | None) -> int:
        """The frame's time in 1/90000 s, relative to the first frame (absolute for the first)."""
        if frame.pts is None or frame.time_base is None:
            return int(time.monotonic() * 90000) - (first_pts or 0)
        ticks = int(frame.pts * frame.time_base / TIME_BASE)
        return ticks if first_pts is None else ticks - first_pts

    def _open(self, width: int, height: int) -> tuple[Any, Any]:
        options = FRAGMENTED_MP4 if self.path.suffix == ".mp4" else {}
        container = av.open(str(self.path), "w", options=options)
        stream = container.add_stream("libx264", rate=20)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.time_base = TIME_BASE
        stream.codec_context.thread_count = self._threads
        stream.options = dict(self._codec_options)
        return container, stream

    def _result(
        self, width: int | None, height: int | None, duration: float, error: str | None = None
    ) -> RecordingResult:
        exists = self.path.exists()
        return RecordingResult(
            path=self.path,
            frames_received=self.frames_received,
            frames_written=self.frames_written,
            frames_dropped=self.frames_dropped,
            duration_s=round(duration, 3),
            width=width,
            height=height,
            size_bytes=self.path.stat().st_size if exists else 0,
            sha256=file_sha256(self.path) if exists and self._hash_on_stop else None,
            error=error,
        )
