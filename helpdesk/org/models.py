"""The org tree (province → city → county/district → township/street → village/community),
departments and service items (事项)."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, Enum, ForeignKey, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from helpdesk.db import Base


class UnitLevel(enum.StrEnum):
    province = "province"
    city = "city"
    county = "county"
    township = "township"
    village = "village"


# Weekday keys mon..sun → list of [start, end] local times "HH:MM". Beijing time for every unit.
DEFAULT_BUSINESS_HOURS: dict[str, list[list[str]]] = {
    day: [["09:00", "12:00"], ["13:30", "17:30"]] for day in ("mon", "tue", "wed", "thu", "fri")
} | {"sat": [], "sun": []}


class OrgUnit(Base):
    __tablename__ = "org_units"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str | None] = mapped_column(String(200))
    level: Mapped[UnitLevel] = mapped_column(Enum(UnitLevel, native_enum=False, length=16))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"), index=True)
    # Materialized path "/1/4/9/": subtree queries are a LIKE on an index, in any database.
    path: Mapped[str] = mapped_column(String(512), index=True, default="")
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    business_hours: Mapped[dict[str, Any]] = mapped_column(JSON, default=lambda: dict(DEFAULT_BUSINESS_HOURS))
    # Seconds an applicant waits here before the parent's desk may take over (null: the setting).
    fallback_after_s: Mapped[int | None] = mapped_column(Integer)
    # A disabled unit takes no new applicants and is hidden from the pages; rows stay for history.
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime | None]


class Holiday(Base):
    """A closed day for a unit and its subtree (unit_id null: everywhere); is_workday marks a
    make-up working day (调休) that opens a weekend."""

    __tablename__ = "holidays"
    __table_args__ = (UniqueConstraint("unit_id", "day", name="uq_holidays_unit_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"), index=True)
    day: Mapped[date] = mapped_column(Date)
    name: Mapped[str] = mapped_column(String(100))
    is_workday: Mapped[bool] = mapped_column(Boolean, default=False)


class Department(Base):
    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str | None] = mapped_column(String(200))


class ServiceItem(Base):
    __tablename__ = "service_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str | None] = mapped_column(String(200))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    video_help: Mapped[bool] = mapped_column(Boolean, default=True)
    remote_inspection: Mapped[bool] = mapped_column(Boolean, default=False)
    time_limit_days: Mapped[int | None] = mapped_column(Integer)
    # The inspection checklist (its item's code by default) and the published KB guide (a slug/URL).
    checklist_ref: Mapped[str | None] = mapped_column(String(200))
    guide_ref: Mapped[str | None] = mapped_column(String(500))
    # An item the catalogue keeps for history but marks as no longer current.
    outdated: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class ServiceItemUnit(Base):
    """Which units handle an item (a township may not: its applicants fall back upwards)."""

    __tablename__ = "service_item_units"

    item_id: Mapped[int] = mapped_column(ForeignKey("service_items.id", ondelete="CASCADE"), primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id", ondelete="CASCADE"), primary_key=True)
