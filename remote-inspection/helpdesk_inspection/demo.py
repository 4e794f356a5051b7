"""Demo checklists (remote-inspection/demo/*.json), matched to service items by name."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from helpdesk_inspection import checklists
from helpdesk_inspection.schemas import ChecklistIn

log = logging.getLogger(__name__)
DEMO_DIR = Path(__file__).resolve().parent.parent / "demo"


def norm(name: str) -> str:
    """Name matching ignores full/half-width brackets and spaces."""
    return re.sub(r"[\s()（）]", "", name)


def demo_files(folder: Path = DEMO_DIR) -> list[dict[str, Any]]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))]


async def load_demo(session_factory: async_sessionmaker[AsyncSession], folder: Path = DEMO_DIR) -> dict[str, int]:
    """Adds each demo checklist to the items whose name matches, unless the item already has one
    (idempotent). Returns {item name: checklist id} of what was added."""
    added: dict[str, int] = {}
    async with session_factory() as session:
        items = (await session.execute(select(checklists.service_items.c.id, checklists.service_items.c.name))).all()
        for data in demo_files(folder):
            body = ChecklistIn.model_validate({k: data[k] for k in ("title", "points")})
            names = {norm(n) for n in data["item_names"]}
            for item_id, item_name in items:
                if norm(item_name) not in names or await checklists.current(session, item_id) is not None:
                    continue
                row = await checklists.save(
                    session,
                    item_id=item_id,
                    title=body.title,
                    points=body.points,
                    now=datetime.now(UTC),
                    change_note="demo checklist",
                )
                added[item_name] = row.id
        await session.commit()
    if not added:
        log.info("no demo checklist matched a service item without one")
    return added
