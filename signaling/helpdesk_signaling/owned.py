"""Server messages whose payload another component owns (remote inspection, accountability,
supervision): the fields they document are typed, anything they add later passes through."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from helpdesk_signaling.base import IceCandidate, Out, SessionDescription


class Owned(Out):
    model_config = ConfigDict(populate_by_name=True, extra="allow")


class InspectionMsg(Owned):
    room: str
    inspection: str


class InspectionRequested(InspectionMsg):
    type: Literal["inspection.requested"] = "inspection.requested"
    work_order: str | None = None
    item: str | None = None
    points: int | None = None
    follow_up: bool = False
    notice: str | None = None


class InspectionStarted(InspectionMsg):
    type: Literal["inspection.started"] = "inspection.started"
    checklist: dict[str, Any] | None = None
    points: list[dict[str, Any]] = Field(default_factory=list)
    index: int = 0
    point: dict[str, Any] | None = None
    follow_up_of: str | None = None
    camera: str = "environment"


class InspectionPoint(InspectionMsg):
    type: Literal["inspection.point"] = "inspection.point"
    index: int
    total: int | None = None
    point: dict[str, Any] | None = None
    marks: dict[str, Any] = Field(default_factory=dict)


class InspectionSnapshot(InspectionMsg):
    type: Literal["inspection.snapshot"] = "inspection.snapshot"
    id: int | str
    point: str
    taken_at: str | None = None
    sha256: str | None = None
    width: int | None = None
    height: int | None = None
    url: str | None = None


class InspectionSignalRelay(InspectionMsg):
    """The server peer's answer (its candidates are in the SDP), then `candidate: null`."""

    type: Literal["inspection.signal"] = "inspection.signal"
    from_: str = Field("inspection", alias="from")
    description: SessionDescription | None = None
    candidate: IceCandidate | None = None


class InspectionEnded(InspectionMsg):
    type: Literal["inspection.ended"] = "inspection.ended"
    status: str  # ended | refused | cancelled
    outcome: str | None = None  # pass | rectify | fail
    rectify_points: list[str] | None = None
    rectify_deadline: str | None = None
    reason: str | None = None


class Notification(Owned):
    """A staff notification (accountability), pushed to the staff member's socket as it is stored."""

    type: Literal["notification"] = "notification"
    id: int | str
    kind: str
    title: str
    body: Any = None
    work_order: str | None = None
    at: str | None = None


class SupervisorSnapshot(Owned):
    """The supervisors' live wall (helpdesk/journey/supervision.py), every few seconds, org-scoped."""

    type: Literal["supervisor.snapshot"] = "supervisor.snapshot"
    at: str
    queues: list[dict[str, Any]] = Field(default_factory=list)
    agents: list[dict[str, Any]] = Field(default_factory=list)
    calls: list[dict[str, Any]] = Field(default_factory=list)
    unresolved: list[dict[str, Any]] = Field(default_factory=list)
    totals: dict[str, Any] = Field(default_factory=dict)
