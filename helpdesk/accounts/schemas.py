"""Request and response shapes of login, the staff profile and API tokens."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)  # argon2 on megabytes would be a DoS


class PasswordChangeIn(BaseModel):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


class UnitBrief(BaseModel):
    id: int
    name: str
    level: str


class SkillOut(BaseModel):
    item_id: int | None = None
    department_id: int | None = None


class StaffProfile(BaseModel):
    id: int
    username: str
    display_name: str
    role: str
    unit: UnitBrief | None
    capacity: int
    kb_editor: bool
    language: str | None = None
    unit_admin: bool = False
    must_change_password: bool = False
    skills: list[SkillOut]


class LoginOut(BaseModel):
    staff: StaffProfile


class ApiTokenIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    scopes: list[str] = Field(min_length=1, max_length=32)
    unit_id: int | None = None
    expires_at: datetime | None = Field(None, description="Aware datetime; null: never expires.")


class ApiTokenOut(BaseModel):
    id: int
    name: str
    prefix: str
    scopes: list[str]
    unit_id: int | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    state: str


class ApiTokenCreated(ApiTokenOut):
    token: str = Field(description="The plain token: shown this once, only its SHA-256 is stored.")


class WhoAmI(BaseModel):
    name: str
    scopes: list[str]
    unit_id: int | None
    expires_at: datetime | None
