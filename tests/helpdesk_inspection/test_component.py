"""The wiring surface: socket messages and their typed errors, hang-up, retention, shutdown."""

from __future__ import annotations

import contextlib
import hashlib
from types import SimpleNamespace
from typing import Any

import pytest
from helpdesk_inspection.component import InspectionComponent, wire, ws_error
from helpdesk_inspection.errors import InspectionError
from helpdesk_inspection.models import InspectionStatus
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from helpdesk.clock import FakeClock
from helpdesk.config import Settings

from .conftest import World


async def test_socket_messages_hangup_and_shutdown(
    settings: Settings, clock: FakeClock, world: World, db_sessions: async_sessionmaker[AsyncSession]
) -> None:
    sent: list[tuple[str, dict[str, Any]]] = []
    state = SimpleNamespace(settings=settings, clock=clock, sessions=db_sessions, redis=None, components={})
    async with contextlib.AsyncExitStack() as stack:
        component = await wire(state, stack, send_to_member=lambda m, msg: sent.append((m, msg)))
        assert state.components["inspection"] is component
        async with db_sessions() as s:
            insp = await component.service.start(s, staff=world.agent, work_order_id=world.work_order, room="r1")
            await s.commit()
            await component.service.deliver(s)
        assert [m for m, _ in sent] == [f"a:{world.applicant_id}", f"s:{world.agent.id}"]

        signal = {"type": "inspection.signal", "inspection": insp.id, "candidate": None}
        with pytest.raises(InspectionError) as err:
            await component.handle_client_message(f"s:{world.agent.id}", signal)
        assert ws_error(err.value)["code"] == "forbidden"
        with pytest.raises(InspectionError) as err:  # not consented yet
            await component.handle_client_message(f"a:{world.applicant_id}", signal)
        body = ws_error(err.value)
        assert (body["type"], body["code"], body["reason"]) == ("error", "conflict", "wrong_state")
        with pytest.raises(InspectionError) as err:
            await component.handle_client_message(f"a:{world.applicant_id}", {"type": "nope"})
        assert err.value.code == "unknown_type"

        orphan = settings.recordings_dir / insp.id / "recording-1.mp4"  # left by a process that died
        orphan.parent.mkdir(parents=True)
        orphan.write_bytes(b"fragment")
        await component.on_call_ended(world.work_order)
        await component.on_call_ended(world.work_order)  # nothing live any more: a no-op
        async with db_sessions() as s:
            done = await component.service.get(s, insp.id)
        assert done.status == InspectionStatus.cancelled
        assert done.recordings == [
            {
                "key": f"{insp.id}/recording-1.mp4",
                "sha256": hashlib.sha256(b"fragment").hexdigest(),
                "bytes": 8,
                "duration_s": None,
                "frames": None,
                "recovered": True,
            }
        ]
        assert await component.sweep_retention() == 0
    assert isinstance(component, InspectionComponent)
