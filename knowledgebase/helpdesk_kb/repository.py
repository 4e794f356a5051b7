"""Every query of the KB. The app's own tables are read through lightweight table stubs by name
(service_items, org_units), never by importing the app's models."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence

from sqlalchemy import column, delete, func, select, table
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_kb.errors import KbNotFound
from helpdesk_kb.index import IndexDoc
from helpdesk_kb.models import (
    ArticleStatus,
    FeedbackKind,
    KbArticle,
    KbArticleDepartment,
    KbArticleItem,
    KbArticleVersion,
    KbAttachment,
    KbFeedback,
)
from helpdesk_kb.render import plain_text

service_items = table("service_items", column("id"), column("name"), column("code"), column("department_id"))
org_units = table("org_units", column("id"), column("path"))


async def get_article(session: AsyncSession, article_id: str) -> KbArticle:
    article = await session.get(KbArticle, article_id)
    if article is None:
        raise KbNotFound("no such article")
    return article


async def article_links(session: AsyncSession, article_id: str) -> tuple[list[int], list[int]]:
    items = await session.scalars(
        select(KbArticleItem.item_id).where(KbArticleItem.article_id == article_id).order_by(KbArticleItem.item_id)
    )
    deps = await session.scalars(
        select(KbArticleDepartment.department_id)
        .where(KbArticleDepartment.article_id == article_id)
        .order_by(KbArticleDepartment.department_id)
    )
    return list(items), list(deps)


async def set_links(session: AsyncSession, article_id: str, items: Iterable[int], deps: Iterable[int]) -> None:
    await session.execute(delete(KbArticleItem).where(KbArticleItem.article_id == article_id))
    await session.execute(delete(KbArticleDepartment).where(KbArticleDepartment.article_id == article_id))
    session.add_all(KbArticleItem(article_id=article_id, item_id=i) for i in sorted(set(items)))
    session.add_all(KbArticleDepartment(article_id=article_id, department_id=d) for d in sorted(set(deps)))
    await session.flush()


async def departments_of_items(session: AsyncSession, item_ids: Sequence[int]) -> list[int]:
    if not item_ids:
        return []
    rows = await session.execute(
        select(service_items.c.department_id).where(service_items.c.id.in_(item_ids)).distinct()
    )
    return sorted(int(r[0]) for r in rows if r[0] is not None)


async def item_ids_by_name(session: AsyncSession, names: Sequence[str]) -> dict[str, int]:
    if not names:
        return {}
    rows = await session.execute(
        select(service_items.c.name, service_items.c.id).where(service_items.c.name.in_(list(names)))
    )
    return {str(name): int(item_id) for name, item_id in rows}


async def item_names(session: AsyncSession, item_ids: Sequence[int]) -> dict[int, str]:
    if not item_ids:
        return {}
    rows = await session.execute(
        select(service_items.c.id, service_items.c.name).where(service_items.c.id.in_(list(item_ids)))
    )
    return {int(i): str(n) for i, n in rows}


async def unit_scopes(session: AsyncSession, unit_id: int | None) -> list[int] | None:
    """The unit and its ancestors (materialized path "/1/4/9/"): the org scopes whose articles apply."""
    if unit_id is None:
        return None
    path = await session.scalar(select(org_units.c.path).where(org_units.c.id == unit_id))
    ids = [int(p) for p in str(path or "").split("/") if p.isdigit()]
    return sorted(set(ids) | {unit_id})


async def version_row(session: AsyncSession, article_id: str, version: int) -> KbArticleVersion:
    row = await session.scalar(
        select(KbArticleVersion).where(KbArticleVersion.article_id == article_id, KbArticleVersion.version == version)
    )
    if row is None:
        raise KbNotFound("no such version")
    return row


async def versions(session: AsyncSession, article_id: str) -> list[KbArticleVersion]:
    rows = await session.scalars(
        select(KbArticleVersion)
        .where(KbArticleVersion.article_id == article_id)
        .order_by(KbArticleVersion.version.desc())
    )
    return list(rows)


async def attachments(session: AsyncSession, article_id: str) -> list[KbAttachment]:
    rows = await session.scalars(
        select(KbAttachment).where(KbAttachment.article_id == article_id).order_by(KbAttachment.created_at)
    )
    return list(rows)


async def feedback_counts(session: AsyncSession, article_id: str) -> dict[str, int]:
    rows = await session.execute(
        select(KbFeedback.kind, func.count())
        .where(
            KbFeedback.article_id == article_id,
            (KbFeedback.kind == FeedbackKind.helpful) | KbFeedback.resolved_at.is_(None),
        )
        .group_by(KbFeedback.kind)
    )
    counts = {k.value: 0 for k in FeedbackKind}
    counts.update({str(kind): int(n) for kind, n in rows})
    return counts


async def index_doc(session: AsyncSession, article: KbArticle) -> IndexDoc | None:
    """What the index holds for an article: the published version if any, else the working copy."""
    if article.status == ArticleStatus.archived:
        return None
    if article.published_version is not None:
        ver = await version_row(session, article.id, article.published_version)
        title, body, tags = ver.title, ver.body, list(ver.tags)
        items, deps, status = list(ver.item_ids), list(ver.department_ids), ArticleStatus.published.value
    else:
        title, body, tags = article.title, article.body, list(article.tags)
        items, deps = await article_links(session, article.id)
        status = article.status.value
    return IndexDoc(
        id=article.id,
        title=title,
        body=plain_text(body),
        tags=tags,
        items=items,
        departments=deps,
        status=status,
        scope=article.unit_id,
        guide=article.is_guide,
        version=article.published_version or article.version,
    )


async def index_changes(session: AsyncSession, article_ids: Iterable[str]) -> tuple[list[IndexDoc], list[str]]:
    upserts: list[IndexDoc] = []
    deletes: list[str] = []
    for article_id in article_ids:
        article = await session.get(KbArticle, article_id)
        doc = await index_doc(session, article) if article is not None else None
        if doc is None:
            deletes.append(article_id)
        else:
            upserts.append(doc)
    return upserts, deletes


async def all_article_ids(session: AsyncSession) -> list[str]:
    rows = await session.scalars(
        select(KbArticle.id).where(KbArticle.status != ArticleStatus.archived).order_by(KbArticle.id)
    )
    return list(rows)


async def iter_index_docs(session: AsyncSession, batch: int = 200) -> AsyncIterator[IndexDoc]:
    ids = await all_article_ids(session)
    for start in range(0, len(ids), batch):
        upserts, _ = await index_changes(session, ids[start : start + batch])
        for doc in upserts:
            yield doc
        session.expunge_all()
