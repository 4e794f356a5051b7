"""Messages of the guidance tools (#19, docs/guidance.md): marks on the shared view, members joining and
leaving a call of three or four, a supervisor's monitoring. Part of protocol.py's API."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from helpdesk_signaling.base import Id, Member, Msg, Out

MAX_MARK_POINTS = 200
Coord = Annotated[float, Field(ge=0, le=1)]


class Mark(Msg):
    """A pointer, arrow, circle or freehand line in coordinates normalised to the video frame (0..1 of
    the picture itself), or `clear`, on `owner`'s `target`. `by` is set by the server from the sender's
    role."""

    kind: Literal["pointer", "arrow", "circle", "free", "clear"]
    id: str = Field("", max_length=64)
    target: Literal["screen", "camera"] = "screen"
    owner: Member | None = None  # whose camera or screen is marked (a member id)
    points: list[tuple[Coord, Coord]] = Field(default_factory=list, max_length=MAX_MARK_POINTS)
    pinned: bool = False
    by: Literal["agent", "applicant"] | None = None

    @model_validator(mode="after")
    def _points_fit_kind(self) -> Mark:
        least = {"clear": 0, "pointer": 1, "free": 1, "arrow": 2, "circle": 2}[self.kind]
        if len(self.points) < least or (self.kind == "clear" and self.points):
            raise ValueError(f"a {self.kind} mark takes {'no' if not least else f'at least {least}'} points")
        return self


class Annotate(Msg):
    """A mark on the shared view, relayed to the other members of the room (to `to` alone if given)."""

    type: Literal["annotate"] = "annotate"
    room: Id
    mark: Mark
    to: Member | None = None


class AnnotateRelay(Out):
    type: Literal["annotate"] = "annotate"
    room: str
    from_: str = Field(alias="from")
    mark: Mark


class RoomMember(Out):
    """A member joined (a consult, a conference transfer, a supervisor) or left a call: the others add
    or drop the peer connection with them. `polite` is the receiver's side of that pair."""

    type: Literal["room.member"] = "room.member"
    room: str
    member: str
    event: Literal["joined", "left"]
    name: str | None = None
    role: str | None = None
    polite: bool = False


class MonitorState(Out):
    """A supervisor watches a call receive-only (`monitor_room` pairs the agent with them) or stopped.
    The agent always hears it; the applicant only when the setting says so (without the room)."""

    type: Literal["monitor"] = "monitor"
    room: str
    event: Literal["started", "stopped", "joined"]
    supervisor: dict[str, Any]
    monitor_room: str | None = None
    polite: bool | None = None
    ice_servers: list[dict[str, Any]] | None = None
