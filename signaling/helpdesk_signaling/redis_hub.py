"""The Redis backend: rooms and drop deadlines in Redis, delivery by pub/sub to whichever process
holds the member's socket.

Key layout (P = the prefix passed in; every key expires or is swept):
  P sig:room:<room>     hash  a, b[, c, d] (member slots), meta (JSON),
                              dropped:<member> = deadline                      TTL room_ttl_s
  P sig:mrooms:<member> set   room ids of the member                           TTL room_ttl_s
  P sig:owner:<member>  str   id of the member's live connection               TTL owner_ttl_s (ping)
  P sig:seen            zset  member scored by its last connect/ping           TTL room_ttl_s, swept
  P sig:drops           zset  "<room>\\t<member>" scored by grace deadline      TTL room_ttl_s, swept
A member whose process died (no close, no ping for owner_ttl_s) is marked dropped by the next
expire(), so its peer hears `peer.dropped` and the call ends after the grace like any other drop.
Channels: P sig:m:<member> carries "M<json>" (a message) or "R<conn id>" (a newer socket took over);
P sig:proc:<uuid> keeps this process's subscriber alive. Scripts touch the keys of one room and its
members (two to four); on Redis Cluster give every key of a deployment one hash tag in the prefix.
The Lua scripts are in redis_scripts.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from typing import Any

from pydantic import BaseModel
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from helpdesk_signaling import redis_scripts
from helpdesk_signaling.errors import SignalingError
from helpdesk_signaling.hub import (
    CLOSE_REPLACED,
    Connection,
    ExpiredRoom,
    PeerListener,
    Room,
    check_members,
    tell_peer,
)
from helpdesk_signaling.protocol import dump, error

log = logging.getLogger(__name__)


def _s(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


class RedisHub:
    """Same contract as MemoryHub; any process may hold either member's socket."""

    def __init__(self, redis: Redis, prefix: str = "hd:", *, room_ttl_s: int = 12 * 3600,
                 owner_ttl_s: int = 60, grace_s: float = 30.0) -> None:
        self.redis = redis
        self.p = prefix + "sig:"
        self.room_ttl_s = room_ttl_s
        self.owner_ttl_s = owner_ttl_s  # keep ≥ 3 × heartbeat_s: pings refresh it
        self.grace_s = grace_s  # for members of dead processes (live sockets pass their own)
        self.on_peer: PeerListener | None = None
        self._conns: dict[str, Connection] = {}
        self._pubsub: PubSub | None = None
        self._listener: asyncio.Task[None] | None = None
        self._proc_channel = f"{self.p}proc:{uuid.uuid4().hex}"
        self._ready = asyncio.Event()
        self._lost = False  # the subscriber lost Redis and has not resubscribed yet
        self._tasks: set[asyncio.Task[None]] = set()
        self._connect = redis.register_script(redis_scripts.CONNECT)
        self._disconnect = redis.register_script(redis_scripts.DISCONNECT)
        self._touch = redis.register_script(redis_scripts.TOUCH)
        self._relay = redis.register_script(redis_scripts.RELAY)
        self._open = redis.register_script(redis_scripts.OPEN)
        self._join = redis.register_script(redis_scripts.JOIN)
        self._leave = redis.register_script(redis_scripts.LEAVE)
        self._close = redis.register_script(redis_scripts.CLOSE)

    def _room_key(self, room_id: str) -> str:
        return f"{self.p}room:{room_id}"

    def _member_keys(self, member: str) -> list[str]:
        return [f"{self.p}owner:{member}", f"{self.p}mrooms:{member}", f"{self.p}drops", f"{self.p}seen"]

    def _channel(self, member: str) -> str:
        return f"{self.p}m:{member}"

    async def start(self) -> None:
        self._listener = asyncio.create_task(self._listen(), name="redis-hub-listener")
        await asyncio.wait_for(self._ready.wait(), timeout=10)

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        for conn in list(self._conns.values()):
            await conn.close(1001, "server shutting down")
        self._conns.clear()

    async def _listen(self) -> None:
        """One subscriber per process; on a Redis failure resubscribe every local member."""
        while True:
            pubsub = self.redis.pubsub()
            try:
                await pubsub.subscribe(self._proc_channel, *(self._channel(m) for m in self._conns))
                self._pubsub = pubsub
                self._ready.set()
                if self._lost:
                    log.warning("signaling subscriber back on Redis")
                    self._lost = False
                async for item in pubsub.listen():
                    if item.get("type") == "message":
                        self._dispatch(_s(item["channel"]), _s(item["data"]))
            except asyncio.CancelledError:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()
                raise
            except (RedisError, OSError) as exc:
                if not self._lost:
                    log.error("signaling subscriber lost Redis (%s); closing %d local sockets with "
                              "`unavailable`, retrying every 1 s", exc, len(self._conns))
                    self._lost = True
                self._pubsub = None
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()
                await self._refuse_local()
                await asyncio.sleep(1)

    async def _refuse_local(self) -> None:
        """Messages published while the subscriber is gone are lost: tell this process's sockets
        (`error unavailable`, close 1011) so their clients reconnect and resync from `welcome`."""
        for conn in list(self._conns.values()):
            conn.deliver(dump(error("unavailable", "signaling lost Redis; reconnect shortly")))
            await conn.close(1011, "unavailable")

    def _dispatch(self, channel: str, data: str) -> None:
        member = channel.removeprefix(self.p + "m:")
        conn = self._conns.get(member)
        if conn is None:
            return
        if data.startswith("M"):
            conn.deliver(data[1:])
        elif data.startswith("R") and data[1:] != conn.id:
            del self._conns[member]
            task = asyncio.create_task(self._kicked(member, conn))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _kicked(self, member: str, conn: Connection) -> None:
        await conn.close(CLOSE_REPLACED, "replaced by a newer connection")
        if member not in self._conns and self._pubsub is not None:
            with contextlib.suppress(RedisError, OSError):
                await self._pubsub.unsubscribe(self._channel(member))

    async def connect(self, member: str, conn: Connection, now: float | None = None) -> list[Room]:
        if self._lost:  # the subscriber is not back on Redis yet: nothing would reach this socket
            raise SignalingError("unavailable", "signaling is reconnecting to Redis; retry shortly")
        old = self._conns.get(member)
        self._conns[member] = conn
        if old is not None and old is not conn:
            await old.close(CLOSE_REPLACED, "replaced by a newer connection")
        try:
            await self.redis.publish(self._channel(member), "R" + conn.id)  # other processes let go
            if old is None and self._pubsub is not None:
                await self._pubsub.subscribe(self._channel(member))
            ids = await self._connect(keys=self._member_keys(member),
                                      args=[conn.id, self.owner_ttl_s, f"{self.p}room:", member,
                                            repr(time.time() if now is None else now), self.room_ttl_s])
        except BaseException:
            if self._conns.get(member) is conn:
                del self._conns[member]
            raise
        resumed = []
        for rid in map(_s, ids):
            room = await self.get_room(rid.removeprefix("!"))
            if room is None:
                continue
            if rid.startswith("!"):  # taken over from a socket that never closed
                await tell_peer(self, room, member, "dropped", self.grace_s)
            resumed.append(room)
            await tell_peer(self, room, member, "resumed", 0)
        return resumed

    async def disconnect(self, member: str, conn: Connection, *, now: float, grace_s: float) -> list[Room]:
        if self._conns.get(member) is conn:
            del self._conns[member]
            if self._pubsub is not None:
                with contextlib.suppress(RedisError, OSError):
                    await self._pubsub.unsubscribe(self._channel(member))
        ids = await self._disconnect(
            keys=self._member_keys(member),
            args=[conn.id, repr(now + grace_s), f"{self.p}room:", member, "", self.room_ttl_s])
        return await self._notify_dropped(member, ids, grace_s)

    async def _notify_dropped(self, member: str, ids: Any, grace_s: float) -> list[Room]:
        rooms = []
        for rid in ids or []:
            room = await self.get_room(_s(rid))
            if room is not None:
                rooms.append(room)
                await tell_peer(self, room, member, "dropped", grace_s)
        return rooms

    async def touch(self, member: str, conn: Connection, now: float) -> None:
        """Refresh the ownership key and last-seen time while the socket pings (if it still owns it)."""
        try:
            await self._touch(keys=self._member_keys(member),
                              args=[conn.id, self.owner_ttl_s, repr(now), member, self.room_ttl_s])
        except (RedisError, OSError) as exc:
            log.warning("could not refresh member %s in Redis: %s", member, exc)

    def local_connection(self, member: str) -> Connection | None:
        """This process's socket of `member`, for messages computed here for local sockets only."""
        return self._conns.get(member)

    async def is_online(self, member: str) -> bool:
        return member in self._conns or bool(await self.redis.exists(f"{self.p}owner:{member}"))

    async def online(self, members: list[str]) -> set[str]:
        """Which of `members` are online: the local ones, then one pipelined round trip for the rest."""
        out = {m for m in members if m in self._conns}
        rest = [m for m in members if m not in out]
        if rest:
            async with self.redis.pipeline(transaction=False) as pipe:
                for m in rest:
                    pipe.exists(f"{self.p}owner:{m}")
                found = await pipe.execute()
            out.update(m for m, n in zip(rest, found, strict=True) if n)
        return out

    async def send(self, member: str, message: BaseModel | dict[str, Any]) -> bool:
        """Publish to the member's channel; False if no process holds its socket."""
        try:
            return int(await self.redis.publish(self._channel(member), "M" + dump(message))) > 0
        except (RedisError, OSError) as exc:
            raise SignalingError("unavailable", "signaling is unavailable; retry shortly") from exc

    async def send_many(self, items: list[tuple[str, BaseModel | dict[str, Any]]]) -> int:
        """send() for many pairs in one pipelined round trip (order kept); returns how many reached
        a process holding the member's socket."""
        if not items:
            return 0
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for member, message in items:
                    pipe.publish(self._channel(member), "M" + dump(message))
                counts = await pipe.execute()
        except (RedisError, OSError) as exc:
            raise SignalingError("unavailable", "signaling is unavailable; retry shortly") from exc
        return sum(1 for n in counts if int(n) > 0)

    async def relay(self, room_id: str, from_member: str, message: BaseModel | str,
                    to: str | None = None) -> bool:
        text = message if isinstance(message, str) else dump(message)
        try:
            n = int(await self._relay(keys=[self._room_key(room_id)],
                                      args=[from_member, self.p + "m:", "M" + text, to or ""]))
        except (RedisError, OSError) as exc:
            raise SignalingError("unavailable", "signaling is unavailable; retry shortly") from exc
        if n == -1:
            raise SignalingError("not_in_room", f"you are not a member of room {room_id}")
        if n == -2:
            raise SignalingError("not_in_room", f"{(to or '')[:80]} is not another member of room {room_id}")
        return n > 0

    async def open_room(self, room_id: str, members: tuple[str, ...],
                        metadata: dict[str, Any] | None = None) -> Room:
        check_members(members)
        meta = dict(metadata or {})
        ok = await self._open(
            keys=[self._room_key(room_id), *(f"{self.p}mrooms:{m}" for m in members)],
            args=[json.dumps(meta), self.room_ttl_s, room_id, *members])
        if not int(ok):
            raise SignalingError("conflict", f"room {room_id} already exists")
        return Room(room_id, members, meta)

    async def add_member(self, room_id: str, member: str) -> Room:
        n = int(await self._join(keys=[self._room_key(room_id), f"{self.p}mrooms:{member}"],
                                 args=[member, room_id, self.room_ttl_s]))
        if n == -1:
            raise SignalingError("not_found", f"room {room_id} does not exist (any more)")
        if n == -2:
            raise SignalingError("conflict", "a room needs two to 4 different members")
        room = await self.get_room(room_id)
        if room is None:
            raise SignalingError("not_found", f"room {room_id} does not exist (any more)")
        return room

    async def remove_member(self, room_id: str, member: str) -> Room:
        n = int(await self._leave(keys=[self._room_key(room_id), f"{self.p}mrooms:{member}", f"{self.p}drops"],
                                  args=[member, room_id]))
        if n == -1:
            raise SignalingError("not_in_room", f"{member[:80]} is not a member of room {room_id}")
        if n == -2:
            raise SignalingError("conflict", "a call of two ends instead (hang up)")
        room = await self.get_room(room_id)
        if room is None:
            raise SignalingError("not_found", f"room {room_id} does not exist (any more)")
        return room

    def _room(self, room_id: str, flat: Any) -> Room | None:
        if isinstance(flat, dict):
            h = {_s(k): _s(v) for k, v in flat.items()}
        else:
            items = [_s(x) for x in flat]
            h = dict(zip(items[::2], items[1::2], strict=True))
        members = tuple(h[s] for s in "abcd" if s in h)
        if not members:
            return None
        dropped = {k[8:]: float(v) for k, v in h.items() if k.startswith("dropped:")}
        return Room(room_id, members, json.loads(h.get("meta") or "{}"), dropped)

    async def get_room(self, room_id: str) -> Room | None:
        return self._room(room_id, await self.redis.hgetall(self._room_key(room_id)))

    async def rooms_of(self, member: str) -> list[Room]:
        ids = sorted(_s(r) for r in await self.redis.smembers(f"{self.p}mrooms:{member}"))
        rooms = [await self.get_room(r) for r in ids]
        return [r for r in rooms if r is not None]

    async def close_room(self, room_id: str) -> Room | None:
        flat = await self._close(keys=[self._room_key(room_id), f"{self.p}drops"],
                                 args=[room_id, "", f"{self.p}mrooms:"])
        return self._room(room_id, flat)

    async def expire(self, now: float) -> list[ExpiredRoom]:
        """Mark members of dead processes dropped, then close each room with a due deadline; the
        scripts make exactly one process act on each member and each room."""
        cutoff = now - self.owner_ttl_s
        for m in await self.redis.zrangebyscore(f"{self.p}seen", "-inf", repr(cutoff)):
            member = _s(m)
            if member in self._conns:  # alive here, whatever the score says
                await self.touch(member, self._conns[member], now)
                continue
            ids = await self._disconnect(keys=self._member_keys(member),
                                         args=["", repr(now + self.grace_s), f"{self.p}room:", member,
                                               repr(cutoff), self.room_ttl_s])
            if ids is not None:
                log.warning("member %s stopped pinging with no close (its process died?): dropped", member)
            await self._notify_dropped(member, ids, self.grace_s)
        due: dict[str, list[str]] = {}
        for entry in await self.redis.zrangebyscore(f"{self.p}drops", "-inf", repr(now)):
            due.setdefault(_s(entry).split("\t", 1)[0], []).append(_s(entry))
        out = []
        for rid, entries in due.items():
            flat = await self._close(keys=[self._room_key(rid), f"{self.p}drops"],
                                     args=[rid, repr(now), f"{self.p}mrooms:", *entries])
            room = self._room(rid, flat)
            if room is not None:
                out.append(ExpiredRoom(room, sorted(room.dropped, key=room.dropped.__getitem__)))
        return out
