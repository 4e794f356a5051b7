"""Request and response shapes of the applicant session (POST /api/help/session)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class SessionIn(BaseModel):
    token: str | None = Field(None, max_length=8192, description="A hand-off JWT from another system.")
    name: str | None = Field(None, max_length=100)
    phone: str | None = Field(None, max_length=32, pattern=r"^[0-9+\-() ]{3,32}$")
    item: str | None = Field(None, max_length=64, description="Service item code.")


class ApplicantOut(BaseModel):
    id: str
    name: str | None
    phone: str | None


class ItemRef(BaseModel):
    code: str
    name: str


class HandoffOut(BaseModel):
    issuer: str
    ctx: dict[str, Any]
    priority: int


class SessionOut(BaseModel):
    applicant: ApplicantOut
    item: ItemRef | None
    handoff: HandoffOut | None
    needs_phone_code: bool = False  # a call-back must be confirmed with a code sent to the phone
