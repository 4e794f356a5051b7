"""Upkeep (知识库维护更新): stale and flagged articles, unanswered searches, drafts from work orders."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_kb import repository as repo
from helpdesk_kb.models import (
    ArticleStatus,
    FeedbackKind,
    KbArticle,
    KbArticleDepartment,
    KbFeedback,
    KbSearchLog,
)
from helpdesk_kb.perms import StaffLike, editor_departments, is_manager
from helpdesk_kb.schemas import ArticleIn, UpkeepArticle, UpkeepOut, UpkeepQuery
from helpdesk_kb.service import create_article, local_date

QUERY_WINDOW_DAYS = 30


def normalise_query(text: str) -> str:
    return " ".join(text.split())[:200]


async def log_search(
    session: AsyncSession,
    *,
    staff_id: int | None,
    query: str,
    filters: dict[str, object],
    results: int,
    now: datetime,
) -> int:
    row = KbSearchLog(at=now, staff_id=staff_id, query=normalise_query(query), filters=filters, results=results)
    session.add(row)
    await session.flush()
    return int(row.id)


async def log_click(session: AsyncSession, *, search_id: int, staff_id: int, article_id: str, now: datetime) -> bool:
    row = await session.get(KbSearchLog, search_id)
    if row is None or row.staff_id != staff_id:
        return False
    if row.clicked_article_id is None:
        row.clicked_article_id, row.clicked_at = article_id, now
        await session.flush()
    return True


async def log_report(session: AsyncSession, *, search_id: int, staff_id: int, now: datetime) -> bool:
    row = await session.get(KbSearchLog, search_id)
    if row is None or row.staff_id != staff_id:
        return False
    if row.reported_at is None:
        row.reported_at, row.reported_by = now, staff_id
        await session.flush()
    return True


async def upkeep_list(session: AsyncSession, *, staff: StaffLike, now: datetime, limit: int = 100) -> UpkeepOut:
    """Articles past their review date or marked outdated (the caller's departments unless a manager),
    and the queries that found nothing or that nobody clicked on, most frequent first."""
    today = local_date(now)
    outdated = (
        select(KbFeedback.article_id, func.count().label("n"))
        .where(KbFeedback.kind == FeedbackKind.outdated, KbFeedback.resolved_at.is_(None))
        .group_by(KbFeedback.article_id)
        .subquery()
    )
    stmt = (
        select(KbArticle, func.coalesce(outdated.c.n, 0))
        .outerjoin(outdated, outdated.c.article_id == KbArticle.id)
        .where(KbArticle.status != ArticleStatus.archived)
        .where((KbArticle.review_by < today) | (outdated.c.n > 0))
        .order_by(func.coalesce(outdated.c.n, 0).desc(), KbArticle.review_by)
        .limit(limit)
    )
    if not is_manager(staff):
        deps = await editor_departments(session, staff)
        stmt = stmt.where(
            KbArticle.id.in_(
                select(KbArticleDepartment.article_id).where(KbArticleDepartment.department_id.in_(deps or {-1}))
            )
        )
    articles: list[UpkeepArticle] = []
    for article, n in (await session.execute(stmt)).all():
        reasons = []
        if article.review_by is not None and article.review_by < today:
            reasons.append("past_review")
        if n:
            reasons.append("outdated")
        articles.append(
            UpkeepArticle(
                id=article.id,
                title=article.title,
                status=article.status.value,
                review_by=article.review_by,
                outdated=int(n),
                reasons=reasons,
            )
        )
    return UpkeepOut(articles=articles, queries=await unanswered_queries(session, now=now, limit=limit))


async def unanswered_queries(session: AsyncSession, *, now: datetime, limit: int = 100) -> list[UpkeepQuery]:
    zero = func.sum(case((KbSearchLog.results == 0, 1), else_=0))
    no_click = func.sum(case(((KbSearchLog.results > 0) & KbSearchLog.clicked_article_id.is_(None), 1), else_=0))
    clicked = func.sum(case((KbSearchLog.clicked_article_id.is_not(None), 1), else_=0))
    reported = func.sum(case((KbSearchLog.reported_at.is_not(None), 1), else_=0))
    stmt = (
        select(KbSearchLog.query, func.count(), zero, no_click, func.max(KbSearchLog.at), reported)
        .where(KbSearchLog.at >= now - timedelta(days=QUERY_WINDOW_DAYS))
        .group_by(KbSearchLog.query)
        .having(clicked == 0)
        .order_by(reported.desc(), func.count().desc(), func.max(KbSearchLog.at).desc())
        .limit(limit)
    )
    return [
        UpkeepQuery(
            query=q, searches=int(n), zero_results=int(z or 0), no_click=int(c or 0), last_at=last, reported=int(r or 0)
        )
        for q, n, z, c, last, r in (await session.execute(stmt)).all()
    ]


def draft_body(notes: str, item_name: str | None) -> str:
    """A skeleton for the editor: the question, the answer from the call notes, what to check."""
    lines = [
        "## 问题",
        "",
        f"（{item_name}）" if item_name else "（请概括申请人的问题）",
        "",
        "## 解答",
        "",
        notes.strip() or "（请根据工单记录补充）",
        "",
        "## 注意事项",
        "",
        "- 核对最新的办理依据和材料清单后再提交审核。",
        "",
    ]
    return "\n".join(lines)


async def draft_from_notes(
    session: AsyncSession,
    *,
    staff: StaffLike,
    title: str,
    notes: str,
    item_id: int | None,
    work_order_id: str | None,
    now: datetime,
) -> KbArticle:
    names = await repo.item_names(session, [item_id] if item_id else [])
    item_name = names.get(item_id) if item_id else None
    title = title.strip() or (f"{item_name}：来电问题解答" if item_name else "来电问题解答（待完善）")
    data = ArticleIn(
        title=title[:200],
        body=draft_body(notes, item_name),
        item_ids=[item_id] if item_id else [],
        tags=["工单整理"],
        note="drafted from a work order",
    )
    return await create_article(session, staff=staff, data=data, now=now, source_work_order_id=work_order_id)
