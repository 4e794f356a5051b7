"""Waiting applicants without a socket leave after the reconnect grace: timers per entry, not a
sweep over the queue every second.

Two timers in the queue store's timer set (both go with the entry):
- `a:{ticket}` periodic check, armed at the join, then every grace / 2 while they have a socket
  somewhere; seen without one, their absence starts: a process killed without closing its sockets
  shows up here once their ownership keys lapse.
- `A:{ticket}` absent since (due − grace): armed whenever their socket closes (or a check found
  none), for now + reconnect_grace_s. Firing: still no socket on any process → they leave; a
  socket → back to the periodic check.
So a closed socket leaves after exactly the grace, a killed process's applicant (or one who never
opened a socket) after its ownership TTL + between 1 and 1.5 graces. Cost: two firings per
waiting applicant per grace, in batches (1,000 waiting, 30 s grace: ~67 a second; one round trip
for their presence per tick).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from helpdesk.journey.service import Journey

CHECK, ABSENT = "a:", "A:"


async def arm(journey: Journey, tickets: Iterable[str], kind: str = ABSENT) -> None:
    grace = journey.state.settings.reconnect_grace_s
    due = journey.now().timestamp() + (grace if kind == ABSENT else grace / 2)
    other = CHECK if kind == ABSENT else ABSENT
    store = journey.queue.store
    for ticket in tickets:
        await store.set_timer(kind + ticket, due)
        await store.clear_timers([other + ticket], due)


async def sweep(journey: Journey) -> None:
    """Leader only: act on the presence timers that are due."""
    from helpdesk.journey.service import applicant_member

    store, now = journey.queue.store, journey.now().timestamp()
    due = [key for key, _ in await store.due_timers(now) if key[:2] in (CHECK, ABSENT)]
    if not due:
        return
    online = await journey.hub.online([applicant_member(key[2:]) for key in due])  # one round trip
    here = [key[2:] for key in due if applicant_member(key[2:]) in online]
    await arm(journey, here, CHECK)
    await arm(journey, [key[2:] for key in due if key[:2] == CHECK and key[2:] not in here], ABSENT)
    for key in due:
        if key[:2] == ABSENT and key[2:] not in here:
            await store.clear_timers([key], now)
            await journey.queue.leave(key[2:])
