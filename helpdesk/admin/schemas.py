"""Request shapes of the admin API (answers are plain dicts from the services' view functions)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UnitIn(Body):
    code: str = Field(max_length=64)
    name: str = Field(max_length=200)
    name_en: str | None = Field(default=None, max_length=200)
    level: str
    parent_id: int | None = None
    business_hours: dict[str, list[list[str]]] | None = None
    fallback_after_s: int | None = None


class UnitPatch(Body):
    name: str | None = Field(default=None, max_length=200)
    name_en: str | None = Field(default=None, max_length=200)
    business_hours: dict[str, list[list[str]]] | None = None
    fallback_after_s: int | None = None


class UnitMove(Body):
    parent_id: int


class DepartmentIn(Body):
    code: str = Field(max_length=64)
    name: str = Field(max_length=200)
    name_en: str | None = Field(default=None, max_length=200)


class ItemIn(Body):
    code: str = Field(max_length=64)
    name: str | None = Field(default=None, max_length=200)
    name_en: str | None = Field(default=None, max_length=200)
    department: str | None = None
    units: list[str] | None = None
    description: str | None = Field(default=None, max_length=5000)
    video_help: bool | None = None
    remote_inspection: bool | None = None
    outdated: bool | None = None
    time_limit_days: int | None = Field(default=None, ge=0, le=3650)
    checklist_ref: str | None = Field(default=None, max_length=200)
    guide_ref: str | None = Field(default=None, max_length=500)


class StaffIn(Body):
    username: str = Field(max_length=64)
    display_name: str | None = Field(default=None, max_length=100)
    role: str = "agent"
    unit: str
    skills: list[str] = Field(default_factory=list)
    capacity: int = Field(default=1, ge=1, le=20)
    kb_editor: bool = False
    unit_admin: bool = False


class StaffPatch(Body):
    display_name: str | None = Field(default=None, max_length=100)
    role: str | None = None
    unit: str | None = None
    skills: list[str] | None = None
    capacity: int | None = Field(default=None, ge=1, le=20)
    kb_editor: bool | None = None
    unit_admin: bool | None = None
    is_active: bool | None = None


class ClosureIn(Body):
    unit_id: int | None = None  # None: a bureau-wide day (admins only)
    day: date
    name: str = Field(max_length=100)
    is_workday: bool = False


class TokenIn(Body):
    name: str = Field(max_length=100)
    scopes: list[str]
    unit_id: int | None = None
    expires_at: datetime | None = None


def present(body: BaseModel) -> dict[str, Any]:
    """Only the fields the caller sent (a PATCH changes only those)."""
    return body.model_dump(exclude_unset=True)
