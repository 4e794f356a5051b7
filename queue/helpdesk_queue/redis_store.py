"""The shared backend for several processes: Redis hashes and sorted sets, Lua for the races.

Key layout (every key under the deployment's prefix, every key with an expiry):
  {p}q:e:{ticket}    hash   one waiting entry                    TTL entry_ttl_s, refreshed on write
  {p}q:all           zset   every queued ticket, score below      TTL entry_ttl_s
  {p}q:line:{line}   zset   the tickets of one line (unit:item)   TTL entry_ttl_s
  {p}q:a:{agent_id}  hash   one agent's presence                  TTL agent_ttl_s, refreshed on write
  {p}q:agents        set    known agent ids                       TTL agent_ttl_s
  {p}q:ht:{line}     list   newest handle times of a line         TTL handle_ttl_s
  {p}q:route-lock    string redis-py lock around a routing pass   PX route_lock_s
Score = -priority·1e10 + enqueued_at; reads re-sort by the exact key, so float rounding never
reorders anyone. Snapshots read hashes by key names built in Lua from the prefix: meant for a
standalone Redis (or one cluster slot via a {hash tag} prefix). The client must be created with
decode_responses=True.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import cast

from redis.asyncio import Redis
from redis.exceptions import LockError, WatchError

from helpdesk_queue import agents as agent_rules
from helpdesk_queue.models import AgentPresence, WaitingEntry
from helpdesk_queue.store import AgentChange

log = logging.getLogger(__name__)

# waiting → offered, only when still waiting: of concurrent claimers exactly one sees 'waiting'.
CLAIM = """
if redis.call('HGET', KEYS[1], 'state') ~= 'waiting' then return 0 end
redis.call('HSET', KEYS[1], 'state', 'offered', 'to', ARGV[1], 'lvl', ARGV[2], 'exp', ARGV[3])
return 1
"""
# offered (to ARGV[1]) → waiting; ARGV[2] == '1' adds the agent to the entry's declined list.
RELEASE = """
local f = redis.call('HMGET', KEYS[1], 'state', 'to', 'declined')
if f[1] ~= 'offered' or f[2] ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'state', 'waiting', 'to', '', 'exp', '')
if ARGV[2] == '1' then
  local d = f[3] or ''
  for id in string.gmatch(d, '[^,]+') do if id == ARGV[1] then return 1 end end
  if d == '' then d = ARGV[1] else d = d .. ',' .. ARGV[1] end
  redis.call('HSET', KEYS[1], 'declined', d)
end
return 1
"""
# One free slot of a working agent for an offer (the same rule as agents.reserve).
RESERVE = """
local f = redis.call('HMGET', KEYS[1], 'state', 'cap', 'calls', 'pending')
if f[1] ~= 'ready' and f[1] ~= 'offered' and f[1] ~= 'busy' then return 0 end
local pending = tonumber(f[4])
if tonumber(f[3]) + pending >= tonumber(f[2]) then return 0 end
redis.call('HSET', KEYS[1], 'pending', pending + 1, 'state', 'offered')
return 1
"""
# Read and delete an entry and its zset memberships in one step (KEYS: entry, all, line).
REMOVE = """
local h = redis.call('HGETALL', KEYS[1])
if #h == 0 then return h end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
return h
"""
# Every hash a zset or set indexes, as one JSON string: one round trip and a C-speed parse instead
# of a thousand replies parsed in Python. Members whose hash expired are dropped on the way.
# KEYS[1] the index; ARGV[1] the hash key prefix; ARGV[2] 'z' (sorted set) or 's' (set).
SNAPSHOT = """
local ids = ARGV[2] == 'z' and redis.call('ZRANGE', KEYS[1], 0, -1) or redis.call('SMEMBERS', KEYS[1])
local out = {}
for _, id in ipairs(ids) do
  local h = redis.call('HGETALL', ARGV[1] .. id)
  if #h == 0 then
    if ARGV[2] == 'z' then redis.call('ZREM', KEYS[1], id) else redis.call('SREM', KEYS[1], id) end
  else
    out[#out + 1] = h
  end
end
if #out == 0 then return '[]' end
return cjson.encode(out)
"""


def _pairs(flat: list[str]) -> dict[str, str]:
    return dict(zip(flat[::2], flat[1::2], strict=True))


def _score(entry: WaitingEntry) -> float:
    return -entry.priority * 1e10 + entry.enqueued_at


def _opt(value: str) -> float | None:
    return float(value) if value else None


def encode_entry(e: WaitingEntry) -> dict[str, str]:
    return {
        "ticket": e.ticket, "wo": e.work_order_id, "chain": json.dumps(e.unit_chain), "item": str(e.item_id),
        "dept": str(e.department_id), "prio": str(e.priority), "at": repr(e.enqueued_at), "state": e.state,
        "to": "" if e.offered_to is None else str(e.offered_to), "lvl": str(e.fallback_level),
        "exp": "" if e.offer_expires_at is None else repr(e.offer_expires_at), "line": e.line,
        "declined": ",".join(str(a) for a in e.declined_by),
        "pin": "" if e.pinned_agent is None else str(e.pinned_agent),
    }  # fmt: skip


def decode_entry(h: dict[str, str]) -> WaitingEntry:
    return WaitingEntry(
        h["ticket"], h["wo"], json.loads(h["chain"]), int(h["item"]), int(h["dept"]),
        priority=int(h["prio"]), enqueued_at=float(h["at"]), state=h["state"],  # type: ignore[arg-type]
        offered_to=int(h["to"]) if h["to"] else None, fallback_level=int(h["lvl"]),
        offer_expires_at=_opt(h["exp"]), declined_by=[int(a) for a in h["declined"].split(",") if a],
        pinned_agent=int(h["pin"]) if h.get("pin") else None,
    )  # fmt: skip


def encode_agent(a: AgentPresence) -> dict[str, str]:
    return {
        "id": str(a.agent_id), "unit": str(a.unit_id), "items": json.dumps(sorted(a.item_ids)),
        "depts": json.dumps(sorted(a.department_ids)), "cap": str(a.capacity), "calls": str(a.active_calls),
        "pending": str(a.pending_offers), "state": a.state, "idle": repr(a.idle_since),
        "missed": str(a.missed_offers), "hb": repr(a.last_heartbeat),
        "wrap": "" if a.wrapup_until is None else repr(a.wrapup_until),
    }  # fmt: skip


def decode_agent(h: dict[str, str]) -> AgentPresence:
    return AgentPresence(
        int(h["id"]), int(h["unit"]), set(json.loads(h["items"])), set(json.loads(h["depts"])),
        capacity=int(h["cap"]), active_calls=int(h["calls"]), pending_offers=int(h["pending"]),
        state=h["state"], idle_since=float(h["idle"]), missed_offers=int(h["missed"]),  # type: ignore[arg-type]
        last_heartbeat=float(h["hb"]), wrapup_until=_opt(h["wrap"]),
    )  # fmt: skip


class RedisQueueStore:
    """QueueStore on Redis; claim, release, reserve and remove are Lua scripts, agent updates CAS."""

    def __init__(
        self,
        client: Redis,
        *,
        prefix: str = "hd:",
        entry_ttl_s: int = 6 * 3600,
        agent_ttl_s: int = 24 * 3600,
        handle_ttl_s: int = 7 * 24 * 3600,
        route_lock_s: float = 5.0,
    ) -> None:
        if not client.get_encoder().decode_responses:
            raise ValueError("RedisQueueStore needs a client created with decode_responses=True")
        self.r = client
        self.p = f"{prefix}q:"
        self.entry_ttl_s, self.agent_ttl_s, self.handle_ttl_s = entry_ttl_s, agent_ttl_s, handle_ttl_s
        self.route_lock_s = route_lock_s
        self._claim = client.register_script(CLAIM)
        self._release = client.register_script(RELEASE)
        self._reserve = client.register_script(RESERVE)
        self._remove = client.register_script(REMOVE)
        self._snapshot = client.register_script(SNAPSHOT)

    def _e(self, ticket: str) -> str:
        return f"{self.p}e:{ticket}"

    def _line(self, line: str) -> str:
        return f"{self.p}line:{line}"

    def _a(self, agent_id: int) -> str:
        return f"{self.p}a:{agent_id}"

    @asynccontextmanager
    async def route_lock(self) -> AsyncIterator[object]:
        """One routing pass at a time across processes; if the lock is slow, route anyway (safe)."""
        key, wait = f"{self.p}route-lock", self.route_lock_s
        lock = self.r.lock(key, timeout=wait, sleep=0.005, blocking_timeout=wait)
        got = await lock.acquire()
        if not got:
            log.warning("routing lock busy for %.1f s; routing without it", self.route_lock_s)
        try:
            yield lock
        finally:
            if got:
                try:
                    await lock.release()
                except LockError:
                    log.warning("routing pass outlived its %.1f s lock", self.route_lock_s)

    async def add_entry(self, entry: WaitingEntry) -> None:
        key, all_key, line_key = self._e(entry.ticket), f"{self.p}all", self._line(entry.line)
        async with self.r.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            pipe.hset(key, mapping=encode_entry(entry))  # type: ignore[arg-type]
            pipe.zadd(all_key, {entry.ticket: _score(entry)})
            pipe.zadd(line_key, {entry.ticket: _score(entry)})
            for k in (key, all_key, line_key):
                pipe.expire(k, self.entry_ttl_s)
            await pipe.execute()

    async def remove_entry(self, ticket: str) -> WaitingEntry | None:
        line = cast(str | None, await self.r.hget(self._e(ticket), "line"))
        if line is None:
            return None
        flat: list[str] = await self._remove(
            keys=[self._e(ticket), f"{self.p}all", self._line(line)], args=[ticket]
        )
        return decode_entry(_pairs(flat)) if flat else None

    async def get_entry(self, ticket: str) -> WaitingEntry | None:
        h = cast(dict[str, str], await self.r.hgetall(self._e(ticket)))
        return decode_entry(h) if h else None

    async def list_waiting(self, line: str | None = None) -> list[WaitingEntry]:
        zkey = f"{self.p}all" if line is None else self._line(line)
        flat = json.loads(await self._snapshot(keys=[zkey], args=[f"{self.p}e:", "z"]))
        entries = [decode_entry(_pairs(h)) for h in flat]
        return sorted((e for e in entries if line is None or e.line == line), key=WaitingEntry.sort_key)

    async def claim(self, ticket: str, agent_id: int, fallback_level: int, expires_at: float) -> bool:
        args = [str(agent_id), str(fallback_level), repr(expires_at)]
        return bool(await self._claim(keys=[self._e(ticket)], args=args))

    async def release(self, ticket: str, agent_id: int, exclude_agent: bool) -> bool:
        args = [str(agent_id), "1" if exclude_agent else "0"]
        return bool(await self._release(keys=[self._e(ticket)], args=args))

    async def upsert_agent(self, agent: AgentPresence) -> None:
        key, set_key = self._a(agent.agent_id), f"{self.p}agents"
        async with self.r.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            pipe.hset(key, mapping=encode_agent(agent))  # type: ignore[arg-type]
            pipe.expire(key, self.agent_ttl_s)
            pipe.sadd(set_key, str(agent.agent_id))
            pipe.expire(set_key, self.agent_ttl_s)
            await pipe.execute()

    async def get_agent(self, agent_id: int) -> AgentPresence | None:
        h = cast(dict[str, str], await self.r.hgetall(self._a(agent_id)))
        return decode_agent(h) if h else None

    async def list_agents(self) -> list[AgentPresence]:
        flat = json.loads(await self._snapshot(keys=[f"{self.p}agents"], args=[f"{self.p}a:", "s"]))
        return sorted((decode_agent(_pairs(h)) for h in flat), key=lambda a: a.agent_id)

    async def reserve_agent(self, agent_id: int) -> bool:
        return bool(await self._reserve(keys=[self._a(agent_id)]))

    async def update_agent(self, agent_id: int, change: AgentChange) -> AgentPresence | None:
        """Optimistic check-and-set: WATCH the hash, apply the rule in Python, retry on a race."""
        key = self._a(agent_id)
        async with self.r.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(key)
                    h = cast(dict[str, str], await pipe.hgetall(key))
                    if not h:
                        await pipe.reset()
                        return None
                    agent = decode_agent(h)
                    change(agent)
                    pipe.multi()
                    pipe.hset(key, mapping=encode_agent(agent))  # type: ignore[arg-type]
                    pipe.expire(key, self.agent_ttl_s)
                    await pipe.execute()
                    return agent
                except WatchError:
                    continue

    async def expire_stale(self, now: float, ttl_s: float) -> list[int]:
        expired: dict[int, bool] = {}  # the last attempt's verdict wins when a CAS retries

        def expire_if_stale(agent: AgentPresence) -> None:
            expired[agent.agent_id] = agent.state != "offline" and agent.last_heartbeat < now - ttl_s
            if expired[agent.agent_id]:
                agent_rules.expire(agent)

        for agent in await self.list_agents():
            if agent.state != "offline" and agent.last_heartbeat < now - ttl_s:
                await self.update_agent(agent.agent_id, expire_if_stale)
        return sorted(a for a, stale in expired.items() if stale)

    async def add_handle_time(self, line: str, seconds: float, keep: int) -> None:
        key = f"{self.p}ht:{line}"
        async with self.r.pipeline(transaction=True) as pipe:
            pipe.lpush(key, repr(seconds))
            pipe.ltrim(key, 0, keep - 1)
            pipe.expire(key, self.handle_ttl_s)
            await pipe.execute()

    async def handle_times(self, line: str) -> list[float]:
        values = cast(list[str], await self.r.lrange(f"{self.p}ht:{line}", 0, -1))
        return [float(v) for v in reversed(values)]
