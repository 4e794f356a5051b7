"""Cross-process access to an inspection's peer through Redis (several app processes).

The peer lives in the process whose socket received the applicant's offer. It claims the
inspection in Redis (``{prefix}insp:peer:<id>`` = node id); an agent's request handled by another
process publishes the command (snapshot, stop) on ``{prefix}insp:node:<node>`` and waits for the
reply on a one-off list with BLPOP.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from helpdesk_inspection.errors import InspectionError, Unavailable
from helpdesk_inspection.recorder import Snapshot

log = logging.getLogger(__name__)

Handler = Callable[[str, str], Awaitable[dict[str, Any]]]
CLAIM_TTL_S = 24 * 3600


def snapshot_to_dict(snap: Snapshot) -> dict[str, Any]:
    return {
        "jpeg": base64.b64encode(snap.jpeg).decode(),
        "sha256": snap.sha256,
        "taken_at": snap.taken_at.isoformat(),
        "width": snap.width,
        "height": snap.height,
    }


def snapshot_from_dict(data: dict[str, Any]) -> Snapshot:
    return Snapshot(
        base64.b64decode(data["jpeg"]),
        data["sha256"],
        datetime.fromisoformat(data["taken_at"]),
        int(data["width"]),
        int(data["height"]),
    )


class RedisRelay:
    """``redis``: a redis.asyncio client (decode_responses=True, as the shell builds it)."""

    def __init__(
        self, redis: Any, *, prefix: str = "hd:", node_id: str | None = None, reply_timeout_s: float = 30.0
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.node_id = node_id or uuid.uuid4().hex[:12]
        self.reply_timeout_s = reply_timeout_s
        self._handler: Handler | None = None
        self._pubsub: Any = None
        self._task: asyncio.Task[None] | None = None
        self._serving: set[asyncio.Task[None]] = set()

    def _peer_key(self, inspection_id: str) -> str:
        return f"{self.prefix}insp:peer:{inspection_id}"

    def _channel(self, node: str) -> str:
        return f"{self.prefix}insp:node:{node}"

    async def start(self, handler: Handler) -> None:
        """Listens for commands addressed to this process; ``handler(op, inspection_id)``."""
        self._handler = handler
        self._pubsub = self.redis.pubsub()
        await self._pubsub.subscribe(self._channel(self.node_id))
        self._task = asyncio.create_task(self._listen())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._pubsub is not None:
            await self._pubsub.aclose()

    async def claim(self, inspection_id: str) -> None:
        await self.redis.set(self._peer_key(inspection_id), self.node_id, ex=CLAIM_TTL_S)

    async def release(self, inspection_id: str) -> None:
        key = self._peer_key(inspection_id)
        if await self.redis.get(key) == self.node_id:
            await self.redis.delete(key)

    async def owner(self, inspection_id: str) -> str | None:
        value = await self.redis.get(self._peer_key(inspection_id))
        return None if value in (None, self.node_id) else str(value)

    async def call(self, node: str, op: str, inspection_id: str) -> dict[str, Any]:
        """Runs ``op`` on ``node`` and returns its result; the node's errors are raised here."""
        reply = f"{self.prefix}insp:reply:{uuid.uuid4().hex}"
        message = json.dumps({"op": op, "inspection": inspection_id, "reply": reply})
        if await self.redis.publish(self._channel(node), message) == 0:
            raise Unavailable("the process holding the inspection camera is gone", code="no_video")
        got = await self.redis.blpop([reply], timeout=self.reply_timeout_s)
        if got is None:
            raise Unavailable("the process holding the inspection camera did not answer", code="no_video")
        result: dict[str, Any] = json.loads(got[1])
        if "error" in result:
            err = result["error"]
            raise InspectionError(err["message"], err["status"], err["code"])
        return result

    async def _listen(self) -> None:
        async for message in self._pubsub.listen():
            if message.get("type") != "message":
                continue
            task = asyncio.create_task(self._serve(json.loads(message["data"])))
            self._serving.add(task)
            task.add_done_callback(self._serving.discard)

    async def _serve(self, command: dict[str, Any]) -> None:
        assert self._handler is not None
        try:
            result = await self._handler(command["op"], command["inspection"])
        except InspectionError as exc:
            result = {"error": {"message": exc.message, "status": exc.status_code, "code": exc.code}}
        await self.redis.rpush(command["reply"], json.dumps(result))
        await self.redis.expire(command["reply"], 60)
