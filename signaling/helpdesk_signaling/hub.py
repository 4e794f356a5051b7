"""Who is connected where, which two members share a room, and who dropped until when."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from pydantic import BaseModel

from helpdesk_signaling.errors import SignalingError
from helpdesk_signaling.protocol import PeerDropped, PeerResumed, dump

log = logging.getLogger(__name__)

CLOSE_REPLACED = 4001  # a newer socket of the same member took over
CLOSE_HEARTBEAT = 4002  # silent for more than twice the heartbeat interval
CLOSE_SLOW = 4003  # the outbound queue overflowed: the client does not read


class Connection(Protocol):
    """One live socket as the hub sees it; `deliver` queues text without waiting for the network."""

    id: str

    def deliver(self, text: str) -> bool: ...

    async def close(self, code: int, reason: str) -> None: ...


@dataclass
class Room:
    id: str
    members: tuple[str, str]
    metadata: dict[str, Any] = field(default_factory=dict)
    dropped: dict[str, float] = field(default_factory=dict)  # member -> grace deadline (epoch s)

    def peer_of(self, member: str) -> str:
        a, b = self.members
        if member == a:
            return b
        if member == b:
            return a
        raise SignalingError("not_in_room", f"you are not a member of room {self.id}")


@dataclass
class ExpiredRoom:
    """A room whose grace ran out; the hub has closed it, the app ends the call."""

    room: Room
    dropped: list[str]  # who was gone at the deadline (earliest deadline first)


# Told of every peer.dropped / peer.resumed a hub sends, by whichever process notices (the app records
# them on the work order): (room, the member who dropped or came back, "dropped" | "resumed").
PeerListener = Callable[[Room, str, Literal["dropped", "resumed"]], Awaitable[None]]


async def tell_peer(hub: Any, room: Room, member: str, kind: Literal["dropped", "resumed"], grace_s: float) -> None:
    """Send peer.dropped/peer.resumed to the other member, then the hub's listener (which must not
    stop the hub: its failure is logged)."""
    msg = PeerDropped(room=room.id, grace_s=grace_s) if kind == "dropped" else PeerResumed(room=room.id)
    await hub.send(room.peer_of(member), msg)
    listener: PeerListener | None = hub.on_peer
    if listener is not None:
        try:
            await listener(room, member, kind)
        except Exception:
            log.exception("recording peer %s of %s in room %s failed", kind, member, room.id)


class Hub(Protocol):
    """The contract both backends pass (tests/helpdesk_signaling/test_hub_contract.py)."""

    on_peer: PeerListener | None

    async def start(self) -> None: ...
    async def close(self) -> None: ...
    async def connect(self, member: str, conn: Connection, now: float | None = None) -> list[Room]: ...
    async def disconnect(self, member: str, conn: Connection, *, now: float,
                         grace_s: float) -> list[Room]: ...
    async def touch(self, member: str, conn: Connection, now: float) -> None: ...
    async def is_online(self, member: str) -> bool: ...
    async def online(self, members: list[str]) -> set[str]: ...
    async def send(self, member: str, message: BaseModel | dict[str, Any]) -> bool: ...
    async def send_many(self, items: list[tuple[str, BaseModel | dict[str, Any]]]) -> int: ...
    async def relay(self, room_id: str, from_member: str, message: BaseModel | str) -> bool: ...
    async def open_room(self, room_id: str, members: tuple[str, str],
                        metadata: dict[str, Any] | None = None) -> Room: ...
    async def get_room(self, room_id: str) -> Room | None: ...
    async def rooms_of(self, member: str) -> list[Room]: ...
    async def close_room(self, room_id: str) -> Room | None: ...
    async def expire(self, now: float) -> list[ExpiredRoom]: ...


class MemoryHub:
    """The embedded backend: one process, plain dicts, no locks needed on one event loop."""

    def __init__(self) -> None:
        self._conns: dict[str, Connection] = {}
        self._rooms: dict[str, Room] = {}
        self._member_rooms: dict[str, set[str]] = {}
        self.on_peer: PeerListener | None = None
        self.grace_s = 30.0  # for a socket taken over by a newer one (the peer hears dropped, then resumed)

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        for conn in list(self._conns.values()):
            await conn.close(1001, "server shutting down")
        self._conns.clear()

    async def connect(self, member: str, conn: Connection, now: float | None = None) -> list[Room]:
        """Register the socket (closing an older one) and resume the rooms the member had dropped. A
        socket that takes over from one still open (a reload, a second tab) is a drop and a resume
        for the peer: the page behind it is new, so the call must renegotiate."""
        old = self._conns.get(member)
        self._conns[member] = conn
        taken_over = old is not None and old is not conn
        if old is not None and taken_over:
            await old.close(CLOSE_REPLACED, "replaced by a newer connection")
        resumed = []
        for room in await self.rooms_of(member):
            if room.dropped.pop(member, None) is not None:
                resumed.append(room)
            elif taken_over:
                await tell_peer(self, room, member, "dropped", self.grace_s)
                resumed.append(room)
            else:
                continue
            await tell_peer(self, room, member, "resumed", 0)
        return resumed

    async def disconnect(self, member: str, conn: Connection, *, now: float, grace_s: float) -> list[Room]:
        """Forget the socket; if it was the member's live one, start the grace in each of its rooms."""
        if self._conns.get(member) is not conn:
            return []  # a replaced socket: the newer one is live, nothing dropped
        del self._conns[member]
        rooms = await self.rooms_of(member)
        for room in rooms:
            room.dropped[member] = now + grace_s
            await tell_peer(self, room, member, "dropped", grace_s)
        return rooms

    async def touch(self, member: str, conn: Connection, now: float) -> None:
        return None  # liveness is the socket itself in one process

    async def is_online(self, member: str) -> bool:
        return member in self._conns

    async def online(self, members: list[str]) -> set[str]:
        """Which of `members` are online (is_online for many at once)."""
        return {m for m in members if m in self._conns}

    async def send(self, member: str, message: BaseModel | dict[str, Any]) -> bool:
        conn = self._conns.get(member)
        return conn is not None and conn.deliver(dump(message))

    async def send_many(self, items: list[tuple[str, BaseModel | dict[str, Any]]]) -> int:
        """send() for many (member, message) pairs, in order; returns how many were delivered."""
        return sum([await self.send(member, message) for member, message in items])

    async def relay(self, room_id: str, from_member: str, message: BaseModel | str) -> bool:
        """To the other member of the room; a str is the wire text already (the signal fast path)."""
        room = self._rooms.get(room_id)
        if room is None or from_member not in room.members:
            raise SignalingError("not_in_room", f"you are not a member of room {room_id}")
        conn = self._conns.get(room.peer_of(from_member))
        return conn is not None and conn.deliver(message if isinstance(message, str) else dump(message))

    async def open_room(self, room_id: str, members: tuple[str, str],
                        metadata: dict[str, Any] | None = None) -> Room:
        if members[0] == members[1]:
            raise SignalingError("conflict", "a room needs two different members")
        if room_id in self._rooms:
            raise SignalingError("conflict", f"room {room_id} already exists")
        room = Room(room_id, members, dict(metadata or {}))
        self._rooms[room_id] = room
        for m in members:
            self._member_rooms.setdefault(m, set()).add(room_id)
        return room

    async def get_room(self, room_id: str) -> Room | None:
        return self._rooms.get(room_id)

    async def rooms_of(self, member: str) -> list[Room]:
        return [self._rooms[r] for r in sorted(self._member_rooms.get(member, ())) if r in self._rooms]

    async def close_room(self, room_id: str) -> Room | None:
        room = self._rooms.pop(room_id, None)
        if room is not None:
            for m in room.members:
                ids = self._member_rooms.get(m)
                if ids is not None:
                    ids.discard(room_id)
                    if not ids:
                        del self._member_rooms[m]
        return room

    async def expire(self, now: float) -> list[ExpiredRoom]:
        """Close and return every room with a grace deadline at or before `now` (idempotent)."""
        due = [r for r in self._rooms.values() if r.dropped and min(r.dropped.values()) <= now]
        out = []
        for room in due:
            await self.close_room(room.id)
            out.append(ExpiredRoom(room, sorted(room.dropped, key=room.dropped.__getitem__)))
        return out
