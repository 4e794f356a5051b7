"""Request bodies of the applicant's journey."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from helpdesk.workorders.models import Outcome

PHONE = r"^[0-9+\-() ]{3,32}$"


class HelpRequestIn(BaseModel):
    item: str = Field(min_length=1, max_length=64)
    channel: Literal["video", "audio"] = "video"
    unit: str | None = Field(None, max_length=64, description="Code of the applicant's service centre.")
    name: str | None = Field(None, max_length=100)
    phone: str | None = Field(None, max_length=32, pattern=PHONE)
    package: str | None = Field(None, max_length=64, description="一件事一次办 package code (item: its lead item).")


class CallbackIn(BaseModel):
    item: str = Field(min_length=1, max_length=64)
    phone: str = Field(max_length=32, pattern=PHONE)
    unit: str | None = Field(None, max_length=64)
    preferred_time: str | None = Field(None, max_length=64)
    note: str | None = Field(None, max_length=1000)
    code: str | None = Field(None, max_length=8, description="Phone verification code (without a hand-off token).")


class PhoneCodeIn(BaseModel):
    phone: str = Field(max_length=32, pattern=PHONE)


class RatingIn(BaseModel):
    rating: int = Field(ge=1, le=5)
    comment: str | None = Field(None, max_length=1000)


class WrapUpIn(BaseModel):
    outcome: Outcome
    notes: str = Field("", max_length=10000)
