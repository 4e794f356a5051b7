"""Vocabulary routes (KB editors keep the words applicants use) and "file for upkeep" of a search."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_kb import upkeep, vocab_edit
from helpdesk_kb.component import Kb
from helpdesk_kb.errors import KbNotFound
from helpdesk_kb.routes import RouteDeps
from helpdesk_kb.schemas import VocabularyIn, VocabularyOut


def add_vocabulary_routes(router: APIRouter, deps: RouteDeps) -> None:
    get_session, get_staff, get_kb = deps.get_session, deps.get_current_staff, deps.get_kb

    @router.get("/vocabulary", response_model=list[VocabularyOut])
    async def list_vocabulary(
        q: str = Query("", max_length=50),
        limit: int = Query(200, ge=1, le=1000),
        session: AsyncSession = Depends(get_session),
        staff: Any = Depends(get_staff),
    ) -> list[VocabularyOut]:
        return await vocab_edit.listing(session, q=q, limit=limit)

    async def _saved(session: AsyncSession, kb: Kb, row_id: int) -> VocabularyOut:
        await session.commit()
        await kb.refresh_vocabulary(session)  # this process at once; the others at their next catch-up tick
        found = [v for v in await vocab_edit.listing(session, limit=100_000) if v.id == row_id]
        if not found:
            raise KbNotFound("no such vocabulary entry")
        return found[0]

    @router.post("/vocabulary", response_model=VocabularyOut, status_code=201)
    async def add_entry(
        body: VocabularyIn,
        session: AsyncSession = Depends(get_session),
        staff: Any = Depends(get_staff),
        kb: Kb = Depends(get_kb),
    ) -> VocabularyOut:
        row = await vocab_edit.save(session, staff=staff, data=body, now=kb.now())
        return await _saved(session, kb, row.id)

    @router.put("/vocabulary/{entry_id}", response_model=VocabularyOut)
    async def edit_entry(
        entry_id: int,
        body: VocabularyIn,
        session: AsyncSession = Depends(get_session),
        staff: Any = Depends(get_staff),
        kb: Kb = Depends(get_kb),
    ) -> VocabularyOut:
        row = await vocab_edit.save(session, staff=staff, data=body, now=kb.now(), entry_id=entry_id)
        return await _saved(session, kb, row.id)

    @router.delete("/vocabulary/{entry_id}", status_code=204)
    async def delete_entry(
        entry_id: int,
        session: AsyncSession = Depends(get_session),
        staff: Any = Depends(get_staff),
        kb: Kb = Depends(get_kb),
    ) -> None:
        await vocab_edit.remove(session, staff=staff, entry_id=entry_id)
        await session.commit()
        await kb.refresh_vocabulary(session)

    @router.post("/search/{search_id}/report", status_code=204)
    async def report(
        search_id: int,
        session: AsyncSession = Depends(get_session),
        staff: Any = Depends(get_staff),
        kb: Kb = Depends(get_kb),
    ) -> None:
        """The agent files "nothing found" for upkeep: the query goes to the top of the upkeep list."""
        if not await upkeep.log_report(session, search_id=search_id, staff_id=staff.id, now=kb.now()):
            raise KbNotFound("no such search of yours")
        await session.commit()
