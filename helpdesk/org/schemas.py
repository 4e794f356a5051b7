"""Response shapes of the org tree and the service item catalogue."""

from __future__ import annotations

from pydantic import BaseModel, Field


class UnitRef(BaseModel):
    id: int
    code: str
    name: str
    name_en: str | None = None
    level: str


class UnitNode(UnitRef):
    children: list[UnitNode] = Field(default_factory=list)


class DepartmentRef(BaseModel):
    id: int
    code: str
    name: str
    name_en: str | None = None


class ItemSummary(BaseModel):
    id: int
    code: str
    name: str
    name_en: str | None = None
    department: DepartmentRef
    video_help: bool
    remote_inspection: bool


class ItemDetail(ItemSummary):
    description: str
    time_limit_days: int | None = None
    unit_ids: list[int]
