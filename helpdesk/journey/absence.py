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
    """Arm (or move) these tickets' timers of one kind: one command for all of them."""
    grace = journey.state.settings.reconnect_grace_s
    due = journey.now().timestamp() + (grace if kind == ABSENT else grace / 2)
    await journey.queue.store.set_timers({kind + ticket: due for ticket in tickets})


async def socket_closed(journey: Journey, ticket: str) -> None:
    """The waiting applicant's last socket closed: they leave one grace from now unless back."""
    await arm(journey, [ticket], ABSENT)
    due = journey.now().timestamp() + journey.state.settings.reconnect_grace_s
    await journey.queue.store.clear_timers([CHECK + ticket], due)  # the absence runs from now


async def sweep(journey: Journey) -> None:
    """Leader only: act on the presence timers that are due (one presence read for all of them)."""
    from helpdesk.journey.service import applicant_member

    store, now = journey.queue.store, journey.now().timestamp()
    due = [key for key, _ in await store.due_timers(now) if key[:2] in (CHECK, ABSENT)]
    if not due:
        return
    online = await journey.hub.online([applicant_member(key[2:]) for key in due])  # one round trip
    here = {key[2:] for key in due if applicant_member(key[2:]) in online}
    gone = [key for key in due if key[2:] not in here]
    # Online: check again later (an absence armed by a recent disconnect stays: it re-checks).
    # A check that finds no socket starts the absence; an absence that finds none ends the wait.
    await arm(journey, here, CHECK)
    await arm(journey, [key[2:] for key in gone if key[:2] == CHECK], ABSENT)
    await store.clear_timers([key for key in due if key[:2] == ABSENT or key[2:] not in here], now)
    for key in gone:
        if key[:2] == ABSENT:
            await journey.queue.leave(key[2:])
