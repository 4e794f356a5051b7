"""Knowledge-base tables (all prefixed kb_): articles, versions, links, attachments, feedback,
canned replies, editor departments, sends into calls and the search log."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Enum,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from helpdesk.db import Base, new_id

_BIGINT = BigInteger().with_variant(Integer, "sqlite")


class ArticleStatus(enum.StrEnum):
    draft = "draft"
    in_review = "in_review"
    published = "published"
    archived = "archived"


class FeedbackKind(enum.StrEnum):
    helpful = "helpful"
    outdated = "outdated"


class AttachmentKind(enum.StrEnum):
    blank_form = "blank_form"  # 空白表格
    sample = "sample"  # 填写样例
    image = "image"
    other = "other"


class KbArticle(Base):
    """The working copy of an article; `published_version` points at what agents and applicants see."""

    __tablename__ = "kb_articles"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    slug: Mapped[str | None] = mapped_column(String(120), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[ArticleStatus] = mapped_column(
        Enum(ArticleStatus, native_enum=False, length=16), index=True, default=ArticleStatus.draft
    )
    # Org scope: null means every unit; otherwise the unit and its subtree.
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"), index=True)
    is_guide: Mapped[bool] = mapped_column(Boolean, default=False)  # the applicant-facing guide of its items
    version: Mapped[int] = mapped_column(Integer, default=0)
    published_version: Mapped[int | None] = mapped_column(Integer)
    review_by: Mapped[date | None] = mapped_column(Date, index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    review_comment: Mapped[str | None] = mapped_column(Text)
    source_work_order_id: Mapped[str | None] = mapped_column(ForeignKey("work_orders.id"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime] = mapped_column(index=True)
    published_at: Mapped[datetime | None]


class KbArticleVersion(Base):
    """Every saved version, never changed afterwards."""

    __tablename__ = "kb_article_versions"
    __table_args__ = (UniqueConstraint("article_id", "version", name="uq_kb_article_versions_article_version"),)

    id: Mapped[int] = mapped_column(_BIGINT, primary_key=True)
    article_id: Mapped[str] = mapped_column(ForeignKey("kb_articles.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    item_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    department_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime]


class KbArticleItem(Base):
    __tablename__ = "kb_article_items"

    article_id: Mapped[str] = mapped_column(ForeignKey("kb_articles.id", ondelete="CASCADE"), primary_key=True)
    item_id: Mapped[int] = mapped_column(
        ForeignKey("service_items.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class KbArticleDepartment(Base):
    """The departments that own an article: their KB editors may review and publish it."""

    __tablename__ = "kb_article_departments"

    article_id: Mapped[str] = mapped_column(ForeignKey("kb_articles.id", ondelete="CASCADE"), primary_key=True)
    department_id: Mapped[int] = mapped_column(
        ForeignKey("departments.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class KbEditorDepartment(Base):
    """A staff member with kb_editor=True edits and publishes the articles of these departments."""

    __tablename__ = "kb_editor_departments"

    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="CASCADE"), primary_key=True)


class KbAttachment(Base):
    __tablename__ = "kb_attachments"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    article_id: Mapped[str] = mapped_column(ForeignKey("kb_articles.id", ondelete="CASCADE"), index=True)
    kind: Mapped[AttachmentKind] = mapped_column(Enum(AttachmentKind, native_enum=False, length=16))
    filename: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(String(200), default="")
    content_type: Mapped[str] = mapped_column(String(128))
    size: Mapped[int] = mapped_column(_BIGINT)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(255))
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime]


class KbFeedback(Base):
    """An agent's "helpful" or "outdated" mark; outdated marks stay open until the next publish."""

    __tablename__ = "kb_feedback"

    id: Mapped[int] = mapped_column(_BIGINT, primary_key=True)
    article_id: Mapped[str] = mapped_column(ForeignKey("kb_articles.id", ondelete="CASCADE"), index=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"))
    kind: Mapped[FeedbackKind] = mapped_column(Enum(FeedbackKind, native_enum=False, length=16))
    version: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(String(1000), default="")
    created_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]


class KbCannedReply(Base):
    """快捷回复 for the call chat; unit_id null: every unit."""

    __tablename__ = "kb_canned_replies"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("service_items.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    sort: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime]


class KbSend(Base):
    """An article or attachment sent into a call (the work order records it too, through the hook)."""

    __tablename__ = "kb_sends"

    id: Mapped[int] = mapped_column(_BIGINT, primary_key=True)
    work_order_id: Mapped[str] = mapped_column(ForeignKey("work_orders.id", ondelete="CASCADE"), index=True)
    article_id: Mapped[str] = mapped_column(ForeignKey("kb_articles.id", ondelete="CASCADE"), index=True)
    attachment_id: Mapped[str | None] = mapped_column(ForeignKey("kb_attachments.id", ondelete="SET NULL"))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    at: Mapped[datetime]


class KbSearchLog(Base):
    """One agent search: zero-result and never-clicked queries feed the upkeep list."""

    __tablename__ = "kb_search_log"

    id: Mapped[int] = mapped_column(_BIGINT, primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    query: Mapped[str] = mapped_column(String(200), index=True)
    filters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    results: Mapped[int] = mapped_column(Integer)
    clicked_article_id: Mapped[str | None] = mapped_column(ForeignKey("kb_articles.id", ondelete="SET NULL"))
    clicked_at: Mapped[datetime | None]
    # "Nothing found" filed for upkeep from the console (the agent pressed the button).
    reported_at: Mapped[datetime | None]
    reported_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))


class KbVocabulary(Base):
    """An editor's vocabulary entry: adds to or overrides (same term) the shipped vocabulary.txt;
    enabled=False switches a shipped entry off."""

    __tablename__ = "kb_vocabulary"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    term: Mapped[str] = mapped_column(String(50), unique=True)
    expansions: Mapped[list[str]] = mapped_column(JSON, default=list)
    kind: Mapped[str] = mapped_column(String(16), default="synonym")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    note: Mapped[str] = mapped_column(String(200), default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(index=True)
