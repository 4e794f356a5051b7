"""Article rules: versions, the draft → in review → published → archived workflow, feedback.

Services flush; the caller commits and then refreshes the index (see component.Kb.reindex_articles).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_kb import repository as repo
from helpdesk_kb.errors import KbConflict, KbForbidden
from helpdesk_kb.models import ArticleStatus, FeedbackKind, KbArticle, KbArticleVersion, KbFeedback
from helpdesk_kb.perms import StaffLike, can_review, require_review
from helpdesk_kb.render import render_markdown
from helpdesk_kb.schemas import ArticleIn, ArticleOut, AttachmentOut, VersionOut

DEFAULT_REVIEW_DAYS = 180
BEIJING = ZoneInfo("Asia/Shanghai")


def attachment_url(attachment_id: str) -> str:
    return f"/api/kb/attachments/{attachment_id}"


async def _add_version(
    session: AsyncSession, article: KbArticle, author_id: int | None, note: str, now: datetime
) -> KbArticleVersion:
    items, deps = await repo.article_links(session, article.id)
    article.version += 1
    row = KbArticleVersion(
        article_id=article.id,
        version=article.version,
        title=article.title,
        body=article.body,
        tags=list(article.tags),
        item_ids=items,
        department_ids=deps,
        author_id=author_id,
        note=note,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return row


async def _departments_for(session: AsyncSession, data: ArticleIn) -> list[int]:
    return sorted(set(data.department_ids)) or await repo.departments_of_items(session, data.item_ids)


async def create_article(
    session: AsyncSession,
    *,
    staff: StaffLike | None,
    data: ArticleIn,
    now: datetime,
    slug: str | None = None,
    source_work_order_id: str | None = None,
) -> KbArticle:
    """Anyone may start a draft (an agent after a call, say); publishing is for reviewers."""
    article = KbArticle(
        slug=slug,
        title=data.title.strip(),
        body=data.body,
        tags=_clean_tags(data.tags),
        status=ArticleStatus.draft,
        unit_id=data.unit_id,
        is_guide=data.is_guide,
        version=0,
        review_by=data.review_by,
        author_id=staff.id if staff else None,
        source_work_order_id=source_work_order_id,
        created_at=now,
        updated_at=now,
    )
    session.add(article)
    await session.flush()
    await repo.set_links(session, article.id, data.item_ids, await _departments_for(session, data))
    await _add_version(session, article, article.author_id, data.note or "created", now)
    return article


async def update_article(
    session: AsyncSession, *, staff: StaffLike | None, article_id: str, data: ArticleIn, now: datetime
) -> KbArticle:
    """A new version; the published version stays live until this one is published."""
    article = await repo.get_article(session, article_id)
    new_deps = await _departments_for(session, data)
    if staff is not None:
        _, deps = await repo.article_links(session, article_id)
        own_draft = article.author_id == staff.id and article.status == ArticleStatus.draft
        if not own_draft:
            await require_review(session, staff, deps)
        if set(new_deps) - set(deps):
            await require_review(session, staff, new_deps)
    if article.status == ArticleStatus.archived:
        raise KbConflict("restore the article before editing it")
    article.title, article.body, article.tags = data.title.strip(), data.body, _clean_tags(data.tags)
    article.unit_id, article.is_guide, article.review_by = data.unit_id, data.is_guide, data.review_by
    article.status = ArticleStatus.draft
    article.updated_at = now
    await repo.set_links(session, article.id, data.item_ids, new_deps)
    await _add_version(session, article, staff.id if staff else None, data.note or "edited", now)
    return article


async def submit_for_review(session: AsyncSession, *, staff: StaffLike, article_id: str, now: datetime) -> KbArticle:
    article = await repo.get_article(session, article_id)
    if article.status != ArticleStatus.draft:
        raise KbConflict(f"only a draft can be sent for review (this one is {article.status.value})")
    _, deps = await repo.article_links(session, article_id)
    if article.author_id != staff.id and not await can_review(session, staff, deps):
        raise KbForbidden("only the author or a reviewer may send this for review")
    article.status, article.updated_at, article.review_comment = ArticleStatus.in_review, now, None
    await session.flush()
    return article


async def publish(
    session: AsyncSession, *, staff: StaffLike | None, article_id: str, now: datetime, comment: str = ""
) -> KbArticle:
    """Make the current version live; staff None is the system (import, demo)."""
    article = await repo.get_article(session, article_id)
    if article.status not in (ArticleStatus.draft, ArticleStatus.in_review):
        raise KbConflict(f"a {article.status.value} article cannot be published")
    if staff is not None:
        _, deps = await repo.article_links(session, article_id)
        await require_review(session, staff, deps)
    article.status = ArticleStatus.published
    article.published_version = article.version
    article.published_at = article.updated_at = now
    article.reviewer_id = staff.id if staff else None
    article.review_comment = comment or None
    today = local_date(now)
    if article.review_by is None or article.review_by <= today:
        article.review_by = today + timedelta(days=DEFAULT_REVIEW_DAYS)
    # A new version answers the "outdated" marks raised against the old one.
    await session.execute(
        update(KbFeedback)
        .where(
            KbFeedback.article_id == article_id,
            KbFeedback.kind == FeedbackKind.outdated,
            KbFeedback.resolved_at.is_(None),
        )
        .values(resolved_at=now)
    )
    await session.flush()
    return article


async def reject(session: AsyncSession, *, staff: StaffLike, article_id: str, now: datetime, comment: str) -> KbArticle:
    article = await repo.get_article(session, article_id)
    if article.status != ArticleStatus.in_review:
        raise KbConflict("only an article in review can be sent back")
    _, deps = await repo.article_links(session, article_id)
    await require_review(session, staff, deps)
    article.status, article.review_comment, article.reviewer_id = ArticleStatus.draft, comment, staff.id
    article.updated_at = now
    await session.flush()
    return article


async def archive(session: AsyncSession, *, staff: StaffLike, article_id: str, now: datetime) -> KbArticle:
    article = await repo.get_article(session, article_id)
    _, deps = await repo.article_links(session, article_id)
    await require_review(session, staff, deps)
    article.status, article.updated_at = ArticleStatus.archived, now
    await session.flush()
    return article


async def restore(session: AsyncSession, *, staff: StaffLike, article_id: str, now: datetime) -> KbArticle:
    article = await repo.get_article(session, article_id)
    if article.status != ArticleStatus.archived:
        raise KbConflict("only an archived article can be restored")
    _, deps = await repo.article_links(session, article_id)
    await require_review(session, staff, deps)
    article.status, article.published_version, article.updated_at = ArticleStatus.draft, None, now
    await session.flush()
    return article


async def add_feedback(
    session: AsyncSession,
    *,
    staff: StaffLike,
    article_id: str,
    kind: FeedbackKind,
    comment: str,
    now: datetime,
) -> dict[str, int]:
    """One open mark per agent, article and kind; a repeat updates the comment."""
    article = await repo.get_article(session, article_id)
    version = article.published_version or article.version
    existing = await session.scalar(
        select(KbFeedback).where(
            KbFeedback.article_id == article_id,
            KbFeedback.staff_id == staff.id,
            KbFeedback.kind == kind,
            KbFeedback.resolved_at.is_(None),
            KbFeedback.version == version,
        )
    )
    if existing is None:
        session.add(
            KbFeedback(
                article_id=article_id,
                staff_id=staff.id,
                kind=kind,
                version=version,
                comment=comment,
                created_at=now,
            )
        )
    elif comment:
        existing.comment = comment
    await session.flush()
    return await repo.feedback_counts(session, article_id)


async def article_out(session: AsyncSession, article: KbArticle, staff: StaffLike | None = None) -> ArticleOut:
    items, deps = await repo.article_links(session, article.id)
    files = await repo.attachments(session, article.id)
    return ArticleOut(
        id=article.id,
        slug=article.slug,
        title=article.title,
        body=article.body,
        html=render_markdown(article.body),
        tags=list(article.tags),
        status=article.status.value,
        version=article.version,
        published_version=article.published_version,
        item_ids=items,
        department_ids=deps,
        unit_id=article.unit_id,
        is_guide=article.is_guide,
        review_by=article.review_by,
        review_comment=article.review_comment,
        author_id=article.author_id,
        reviewer_id=article.reviewer_id,
        updated_at=article.updated_at,
        published_at=article.published_at,
        attachments=[
            AttachmentOut(
                id=f.id,
                kind=f.kind,
                filename=f.filename,
                title=f.title,
                content_type=f.content_type,
                size=f.size,
                url=attachment_url(f.id),
            )
            for f in files
        ],
        feedback=await repo.feedback_counts(session, article.id),
        can_review=bool(staff) and await can_review(session, staff, deps),  # type: ignore[arg-type]
    )


def version_out(row: KbArticleVersion, with_body: bool = False) -> VersionOut:
    return VersionOut(
        version=row.version,
        title=row.title,
        body=row.body if with_body else None,
        tags=list(row.tags),
        item_ids=list(row.item_ids),
        department_ids=list(row.department_ids),
        author_id=row.author_id,
        note=row.note,
        created_at=row.created_at,
    )


def _clean_tags(tags: list[str]) -> list[str]:
    out: list[str] = []
    for tag in tags:
        tag = tag.strip()[:40]
        if tag and tag not in out:
            out.append(tag)
    return out


def local_date(now: datetime) -> date:
    """Review-by dates are calendar days in Beijing."""
    return now.astimezone(BEIJING).date()
