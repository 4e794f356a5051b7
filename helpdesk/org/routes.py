"""HTTP routes of the org tree (staff) and the service item catalogue (public)."""

from __future__ import annotations

from fastapi import APIRouter

from helpdesk.admin.live import cached
from helpdesk.deps import CurrentStaff, SessionDep, StateDep
from helpdesk.org import service
from helpdesk.org.schemas import ItemDetail, ItemSummary, UnitNode

router = APIRouter(tags=["org"])


@router.get("/api/org/units", response_model=list[UnitNode])
async def units_tree(session: SessionDep, staff: CurrentStaff) -> list[dict[str, object]]:
    """The whole tree: transfers and escalation need to name units outside one's own subtree."""
    return await service.unit_tree(session)


@router.get("/api/items", response_model=list[ItemSummary])
async def list_items(session: SessionDep, state: StateDep) -> list[dict[str, object]]:
    """Cached per process until an admin changes items (helpdesk.admin.live, on every process)."""
    items: list[dict[str, object]] = await cached(state, "items", "summaries", lambda: service.item_summaries(session))
    return items


@router.get("/api/items/{code}", response_model=ItemDetail)
async def get_item(code: str, session: SessionDep) -> dict[str, object]:
    return await service.item_detail(session, code)
