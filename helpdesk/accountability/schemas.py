"""Request bodies of the follow-up routes."""

from __future__ import annotations

from pydantic import BaseModel, Field, model_validator


class NoteIn(BaseModel):
    text: str = Field(min_length=1, max_length=4000)


class CallBackIn(BaseModel):
    reached: bool
    note: str = Field("", max_length=4000)


class ResolveIn(BaseModel):
    note: str = Field(min_length=1, max_length=4000)


class ReassignIn(BaseModel):
    staff_id: int | None = None
    unit_id: int | None = None
    reason: str = Field(min_length=1, max_length=1000)

    @model_validator(mode="after")
    def _one_target(self) -> ReassignIn:
        if (self.staff_id is None) == (self.unit_id is None):
            raise ValueError("give exactly one of staff_id or unit_id")
        return self


class PolicyIn(BaseModel):
    item_id: int | None = None
    unit_id: int | None = None
    t1_s: int | None = Field(None, ge=0, le=90 * 86400)
    t2_s: int | None = Field(None, ge=0, le=90 * 86400)
    t3_s: int | None = Field(None, gt=0, le=90 * 86400)
    resolve_s: int | None = Field(None, gt=0, le=365 * 86400)
    note: str = Field("", max_length=1000)
