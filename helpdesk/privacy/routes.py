"""Admin routes: export or erase one applicant's personal data (both audited)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from helpdesk.deps import ClockDep, CurrentAdmin, SessionDep, SettingsDep
from helpdesk.privacy import service

router = APIRouter(tags=["privacy"])


@router.get("/api/admin/applicants/{applicant_id}/export")
async def export_applicant(applicant_id: str, admin: CurrentAdmin, session: SessionDep,
                           clock: ClockDep) -> dict[str, Any]:
    """Everything stored about one applicant (a data subject's access request)."""
    data = await service.export_applicant(session, applicant_id, actor=f"s:{admin.id}", now=clock.now())
    await session.commit()
    return data


@router.post("/api/admin/applicants/{applicant_id}/erase")
async def erase_applicant(applicant_id: str, admin: CurrentAdmin, session: SessionDep, settings: SettingsDep,
                          clock: ClockDep) -> dict[str, int]:
    """Erases the applicant's personal data; their work orders stay, blanked, for the figures."""
    counts = await service.erase_applicant(session, settings, applicant_id, actor=f"s:{admin.id}", now=clock.now())
    await session.commit()
    return counts
