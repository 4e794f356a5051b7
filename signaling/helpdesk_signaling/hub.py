"""Who is connected where, which members (two, up to four) share a room, and who dropped until when."""

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


MAX_MEMBERS = 4  # a full mesh in the browser: each page holds one peer connection per other member


@dataclass
class Room:
    id: str
    members: tuple[str, ...]  # two when the call opens; a consult, conference or supervisor adds up to four
    metadata: dict[str, Any] = field(default_factory=dict)
    dropped: dict[str, float] = field(default_factory=dict)  # member -> grace deadline (epoch s)

    def peer_of(self, member: str) -> str:
        """The other member of a two-member room (the first other one in a larger room)."""
        return self.others(member)[0]

    def others(self, member: str) -> list[str]:
        if member not in self.members:
            raise SignalingError("not_in_room", f"you are not a member of room {self.id}")
        return [m for m in self.members if m != member]

    def recipients(self, member: str, to: str | None) -> list[str]:
        """Who a relayed message from `member` goes to: `to` alone, or every other member."""
        others = self.others(member)
        if to is None:
            return others
        if to not in others:
            raise SignalingError("not_in_room", f"{to[:80]} is not another member of room {self.id}")
        return [to]


def check_members(members: tuple[str, ...]) -> None:
    if not 2 <= len(members) <= MAX_MEMBERS or len(set(members)) != len(members):
        raise SignalingError("conflict", f"a room needs two to {MAX_MEMBERS} different members")


@dataclass
class ExpiredRoom:
    """A room whose grace ran out; the hub has closed it, the app ends the call."""

    room: Room
    dropped: list[str]  # who was gone at the deadline (earliest deadline first)


# Told of every peer.dropped / peer.resumed a hub sends, by whichever process notices (the app records
# them on the work order): (room, the member who dropped or came back, "dropped" | "resumed").
PeerListener = Callable[[Room, str, Literal["dropped", "resumed"]], Awaitable[None]]


async def tell_peer(hub: Any, room: Room, member: str, kind: Literal["dropped", "resumed"], grace_s: float) -> None:
    """Send peer.dropped/peer.resumed to the other members (naming who, in a room of more than two),
    then the hub's listener (which must not stop the hub: its failure is logged)."""
    who = member if len(room.members) > 2 else None
    msg = (PeerDropped(room=room.id, grace_s=grace_s, member=who) if kind == "dropped"
           else PeerResumed(room=room.id, member=who))
    for other in room.others(member):
        await hub.send(other, msg)
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
    async def relay(self, room_id: str, from_member: str, message: BaseModel | str,
                    to: str | None = None) -> bool: ...
    async def open_room(self, room_id: str, members: tuple[str, ...],
                        metadata: dict[str, Any] | None = None) -> Room: ...
    async def add_member(self, room_id: str, member: str) -> Room: ...
    async def remove_member(self, room_id: str, member: str) -> Room: ...
    async def get_room(self, room_id: str) -> Room | None: ...
    async def rooms_of(self, member: str) -> list[Room]: ...
    async def close_room(self, room_id: str) -> Room | None: ...
    async def expire(self, now: float) -> list[ExpiredRoom]: ...
    def local_connection(self, member: str) -> Connection | None: ...


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

    def local_connection(self, member: str) -> Connection | None:
        """This process's socket of `member`, for messages computed here for local sockets only."""
        return self._conns.get(member)

    async def online(self, members: list[str]) -> set[str]:
        """Which of `members` are online (is_online for many at once)."""
        return {m for m in members if m in self._conns}

    async def send(self, member: str, message: BaseModel | dict[str, Any]) -> bool:
        conn = self._conns.get(member)
        return conn is not None and conn.deliver(dump(message))

    async def send_many(self, items: list[tuple[str, BaseModel | dict[str, Any]]]) -> int:
        """send() for many (member, message) pairs, in order; returns how many were delivered."""
        return sum([await self.send(member, message) for member, message in items])

    async def relay(self, room_id: str, from_member: str, message: BaseModel | str,
                    to: str | None = None) -> bool:
        """To the other members of the room (to `to` alone if given); a str is the wire text already
        (the signal fast path). True if any received it."""
        room = self._rooms.get(room_id)
        if room is None or from_member not in room.members:
            raise SignalingError("not_in_room", f"you are not a member of room {room_id}")
        text = message if isinstance(message, str) else dump(message)
        sent = False
        for m in room.recipients(from_member, to):
            conn = self._conns.get(m)
            sent = (conn is not None and conn.deliver(text)) or sent
        return sent

    async def open_room(self, room_id: str, members: tuple[str, ...],
                        metadata: dict[str, Any] | None = None) -> Room:
        check_members(members)
        if room_id in self._rooms:
            raise SignalingError("conflict", f"room {room_id} already exists")
        room = Room(room_id, members, dict(metadata or {}))
        self._rooms[room_id] = room
        for m in members:
            self._member_rooms.setdefault(m, set()).add(room_id)
        return room

    async def add_member(self, room_id: str, member: str) -> Room:
        """A third or fourth member joins (idempotent); `conflict` when the room is full."""
        room = self._rooms.get(room_id)
        if room is None:
            raise SignalingError("not_found", f"room {room_id} does not exist (any more)")
        if member not in room.members:
            check_members((*room.members, member))
            room.members = (*room.members, member)
            self._member_rooms.setdefault(member, set()).add(room_id)
        return room

    async def remove_member(self, room_id: str, member: str) -> Room:
        """A member leaves a call that goes on; the last two end it with close_room instead."""
        room = self._rooms.get(room_id)
        if room is None or member not in room.members:
            raise SignalingError("not_in_room", f"{member[:80]} is not a member of room {room_id}")
        if len(room.members) <= 2:
            raise SignalingError("conflict", "a call of two ends instead (hang up)")
        room.members = tuple(m for m in room.members if m != member)
        room.dropped.pop(member, None)
        ids = self._member_rooms.get(member)
        if ids is not None:
            ids.discard(room_id)
            if not ids:
                del self._member_rooms[member]
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
