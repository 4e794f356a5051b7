"""Article routes: search, read, edit with versions, the review workflow, feedback, preview."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_kb import repository as repo
from helpdesk_kb import service, upkeep
from helpdesk_kb.component import Kb
from helpdesk_kb.errors import KbForbidden, KbNotFound
from helpdesk_kb.models import ArticleStatus, KbArticle, KbArticleDepartment, KbArticleItem
from helpdesk_kb.perms import StaffLike, can_review, editor_departments, is_manager
from helpdesk_kb.render import render_markdown
from helpdesk_kb.routes import RouteDeps
from helpdesk_kb.schemas import (
    ArticleIn,
    ArticleOut,
    ClickIn,
    FeedbackIn,
    PreviewIn,
    ReviewIn,
    SearchHitOut,
    SearchOut,
    VersionOut,
)

WORKING_STATUSES = {"draft", "in_review"}


async def readable_article(session: AsyncSession, staff: StaffLike, article_id: str) -> ArticleOut:
    """Reviewers and the author see the working copy; everyone else the published version only."""
    article = await repo.get_article(session, article_id)
    out = await service.article_out(session, article, staff)
    if out.can_review or article.author_id == staff.id:
        return out
    if article.published_version is None or article.status == ArticleStatus.archived:
        raise KbNotFound("no such article")
    ver = await repo.version_row(session, article_id, article.published_version)
    return out.model_copy(
        update={
            "title": ver.title,
            "body": ver.body,
            "html": render_markdown(ver.body),
            "tags": list(ver.tags),
            "item_ids": list(ver.item_ids),
            "status": "published",
            "version": ver.version,
        }
    )


def add_article_routes(router: APIRouter, deps: RouteDeps) -> None:
    get_session, get_staff, get_kb = deps.get_session, deps.get_current_staff, deps.get_kb

    @router.get("/search", response_model=SearchOut)
    async def search(
        q: str = Query(min_length=1, max_length=200),
        item: list[int] = Query(default=[]),
        department: list[int] = Query(default=[]),
        status: list[str] = Query(default=[]),
        page: int = Query(1, ge=1, le=100),
        per_page: int = Query(10, ge=1, le=50),
        log: bool = True,
        session: AsyncSession = Depends(get_session),
        staff: Any = Depends(get_staff),
        kb: Kb = Depends(get_kb),
    ) -> SearchOut:
        statuses = [s for s in status if s in {"published", *WORKING_STATUSES}] or ["published"]
        if set(statuses) & WORKING_STATUSES and not is_manager(staff):
            # A KB editor searches drafts of their own departments only.
            own = await editor_departments(session, staff)
            department = sorted(own & set(department)) if department else sorted(own)
            if not department:
                raise KbForbidden("only reviewers search drafts")
        scopes = await repo.unit_scopes(session, staff.unit_id)
        result = await kb.search(
            q,
            page=page,
            per_page=per_page,
            items=item,
            departments=department,
            statuses=statuses,
            scopes=scopes,
        )
        search_id = None
        if log and page == 1:
            search_id = await upkeep.log_search(
                session,
                staff_id=staff.id,
                query=q,
                results=result.total,  # 0 when the answer is "none": a zero-result query for upkeep
                now=kb.now(),
                filters={"item": item, "department": department, "status": statuses},
            )
            await session.commit()
        return SearchOut(
            query=q,
            total=result.total,
            total_exact=result.total_exact,
            page=result.page,
            per_page=result.per_page,
            mode=result.mode,
            did_you_mean=result.did_you_mean,
            search_id=search_id,
            hits=[SearchHitOut(**vars(h)) for h in result.hits],
            answer="found" if result.answer == "found" else "none",
            coverage=round(result.coverage, 3),
            relative=round(result.relative, 3),
        )

    @router.post("/search/{search_id}/click", status_code=204)
    async def click(
        search_id: int,
        body: ClickIn,
        session: AsyncSession = Depends(get_session),
        staff: Any = Depends(get_staff),
        kb: Kb = Depends(get_kb),
    ) -> None:
        if await upkeep.log_click(
            session, search_id=search_id, staff_id=staff.id, article_id=body.article_id, now=kb.now()
        ):
            await session.commit()

    @router.get("/articles", response_model=list[ArticleOut])
    async def list_articles(
        status: str | None = None,
        item: int | None = None,
        mine: bool = False,
        limit: int = Query(50, ge=1, le=200),
        session: AsyncSession = Depends(get_session),
        staff: Any = Depends(get_staff),
    ) -> list[ArticleOut]:
        stmt = select(KbArticle).order_by(KbArticle.updated_at.desc()).limit(limit)
        if status:
            stmt = stmt.where(KbArticle.status == status)
        if item is not None:
            stmt = stmt.where(KbArticle.id.in_(select(KbArticleItem.article_id).where(KbArticleItem.item_id == item)))
        if mine:
            stmt = stmt.where(KbArticle.author_id == staff.id)
        if not is_manager(staff):  # what this caller may see, in SQL; each row then as they may see it
            own_deps = select(KbArticleDepartment.article_id).where(
                KbArticleDepartment.department_id.in_(await editor_departments(session, staff) or {-1})
            )
            stmt = stmt.where(
                or_(
                    KbArticle.published_version.is_not(None),
                    KbArticle.author_id == staff.id,
                    KbArticle.id.in_(own_deps),
                )
            )
        return [await readable_article(session, staff, a.id) for a in await session.scalars(stmt)]

    @router.post("/articles", response_model=ArticleOut, status_code=201)
    async def create(
        body: ArticleIn,
        session: AsyncSession = Depends(get_session),
        staff: Any = Depends(get_staff),
        kb: Kb = Depends(get_kb),
    ) -> ArticleOut:
        article = await service.create_article(session, staff=staff, data=body, now=kb.now())
        await session.commit()
        await kb.reindex_articles(session, [article.id])
        return await service.article_out(session, article, staff)

    @router.get("/articles/{article_id}", response_model=ArticleOut)
    async def read(
        article_id: str, session: AsyncSession = Depends(get_session), staff: Any = Depends(get_staff)
    ) -> ArticleOut:
        return await readable_article(session, staff, article_id)

    @router.put("/articles/{article_id}", response_model=ArticleOut)
    async def edit(
        article_id: str,
        body: ArticleIn,
        session: AsyncSession = Depends(get_session),
        staff: Any = Depends(get_staff),
        kb: Kb = Depends(get_kb),
    ) -> ArticleOut:
        article = await service.update_article(session, staff=staff, article_id=article_id, data=body, now=kb.now())
        await session.commit()
        await kb.reindex_articles(session, [article.id])
        return await service.article_out(session, article, staff)

    async def _transition(
        action: str, article_id: str, session: AsyncSession, staff: Any, kb: Kb, comment: str = ""
    ) -> ArticleOut:
        now = kb.now()
        if action == "submit":
            article = await service.submit_for_review(session, staff=staff, article_id=article_id, now=now)
        elif action == "publish":
            article = await service.publish(session, staff=staff, article_id=article_id, now=now, comment=comment)
        elif action == "reject":
            article = await service.reject(session, staff=staff, article_id=article_id, now=now, comment=comment)
        elif action == "archive":
            article = await service.archive(session, staff=staff, article_id=article_id, now=now)
        else:
            article = await service.restore(session, staff=staff, article_id=article_id, now=now)
        await session.commit()
        await kb.reindex_articles(session, [article.id])
        return await service.article_out(session, article, staff)

    for action in ("submit", "publish", "reject", "archive", "restore"):

        def _bind(action: str) -> None:
            @router.post(f"/articles/{{article_id}}/{action}", response_model=ArticleOut, name=f"kb_{action}")
            async def transition(
                article_id: str,
                body: ReviewIn | None = None,
                session: AsyncSession = Depends(get_session),
                staff: Any = Depends(get_staff),
                kb: Kb = Depends(get_kb),
            ) -> ArticleOut:
                return await _transition(action, article_id, session, staff, kb, body.comment if body else "")

        _bind(action)

    @router.get("/articles/{article_id}/versions", response_model=list[VersionOut])
    async def list_versions(
        article_id: str, session: AsyncSession = Depends(get_session), staff: Any = Depends(get_staff)
    ) -> list[VersionOut]:
        await _require_working_copy(session, staff, article_id)
        return [service.version_out(v) for v in await repo.versions(session, article_id)]

    @router.get("/articles/{article_id}/versions/{version}", response_model=VersionOut)
    async def read_version(
        article_id: str,
        version: int,
        session: AsyncSession = Depends(get_session),
        staff: Any = Depends(get_staff),
    ) -> VersionOut:
        await _require_working_copy(session, staff, article_id)
        return service.version_out(await repo.version_row(session, article_id, version), with_body=True)

    @router.post("/articles/{article_id}/feedback")
    async def feedback(
        article_id: str,
        body: FeedbackIn,
        session: AsyncSession = Depends(get_session),
        staff: Any = Depends(get_staff),
        kb: Kb = Depends(get_kb),
    ) -> dict[str, int]:
        await readable_article(session, staff, article_id)
        counts = await service.add_feedback(
            session, staff=staff, article_id=article_id, kind=body.kind, comment=body.comment, now=kb.now()
        )
        await session.commit()
        return counts

    @router.post("/preview")
    async def preview(body: PreviewIn, staff: Any = Depends(get_staff)) -> dict[str, str]:
        return {"html": render_markdown(body.body)}

    @router.get("/me")
    async def me(session: AsyncSession = Depends(get_session), staff: Any = Depends(get_staff)) -> dict[str, Any]:
        deps_ = sorted(await editor_departments(session, staff))
        return {
            "staff_id": staff.id,
            "reviewer": is_manager(staff) or bool(deps_),
            "editor_departments": deps_,
            "manager": is_manager(staff),
        }


async def _require_working_copy(session: AsyncSession, staff: StaffLike, article_id: str) -> None:
    """Version history is for the author and reviewers."""
    article = await repo.get_article(session, article_id)
    _, deps = await repo.article_links(session, article_id)
    if article.author_id != staff.id and not await can_review(session, staff, deps):
        raise KbForbidden("version history is for the author and the article's reviewers")
