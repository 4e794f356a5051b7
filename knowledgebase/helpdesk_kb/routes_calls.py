"""Routes beside the call and for upkeep: suggestions, send into call, canned replies, attachments,
upkeep list, drafts from work orders, and the public (applicant) views of published content."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, File, Form, UploadFile
from fastapi.responses import FileResponse
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_kb import attachments as files
from helpdesk_kb import replies, repository, service, upkeep
from helpdesk_kb.component import Kb
from helpdesk_kb.errors import KbConflict, KbNotFound, KbUnavailable
from helpdesk_kb.models import ArticleStatus, AttachmentKind, KbAttachment, KbSend
from helpdesk_kb.perms import require_review
from helpdesk_kb.render import render_markdown
from helpdesk_kb.routes import RouteDeps
from helpdesk_kb.routes_articles import readable_article
from helpdesk_kb.schemas import (
    ArticleOut,
    AttachmentOut,
    CannedReplyIn,
    CannedReplyOut,
    DraftFromNotesIn,
    SearchHitOut,
    SendIn,
    SuggestIn,
    UpkeepOut,
)

SUGGEST_SHARE = 0.3  # context matches elsewhere: at least this share of the best one's score


async def suggest(kb: Kb, session: AsyncSession, staff: Any, body: SuggestIn) -> list[SearchHitOut]:
    """The item's guide and articles first (ranked by the hand-off context), then context matches anywhere."""
    scopes = await repository.unit_scopes(session, staff.unit_id)
    hits: list[SearchHitOut] = []
    seen: set[str] = set()
    text = (body.context or "").strip()
    runs: list[tuple[str, list[int]]] = []
    if body.item_id is not None:
        names = await repository.item_names(session, [body.item_id])
        runs.append(((text + " " + names.get(body.item_id, "")).strip(), [body.item_id]))
    if text:
        runs.append((text, []))
    for query, items in runs:
        if not query:
            continue
        page = await kb.search(query, items=items, scopes=scopes, per_page=body.limit, with_suggestion=False)
        best = max((h.score for h in page.hits), default=0.0)
        for h in page.hits:
            if not items and (h.maybe_related or h.score < SUGGEST_SHARE * best):
                continue  # from the context alone, only what is close to it
            if h.id not in seen:
                seen.add(h.id)
                hits.append(SearchHitOut(**vars(h)))
    hits.sort(key=lambda h: (body.item_id is None or body.item_id not in h.items, not h.guide))
    return hits[: body.limit]


def add_call_routes(router: APIRouter, deps: RouteDeps) -> None:
    get_session, get_staff, get_kb = deps.get_session, deps.get_current_staff, deps.get_kb

    @router.post("/suggest", response_model=list[SearchHitOut])
    async def suggestions(
        body: SuggestIn,
        session: AsyncSession = Depends(get_session),
        staff: Any = Depends(get_staff),
        kb: Kb = Depends(get_kb),
    ) -> list[SearchHitOut]:
        return await suggest(kb, session, staff, body)

    @router.post("/calls/{work_order_id}/send")
    async def send_into_call(
        work_order_id: str,
        body: SendIn,
        session: AsyncSession = Depends(get_session),
        staff: Any = Depends(get_staff),
        kb: Kb = Depends(get_kb),
    ) -> dict[str, Any]:
        if deps.on_send_to_call is None:
            raise KbUnavailable("sending into calls is not wired in this app")
        payload, article_id, attachment_id = await _send_payload(session, kb, body)
        result = await deps.on_send_to_call(work_order_id, staff, payload)
        session.add(
            KbSend(
                work_order_id=work_order_id,
                article_id=article_id,
                attachment_id=attachment_id,
                staff_id=staff.id,
                at=kb.now(),
            )
        )
        await session.commit()
        public = {k: v for k, v in payload.items() if k != "attachment"}
        if "attachment" in payload:
            public["attachment"] = {k: v for k, v in payload["attachment"].items() if k != "path"}
        return {"sent": public, "result": result}

    @router.get("/replies", response_model=list[CannedReplyOut])
    async def list_replies(
        item: int | None = None, session: AsyncSession = Depends(get_session), staff: Any = Depends(get_staff)
    ) -> list[CannedReplyOut]:
        return [replies.reply_out(r) for r in await replies.list_replies(session, staff=staff, item_id=item)]

    @router.post("/replies", response_model=CannedReplyOut, status_code=201)
    async def create_reply(
        body: CannedReplyIn,
        session: AsyncSession = Depends(get_session),
        staff: Any = Depends(get_staff),
        kb: Kb = Depends(get_kb),
    ) -> CannedReplyOut:
        row = await replies.create_reply(session, staff=staff, data=body, now=kb.now())
        await session.commit()
        return replies.reply_out(row)

    @router.put("/replies/{reply_id}", response_model=CannedReplyOut)
    async def update_reply(
        reply_id: int,
        body: CannedReplyIn,
        session: AsyncSession = Depends(get_session),
        staff: Any = Depends(get_staff),
    ) -> CannedReplyOut:
        row = await replies.update_reply(session, staff=staff, reply_id=reply_id, data=body)
        await session.commit()
        return replies.reply_out(row)

    @router.delete("/replies/{reply_id}", status_code=204)
    async def delete_reply(
        reply_id: int, session: AsyncSession = Depends(get_session), staff: Any = Depends(get_staff)
    ) -> None:
        await replies.delete_reply(session, staff=staff, reply_id=reply_id)
        await session.commit()

    @router.get("/upkeep", response_model=UpkeepOut)
    async def upkeep_list(
        session: AsyncSession = Depends(get_session),
        staff: Any = Depends(get_staff),
        kb: Kb = Depends(get_kb),
    ) -> UpkeepOut:
        return await upkeep.upkeep_list(session, staff=staff, now=kb.now())

    @router.post("/drafts/from-work-order", response_model=ArticleOut, status_code=201)
    async def draft(
        body: DraftFromNotesIn,
        session: AsyncSession = Depends(get_session),
        staff: Any = Depends(get_staff),
        kb: Kb = Depends(get_kb),
    ) -> ArticleOut:
        title, notes, item_id = body.title, body.notes, body.item_id
        if body.work_order_id and deps.load_work_order_notes is not None and not notes:
            loaded = await deps.load_work_order_notes(session, body.work_order_id, staff)
            if loaded is None:
                raise KbNotFound("no such work order")
            title = title or str(loaded.get("title") or "")
            notes, item_id = str(loaded.get("notes") or ""), item_id or loaded.get("item_id")
        article = await upkeep.draft_from_notes(
            session,
            staff=staff,
            title=title,
            notes=notes,
            item_id=item_id,
            work_order_id=body.work_order_id,
            now=kb.now(),
        )
        await session.commit()
        await kb.reindex_articles(session, [article.id])
        return await service.article_out(session, article, staff)

    @router.post("/articles/{article_id}/attachments", response_model=AttachmentOut, status_code=201)
    async def upload(
        article_id: str,
        file: UploadFile = File(...),
        kind: AttachmentKind = Form(AttachmentKind.other),
        title: str = Form(""),
        session: AsyncSession = Depends(get_session),
        staff: Any = Depends(get_staff),
        kb: Kb = Depends(get_kb),
    ) -> AttachmentOut:
        article = await repository.get_article(session, article_id)
        _, dep_ids = await repository.article_links(session, article_id)
        if not (article.author_id == staff.id and article.status == ArticleStatus.draft):
            await require_review(session, staff, dep_ids)
        data = await file.read(kb.settings.upload_max_bytes + 1)
        row = await files.save_attachment(
            session,
            kb.settings,
            article_id=article_id,
            filename=file.filename or "file",
            content_type=file.content_type,
            data=data,
            kind=kind,
            title=title,
            staff_id=staff.id,
            now=kb.now(),
        )
        await session.commit()
        return AttachmentOut(
            id=row.id,
            kind=row.kind,
            filename=row.filename,
            title=row.title,
            content_type=row.content_type,
            size=row.size,
            url=service.attachment_url(row.id),
        )

    @router.delete("/attachments/{attachment_id}", status_code=204)
    async def remove(
        attachment_id: str,
        session: AsyncSession = Depends(get_session),
        staff: Any = Depends(get_staff),
        kb: Kb = Depends(get_kb),
    ) -> None:
        row = await _attachment(session, attachment_id)
        _, dep_ids = await repository.article_links(session, row.article_id)
        await require_review(session, staff, dep_ids)
        await files.delete_attachment(session, kb.settings, row)
        await session.commit()

    @router.get("/attachments/{attachment_id}")
    async def download(
        attachment_id: str,
        inline: bool = False,
        session: AsyncSession = Depends(get_session),
        staff: Any = Depends(get_staff),
        kb: Kb = Depends(get_kb),
    ) -> FileResponse:
        row = await _attachment(session, attachment_id)
        await readable_article(session, staff, row.article_id)
        return files.file_response(kb.settings, row, inline=inline)

    @router.get("/public/articles/{article_id}")
    async def public_article(article_id: str, session: AsyncSession = Depends(get_session)) -> dict[str, Any]:
        article = await repository.get_article(session, article_id)
        if article.published_version is None or article.status == ArticleStatus.archived:
            raise KbNotFound("no such article")
        ver = await repository.version_row(session, article_id, article.published_version)
        return {"id": article.id, "title": ver.title, "html": render_markdown(ver.body)}

    @router.get("/public/attachments/{attachment_id}")
    async def public_download(
        attachment_id: str,
        inline: bool = False,
        session: AsyncSession = Depends(get_session),
        kb: Kb = Depends(get_kb),
    ) -> FileResponse:
        row = await _attachment(session, attachment_id)
        article = await repository.get_article(session, row.article_id)
        if article.published_version is None or article.status == ArticleStatus.archived:
            raise KbNotFound("no such file")
        return files.file_response(kb.settings, row, inline=inline)


async def _attachment(session: AsyncSession, attachment_id: str) -> KbAttachment:
    row = await session.get(KbAttachment, attachment_id)
    if row is None:
        raise KbNotFound("no such file")
    return row


async def _send_payload(session: AsyncSession, kb: Kb, body: SendIn) -> tuple[dict[str, Any], str, str | None]:
    """What the hook pushes into the call: a link to the published article, or the attachment's file."""
    if bool(body.article_id) == bool(body.attachment_id):
        raise KbConflict("send either an article or an attachment")
    att = await _attachment(session, body.attachment_id) if body.attachment_id else None
    article_id = att.article_id if att else str(body.article_id)
    article = await repository.get_article(session, article_id)
    if article.published_version is None or article.status == ArticleStatus.archived:
        raise KbConflict("only published articles and their files can be sent to an applicant")
    ver = await repository.version_row(session, article_id, article.published_version)
    payload: dict[str, Any] = {
        "kind": "attachment" if att else "article",
        "article": {"id": article.id, "title": ver.title, "url": f"/api/kb/public/articles/{article.id}"},
    }
    if att is not None:
        payload["attachment"] = {
            "id": att.id,
            "name": att.filename,
            "title": att.title,
            "kind": att.kind.value,
            "content_type": att.content_type,
            "size": att.size,
            "sha256": att.sha256,
            "url": f"/api/kb/public/attachments/{att.id}",
            "path": str(files.storage_path(kb.settings, att.storage_key)),
        }
    return payload, article_id, att.id if att else None
