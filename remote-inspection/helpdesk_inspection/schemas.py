"""Request and response bodies of the inspection routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from helpdesk_inspection.models import InspectionOutcome, MarkResult


class PointIn(BaseModel):
    key: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    title: str = Field(min_length=1, max_length=200)
    guidance: str = Field("", max_length=2000)
    compliance: str = Field("", max_length=2000)


class ChecklistIn(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    points: list[PointIn] = Field(min_length=1, max_length=100)
    change_note: str = Field("", max_length=1000)


class StartIn(BaseModel):
    work_order: str = Field(min_length=1, max_length=32)
    room: str | None = Field(None, max_length=64)
    follow_up_of: str | None = Field(None, max_length=32)


class LocationIn(BaseModel):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    accuracy_m: float | None = Field(None, ge=0)


class ConsentIn(BaseModel):
    accept: bool
    location: LocationIn | None = None


class StepIn(BaseModel):
    index: int = Field(ge=0)


class MarkIn(BaseModel):
    result: MarkResult
    note: str = Field("", max_length=2000)


class EndIn(BaseModel):
    outcome: InspectionOutcome
    note: str = Field("", max_length=2000)
    rectify_deadline: datetime | None = None


class SignalIn(BaseModel):
    """The body of a client's `inspection.signal` (same shape as `signal`, plus the inspection id)."""

    inspection: str
    room: str | None = None
    description: dict[str, str] | None = None
    candidate: dict[str, object] | None = None


MAX_SNAPSHOT_MARKS = 50
Coord = Annotated[float, Field(ge=0, le=1)]


class AnnotationIn(BaseModel):
    """A mark the agent or applicant drew on the camera view, normalised to the video frame (the call's
    annotate.js shape); stored beside the evidence image, never drawn into it."""

    model_config = ConfigDict(extra="ignore")

    kind: Literal["pointer", "arrow", "circle", "free"]
    points: list[tuple[Coord, Coord]] = Field(min_length=1, max_length=200)
    pinned: bool = False
    by: Literal["agent", "applicant"] = "agent"


class SnapshotIn(BaseModel):
    """Optional body of a snapshot: the marks shown over the camera when it was taken."""

    marks: list[AnnotationIn] = Field(default_factory=list, max_length=MAX_SNAPSHOT_MARKS)
