"""The applicant-facing guide of a service item: its published guide article, rendered safely."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_kb import repository as repo
from helpdesk_kb.models import ArticleStatus, KbArticle, KbArticleItem
from helpdesk_kb.render import render_markdown


async def guide_article(session: AsyncSession, item_id: int) -> KbArticle | None:
    """The item's guide: a published article marked as guide, most recently published first."""
    stmt = (
        select(KbArticle)
        .join(KbArticleItem, KbArticleItem.article_id == KbArticle.id)
        .where(
            KbArticleItem.item_id == item_id,
            KbArticle.is_guide.is_(True),
            KbArticle.published_version.is_not(None),
            KbArticle.status != ArticleStatus.archived,
        )
        .order_by(KbArticle.published_at.desc())
        .limit(1)
    )
    return (await session.scalars(stmt)).first()


async def guide_for_item(session: AsyncSession, item_id: int) -> str | None:
    """HTML of the published version (never a draft in progress), or None when the item has no guide."""
    article = await guide_article(session, item_id)
    if article is None or article.published_version is None:
        return None
    version = await repo.version_row(session, article.id, article.published_version)
    files = [f for f in await repo.attachments(session, article.id) if f.kind.value in ("blank_form", "sample")]
    html = render_markdown(version.body)
    if files:
        links = "".join(
            f'<li><a rel="noopener" href="/api/kb/public/attachments/{f.id}">{_esc(f.title or f.filename)}</a></li>'
            for f in files
        )
        html += f'<h3>表格与样例下载</h3><ul class="kb-files">{links}</ul>'
    return html


def _esc(text: str) -> str:
    import html

    return html.escape(text)
