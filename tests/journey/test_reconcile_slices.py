"""The reconciler's look at waiting requests is bounded per pass (issue 15: no idle work that grows
with the queue): a slice of them in id order plus the last pass's suspects, and a request whose
queue entry was lost is still found, confirmed on a second sighting and queued again."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest

from helpdesk.clock import FakeClock
from helpdesk.config import Settings
from helpdesk.journey import reconcile
from tests.journey.live import Browser, live_app
from tests.journey.test_positions import queue_up


async def test_waiting_requests_are_compared_a_slice_at_a_time(
    settings: Settings, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reconcile, "WAITING_SLICE", 2)
    quiet = settings.model_copy(update={"reconcile_interval_s": 3600.0})  # only this test's passes run
    async with live_app(quiet, clock) as live, contextlib.AsyncExitStack() as stack:
        journey = live.state.components["journey"]
        agent = await stack.enter_async_context(Browser(live))
        await agent.login(live.seed["agent"].username)
        await agent.connect()  # online but away: everyone waits
        waiting = []
        for i in range(5):
            b = await stack.enter_async_context(Browser(live))
            waiting.append(await queue_up(live, b, f"申请人{i}", clock))
        lost = max(waiting, key=lambda w: w["work_order"])  # the last slice's: found last
        await journey.queue.store.remove_entry(lost["ticket"])  # a step died between record and queue
        clock.advance(reconcile.SETTLE.total_seconds() + 1)

        reconciler = reconcile.Reconciler(journey)
        read: list[int] = []
        slice_of = reconciler._waiting

        async def counted(session: Any, now: Any) -> list[tuple[str, str]]:
            rows = await slice_of(session, now)
            read.append(len(rows))
            return rows

        reconciler._waiting = counted  # type: ignore[method-assign]
        requeued: list[str] = []
        for _ in range(6):
            requeued = (await reconciler.run()).requeued
            if requeued:
                break
        assert requeued == [lost["work_order"]]
        # 5 waiting, 2 a pass: seen on the third pass, confirmed on the fourth (as a suspect)
        assert len(read) == 4, read
        assert max(read) <= 2 + 1, read  # a slice, plus the one suspect
        entry = await journey.queue.store.get_entry(lost["ticket"])
        assert entry is not None and entry.work_order_id == lost["work_order"]
        assert (await reconciler.run()).requeued == []  # and nothing more to repair
