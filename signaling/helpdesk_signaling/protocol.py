"""The typed WebSocket protocol of docs/journey-contract.md: client and server messages."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, TypeAdapter, ValidationError, model_validator

from helpdesk_signaling.base import MAX_SDP, IceCandidate, Id, Member, Msg, Out, Role, SessionDescription
from helpdesk_signaling.errors import ProtocolError
from helpdesk_signaling.guidance import MAX_MARK_POINTS, Annotate, AnnotateRelay, Mark, MonitorState, RoomMember
from helpdesk_signaling.owned import (
    InspectionEnded,
    InspectionPoint,
    InspectionRequested,
    InspectionSignalRelay,
    InspectionSnapshot,
    InspectionStarted,
    Notification,
    SupervisorSnapshot,
)

__all__ = [  # the shared shapes, the guidance and the owned messages are part of this module's API too
    "MAX_MARK_POINTS", "MAX_SDP", "Annotate", "AnnotateRelay", "IceCandidate", "Id", "InspectionEnded",
    "InspectionPoint", "InspectionRequested", "InspectionSignalRelay", "InspectionSnapshot", "InspectionStarted",
    "Mark", "Member", "MonitorState", "Msg", "Notification", "Out", "Role", "RoomMember", "SessionDescription",
    "SupervisorSnapshot",
]

# ---- client -> server ------------------------------------------------------------------------


class Ping(Msg):
    type: Literal["ping"] = "ping"


class _SignalBody(Msg):
    """An SDP description or one trickled candidate (`candidate: null`: end of candidates), never both."""

    room: Id
    description: SessionDescription | None = None
    candidate: IceCandidate | None = None

    @model_validator(mode="after")
    def _one_payload(self) -> _SignalBody:
        has_desc, has_cand = self.description is not None, "candidate" in self.model_fields_set
        if has_desc == has_cand:
            raise ValueError("exactly one of description or candidate is required")
        return self


class Signal(_SignalBody):
    """An offer/answer/rollback or one trickled candidate, relayed to the other member of the room (or,
    in a room of three or four, to the member named in `to`: one peer connection per pair)."""

    type: Literal["signal"] = "signal"
    to: Member | None = None


class Chat(Msg):
    type: Literal["chat"] = "chat"
    room: Id
    text: str = Field(min_length=1, max_length=2000)


class Hangup(Msg):
    type: Literal["hangup"] = "hangup"
    room: Id


class AgentStateSet(Msg):
    type: Literal["agent.state"] = "agent.state"
    state: Literal["ready", "away"]


class OfferAccept(Msg):
    type: Literal["offer.accept"] = "offer.accept"
    ticket: Id


class OfferDecline(Msg):
    type: Literal["offer.decline"] = "offer.decline"
    ticket: Id


class QueueLeave(Msg):
    type: Literal["queue.leave"] = "queue.leave"
    ticket: Id


class MediaState(Msg):
    """What the sender sends; `screen_stream` is the MediaStream id of its screen share (msid)."""

    type: Literal["media.state"] = "media.state"
    room: Id
    audio: bool
    video: bool
    screen: bool
    screen_stream: str | None = Field(None, max_length=128)
    to: Member | None = None


class InspectionSignal(_SignalBody):
    """The applicant's camera for a remote inspection: a second, send-only connection whose other end is
    the server (docs/inspection.md). Same shape and bounds as `signal`, plus the inspection id. Not
    relayed: the endpoint hands it to the app, which passes `payload()` to the inspection component."""

    type: Literal["inspection.signal"] = "inspection.signal"
    inspection: Id

    def payload(self) -> dict[str, Any]:
        """The plain dict the inspection component takes (`candidate: null` kept when it was sent)."""
        data = self.model_dump(mode="json", exclude_unset=True)
        return {"type": self.type, **data}


ClientMessage = Annotated[
    Ping | Signal | Chat | Hangup | AgentStateSet | OfferAccept | OfferDecline | QueueLeave | MediaState
    | InspectionSignal | Annotate,
    Field(discriminator="type"),
]
CLIENT_MODELS: dict[str, type[Msg]] = {
    m.model_fields["type"].default: m
    for m in (Ping, Signal, Chat, Hangup, AgentStateSet, OfferAccept, OfferDecline, QueueLeave, MediaState,
              InspectionSignal, Annotate)
}
STAFF_ROLES = frozenset({"agent", "supervisor", "admin"})
# Which roles may send a type; absent means every role.
ALLOWED_ROLES: dict[str, frozenset[str]] = {
    "agent.state": STAFF_ROLES, "offer.accept": STAFF_ROLES, "offer.decline": STAFF_ROLES,
    "queue.leave": frozenset({"applicant"}), "inspection.signal": frozenset({"applicant"}),
}
client_adapter: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)


def parse_client_message(raw: str | bytes, max_bytes: int) -> ClientMessage:
    """Size check, JSON, type lookup, validation; every failure is a ProtocolError with a code."""
    size = len(raw.encode() if isinstance(raw, str) else raw)
    if size > max_bytes:
        raise ProtocolError("too_large", f"message is {size} bytes, the limit is {max_bytes}")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError("bad_json", f"not JSON: {str(exc)[:120]}") from None
    if not isinstance(data, dict):
        raise ProtocolError("invalid_message", "a message is one JSON object")
    kind = data.get("type")
    if not isinstance(kind, str):
        raise ProtocolError("invalid_message", "`type` (a string) is required")
    model = CLIENT_MODELS.get(kind)
    if model is None:
        raise ProtocolError("unknown_type", f"unknown message type {kind[:40]!r}", ref=kind[:64])
    try:
        return model.model_validate(data)  # type: ignore[return-value]
    except ValidationError as exc:
        raise ProtocolError("invalid_message", describe(exc), ref=kind) from None


def describe(exc: ValidationError) -> str:
    """A short, input-free summary of what was wrong (never echoes a 32 KiB SDP back)."""
    parts = []
    for err in exc.errors(include_input=False, include_url=False)[:3]:
        loc = ".".join(str(p) for p in err["loc"]) or "message"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


# ---- server -> client ------------------------------------------------------------------------


class RoomJoined(Out):
    type: Literal["room.joined"] = "room.joined"
    room: str
    work_order: str | None = None
    role: Literal["applicant", "agent"]
    polite: bool
    peer: dict[str, Any]
    ice_servers: list[dict[str, Any]] = Field(default_factory=list)
    resumed: bool = False
    peers: list[dict[str, Any]] | None = None  # a room of three or four: the other members besides `peer`


class Welcome(Out):
    type: Literal["welcome"] = "welcome"
    member: str
    role: Role
    heartbeat_s: float
    ticket: dict[str, Any] | str | None = None
    room: RoomJoined | None = None
    agent: AgentState | None = None  # a (re)connecting agent's presence as the queue has it


class Pong(Out):
    type: Literal["pong"] = "pong"


class Error(Out):
    type: Literal["error"] = "error"
    code: str
    message: str
    ref: str | None = None


class QueueStatus(Out):
    type: Literal["queue.status"] = "queue.status"
    ticket: str
    work_order: str | None = None
    state: Literal["waiting", "offered", "connected", "left", "abandoned"]
    position: int | None = None
    expected_wait_s: float | None = None
    expected_wait_low_s: int | None = None  # with expected_wait_s: the range ~80 % of applicants wait
    expected_wait_high_s: int | None = None
    agents_ready: int | None = None
    fallback_level: int = 0


class AgentState(Out):
    type: Literal["agent.state"] = "agent.state"
    state: Literal["offline", "ready", "offered", "busy", "wrap_up", "away"]
    active_calls: int = 0
    capacity: int = 1
    missed_offers: int = 0


class Offer(Out):
    type: Literal["offer"] = "offer"
    ticket: str
    work_order: str | None = None
    expires_at: float
    timeout_s: float
    context: dict[str, Any]


class OfferRevoked(Out):
    type: Literal["offer.revoked"] = "offer.revoked"
    ticket: str
    reason: Literal["timeout", "declined", "left", "taken"]


class SignalRelay(Out):
    type: Literal["signal"] = "signal"
    room: str
    from_: str = Field(alias="from")
    description: SessionDescription | None = None
    candidate: IceCandidate | None = None


class PeerDropped(Out):
    type: Literal["peer.dropped"] = "peer.dropped"
    room: str
    grace_s: float
    member: str | None = None  # who dropped (set in rooms of three or four)


class PeerResumed(Out):
    type: Literal["peer.resumed"] = "peer.resumed"
    room: str
    member: str | None = None


class MediaStateRelay(Out):
    type: Literal["media.state"] = "media.state"
    room: str
    from_: str = Field(alias="from")
    audio: bool
    video: bool
    screen: bool
    screen_stream: str | None = None


class ChatPosted(Out):
    type: Literal["chat"] = "chat"
    room: str
    id: str
    from_: str = Field(alias="from")
    sender_name: str
    text: str
    at: str


class FileShared(Out):
    type: Literal["file"] = "file"
    room: str
    file: dict[str, Any]
    from_: str = Field(alias="from")


class CallEnded(Out):
    type: Literal["call.ended"] = "call.ended"
    room: str
    work_order: str | None = None
    reason: str
    by: str | None = None


class Reconnect(Out):
    """The server is going away (graceful shutdown): reconnect now; the close (1012) follows."""

    type: Literal["reconnect"] = "reconnect"
    reason: str = "shutdown"


Welcome.model_rebuild()

_SERVER_MODELS = (
    Welcome, Pong, Error, QueueStatus, AgentState, Offer, OfferRevoked, RoomJoined, SignalRelay, PeerDropped,
    PeerResumed, MediaStateRelay, ChatPosted, FileShared, CallEnded, Reconnect, AnnotateRelay, RoomMember,
    MonitorState, InspectionRequested,
    InspectionStarted, InspectionPoint, InspectionSnapshot, InspectionSignalRelay, InspectionEnded,
    Notification, SupervisorSnapshot,
)
ServerMessage = Annotated[
    Welcome | Pong | Error | QueueStatus | AgentState | Offer | OfferRevoked | RoomJoined | SignalRelay
    | PeerDropped | PeerResumed | MediaStateRelay | ChatPosted | FileShared | CallEnded | Reconnect
    | AnnotateRelay | RoomMember | MonitorState | InspectionRequested | InspectionStarted | InspectionPoint
    | InspectionSnapshot | InspectionSignalRelay
    | InspectionEnded | Notification | SupervisorSnapshot,
    Field(discriminator="type"),
]
server_adapter: TypeAdapter[ServerMessage] = TypeAdapter(ServerMessage)
SERVER_TYPES = frozenset(m.model_fields["type"].default for m in _SERVER_MODELS)


def dump(msg: BaseModel | dict[str, Any]) -> str:
    """Serialise a server message as the wire expects: aliases (`from`), no null optionals.

    A relayed `signal` keeps `candidate: null` (end of candidates); an `error` always has `ref`.
    """
    if isinstance(msg, dict):
        return json.dumps(msg, ensure_ascii=False, separators=(",", ":"))
    data = msg.model_dump(mode="json", by_alias=True, exclude_none=True)
    if isinstance(msg, SignalRelay | InspectionSignalRelay) and msg.description is None:
        data["candidate"] = data.get("candidate")
    elif isinstance(msg, Error):
        data["ref"] = msg.ref
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def relay_of(msg: Signal | MediaState | Annotate, sender: str,
             role: str = "agent") -> SignalRelay | MediaStateRelay | AnnotateRelay:
    """The server message the peer receives for a client's signal, media.state or annotate."""
    if isinstance(msg, Annotate):
        mark = msg.mark.model_copy(update={"by": "applicant" if role == "applicant" else "agent"})
        return AnnotateRelay(room=msg.room, from_=sender, mark=mark)
    if isinstance(msg, Signal):
        return SignalRelay(room=msg.room, from_=sender, description=msg.description, candidate=msg.candidate)
    return MediaStateRelay(room=msg.room, from_=sender, audio=msg.audio, video=msg.video, screen=msg.screen,
                           screen_stream=msg.screen_stream)


def error(code: str, message: str, ref: str | None = None) -> Error:
    return Error(code=code, message=message, ref=ref)


def signal_envelope(raw: str, max_bytes: int) -> tuple[str, str | None] | None:
    """(room, to) of a well-formed `signal` read from its envelope alone, or None (then the message takes
    the validating path). Only the envelope is checked: type, a string room id, an optional string `to`
    (a room of three or four), exactly one of description/candidate, nothing else, and the size; the
    payload is relayed as the sender wrote it (it only ever reaches the sender's own peer, and the size
    bound holds)."""
    if len(raw) > max_bytes or (not raw.isascii() and len(raw.encode()) > max_bytes):
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if type(data) is not dict or data.get("type") != "signal":
        return None
    to = data.get("to")
    if len(data) != (3 if to is None else 4) or (to is not None and (type(to) is not str or not 0 < len(to) <= 80)):
        return None
    room = data.get("room")
    if type(room) is not str or not 0 < len(room) <= 64 or ("description" in data) == ("candidate" in data):
        return None
    return room, to
