"""A small world for the integration tests: a city with two counties, items, tokens, a receiver."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk.accounts.models import Role, Staff
from helpdesk.accounts.tokens import create_api_token, revoke_api_token
from helpdesk.clock import FakeClock
from helpdesk.integration.models import WebhookSubscription
from helpdesk.org.models import OrgUnit, ServiceItem
from tests.helpdesk.factories import make_item, make_staff, make_unit

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "docs" / "examples"))
import integration_client

SECRET = "s" * 40
ALWAYS_OPEN = {d: [["00:00", "23:59"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


@dataclass
class World:
    city: OrgUnit
    north: OrgUnit
    south: OrgUnit
    item: ServiceItem
    south_item: ServiceItem
    admin: Staff
    tokens: dict[str, str] = field(default_factory=dict)


async def make_world(session: AsyncSession, clock: FakeClock) -> World:
    city = await make_unit(session, code="130600", name="保定市", business_hours=ALWAYS_OPEN)
    north = await make_unit(session, parent=city, code="130602", name="竞秀区", business_hours=ALWAYS_OPEN)
    south = await make_unit(session, parent=city, code="130606", name="莲池区", business_hours=ALWAYS_OPEN)
    item = await make_item(session, units=[city, north], code="SCJG-001", name="食品经营许可", name_en="Food licence")
    south_item = await make_item(session, units=[south], code="RS-002", name="社会保障卡补办")
    admin = await make_staff(session, unit=city, role=Role.admin, username="admin")
    w = World(city, north, south, item, south_item, admin)
    now = clock.now()
    for name, scopes, unit in [
        ("all", ["workorders:read", "workorders:write", "catalog:read", "handoff:write"], None),
        ("read", ["workorders:read"], None), ("write", ["workorders:write"], None),
        ("catalog", ["catalog:read"], None), ("handoff", ["handoff:write"], None),
        ("north", ["workorders:read", "workorders:write", "catalog:read"], north.id),
        ("revoked", ["workorders:read", "workorders:write", "catalog:read", "handoff:write"], None),
    ]:
        token, plain = await create_api_token(session, name=name, scopes=scopes, unit_id=unit, expires_at=None, now=now)
        w.tokens[name] = plain
        if name == "revoked":
            await revoke_api_token(session, token_id=token.id, now=now)
    _, w.tokens["expired"] = await create_api_token(
        session, name="expired", scopes=["workorders:read", "workorders:write", "catalog:read", "handoff:write"],
        unit_id=None, expires_at=now + timedelta(seconds=1), now=now - timedelta(seconds=10))
    await session.commit()
    return w


async def subscribe(session: AsyncSession, clock: FakeClock, url: str, events: list[str] | None = None,
                    unit: OrgUnit | None = None) -> WebhookSubscription:
    sub = WebhookSubscription(name="partner", url=url, secret=SECRET, events=events or ["*"],
                              unit_id=unit.id if unit else None, active=True, created_at=clock.now())
    session.add(sub)
    await session.commit()
    return sub


def bearer(token: str) -> dict[str, Any]:
    return {"Authorization": f"Bearer {token}"}


Receiver = integration_client.Receiver
verify = integration_client.verify
