"""Agent presence transitions as pure functions, so both stores apply exactly the same rules."""

from __future__ import annotations

from typing import Literal

from helpdesk_queue.models import WORKING_STATES, AgentPresence, AgentState, InvalidState

OfferOutcome = Literal["accepted", "missed", "cancelled"]


def _settle_working(agent: AgentPresence) -> None:
    """A working agent's shown state follows its counters: ringing > in a call > ready."""
    if agent.state in WORKING_STATES:
        if agent.pending_offers > 0:
            agent.state = "offered"
        elif agent.active_calls > 0:
            agent.state = "busy"
        else:
            agent.state = "ready"


def reserve(agent: AgentPresence) -> bool:
    """Take one free slot for an offer; the Redis store does the same in Lua."""
    if not agent.routable:
        return False
    agent.pending_offers += 1
    agent.state = "offered"
    return True


def settle_offer(agent: AgentPresence, outcome: OfferOutcome, missed_limit: int, now: float | None = None) -> None:
    """An offer ended: accepted (one more call, from `now`), missed (declined or timed out) or cancelled."""
    agent.pending_offers = max(0, agent.pending_offers - 1)
    if outcome == "accepted":
        agent.active_calls += 1
        if agent.active_calls == 1:
            agent.call_since = now
        agent.missed_offers = 0
    elif outcome == "missed":
        agent.missed_offers += 1
        if agent.missed_offers >= missed_limit and agent.state in WORKING_STATES:
            agent.state = "away"  # K misses in a row: stop ringing someone who is not there
    _settle_working(agent)


def end_call(agent: AgentPresence, now: float, wrapup_s: float) -> None:
    """A call ended: wrap-up (or ready) once the agent holds no other call or offer."""
    agent.active_calls = max(0, agent.active_calls - 1)
    if agent.active_calls == 0:
        agent.call_since = None
    if agent.state in WORKING_STATES and agent.active_calls == 0 and agent.pending_offers == 0:
        if wrapup_s > 0:
            agent.state, agent.wrapup_until = "wrap_up", now + wrapup_s
        else:
            agent.state, agent.idle_since = "ready", now
    else:
        _settle_working(agent)


def finish_wrapup(agent: AgentPresence, now: float) -> bool:
    """Wrap-up time is over: the agent is ready and idle from now."""
    if agent.state != "wrap_up" or agent.wrapup_until is None or agent.wrapup_until > now:
        return False
    agent.state, agent.idle_since, agent.wrapup_until = "ready", now, None
    return True


def set_state(agent: AgentPresence, state: AgentState, now: float) -> None:
    """The agent (or the app) asks for ready, away or offline."""
    if state == "ready":
        if agent.state not in WORKING_STATES:
            agent.idle_since = now  # available from now: joins the idle order at the back
            agent.missed_offers = 0
            agent.wrapup_until = None
        agent.state = "ready"
        _settle_working(agent)
    elif state in ("away", "offline"):
        agent.state = state
        agent.wrapup_until = None
    else:
        raise InvalidState(f"an agent may ask for ready, away or offline, not {state!r}")


def expire(agent: AgentPresence) -> None:
    """No heartbeat within the TTL: the agent's process is gone; it holds nothing any more."""
    agent.state = "offline"
    agent.pending_offers = 0
    agent.active_calls = 0
    agent.call_since = None
    agent.wrapup_until = None


def drop_leaked(agent: AgentPresence, offers: int) -> None:
    """Free ringing slots no offer stands behind (a process died between reserve and claim)."""
    if agent.pending_offers > offers:
        agent.pending_offers = offers
        _settle_working(agent)
