"""KB editors' vocabulary entries (table kb_vocabulary) over the shipped vocabulary.txt, with who/when."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import column, func, select, table
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_kb.errors import KbConflict, KbForbidden, KbNotFound
from helpdesk_kb.models import KbVocabulary
from helpdesk_kb.perms import StaffLike, is_manager
from helpdesk_kb.schemas import VocabularyIn, VocabularyOut
from helpdesk_kb.vocab import Entry, Vocabulary, normalize, shipped, shipped_entries

_staff = table("staff", column("id"), column("display_name"))  # the app's table, read by name


def require_editor(staff: StaffLike) -> None:
    if not (staff.kb_editor or is_manager(staff)):
        raise KbForbidden("only KB editors, supervisors and admins edit the vocabulary")


async def signature(session: AsyncSession) -> tuple[int, datetime | None]:
    """Changes when any entry is added, edited or removed: other processes reload on a new one."""
    row = (await session.execute(select(func.count(), func.max(KbVocabulary.updated_at)))).one()
    return int(row[0]), row[1]


async def effective(session: AsyncSession) -> Vocabulary:
    rows = (await session.scalars(select(KbVocabulary))).all()
    return shipped().with_overrides(
        Entry(r.term, tuple(normalize(x) for x in r.expansions), r.kind, r.enabled) for r in rows
    )


async def listing(session: AsyncSession, *, q: str = "", limit: int = 200) -> list[VocabularyOut]:
    """Edited entries first (newest first), then the shipped ones they do not override."""
    q = normalize(q)
    rows = (await session.scalars(select(KbVocabulary).order_by(KbVocabulary.updated_at.desc()))).all()
    who = {r.updated_by for r in rows if r.updated_by}
    names = dict((await session.execute(select(_staff.c.id, _staff.c.display_name).where(_staff.c.id.in_(who)))).all())
    out = [
        VocabularyOut(
            id=r.id,
            term=r.term,
            expansions=list(r.expansions),
            kind=r.kind,
            enabled=r.enabled,
            note=r.note,
            source="edited",
            shipped=any(e.term == r.term for e in shipped_entries()),
            updated_by=r.updated_by,
            updated_by_name=names.get(r.updated_by) if r.updated_by else None,
            updated_at=r.updated_at,
        )
        for r in rows
    ]
    edited = {r.term for r in rows}
    out += [
        VocabularyOut(term=e.term, expansions=list(e.expansions), kind=e.kind, source="shipped", shipped=True)
        for e in shipped_entries()
        if e.term not in edited
    ]
    if q:
        out = [v for v in out if q in v.term or any(q in x for x in v.expansions)]
    return out[:limit]


async def save(
    session: AsyncSession, *, staff: StaffLike, data: VocabularyIn, now: datetime, entry_id: int | None = None
) -> KbVocabulary:
    require_editor(staff)
    term = normalize(data.term)
    expansions = [normalize(x) for x in data.expansions if x.strip()]
    if entry_id is None:
        row = KbVocabulary(term=term, created_by=staff.id, created_at=now)
        session.add(row)
    else:
        found = await session.get(KbVocabulary, entry_id)
        if found is None:
            raise KbNotFound("no such vocabulary entry")
        row = found
        row.term = term
    row.expansions, row.kind, row.enabled, row.note = expansions, data.kind, data.enabled, data.note
    row.updated_by, row.updated_at = staff.id, now
    try:
        await session.flush()
    except IntegrityError as exc:
        raise KbConflict(f"the vocabulary already has an edited entry for {term!r}; edit that one") from exc
    return row


async def remove(session: AsyncSession, *, staff: StaffLike, entry_id: int) -> None:
    """Deleting an edited entry brings back the shipped one of the same term, if any."""
    require_editor(staff)
    row = await session.get(KbVocabulary, entry_id)
    if row is None:
        raise KbNotFound("no such vocabulary entry")
    await session.delete(row)
    await session.flush()
