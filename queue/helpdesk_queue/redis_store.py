"""The shared backend for several processes: Redis hashes and sorted sets, Lua for the races.

Key layout (every key under the deployment's prefix, every key with an expiry; docs/redis.md):
  {p}q:e:{ticket}    hash   one waiting entry                    TTL entry_ttl_s, refreshed on write
  {p}q:all           zset   every queued ticket, score below      TTL entry_ttl_s
  {p}q:line:{line}   zset   the tickets of one line (unit:item)   TTL entry_ttl_s
  {p}q:r:{set}       zset   waiting entries a routing set holds   TTL entry_ttl_s
                            ({unit}:i:{item}, {unit}:d:{dept}, pin:{agent_id}; see index.py)
  {p}q:ao:{agent_id} set    tickets ringing at the agent          TTL entry_ttl_s
  {p}q:due           zset   timers (o:/f:/a:{ticket}, w:{agent}), score = due time
  {p}q:lo:{line}     zset   the offered entries of a line (positions skip them)   TTL entry_ttl_s
  {p}q:lv            hash   line → version (advanced on every change of the line)
  {p}q:a:{agent_id}  hash   one agent's presence (+ `ik` its sets, `v` its version)
  {p}q:ai:{set}      zset   routable agents of a (unit, skill) set, score = load·1e10 +
                            idle_since, member = the id zero-padded to 12 digits   TTL agent_ttl_s
  {p}q:hb            zset   agents not offline, score = last heartbeat           TTL agent_ttl_s
  {p}q:agents        set    known agent ids                       TTL agent_ttl_s
  {p}q:ht:{line}     list   newest handle times of a line         TTL handle_ttl_s
  {p}q:route-lock    string redis-py lock around a scan-mode routing pass   PX route_lock_s
Score = -priority·1e10 + enqueued_at; reads re-sort by the exact key, so float rounding never
reorders anyone. Scripts (redis_scripts.py, redis_routing.py) build key names from the prefix: meant for a
standalone Redis (or one cluster slot via a {hash tag} prefix). The client must be created with
decode_responses=True. The hashes' fields: redis_codec.py.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import LockError

from helpdesk_queue import agents as agent_rules
from helpdesk_queue import index, redis_routing, redis_scripts
from helpdesk_queue.models import AgentPresence, WaitingEntry
from helpdesk_queue.redis_codec import decode_agent, decode_entry, decode_row, encode_agent, encode_entry
from helpdesk_queue.store import AgentChange, LineChange

log = logging.getLogger(__name__)

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

BULK = 500  # keys per pipelined round trip in bulk reads


def _pairs(flat: list[str]) -> dict[str, str]:
    return dict(zip(flat[::2], flat[1::2], strict=True))


def _flat(mapping: dict[str, str]) -> list[str]:
    return [x for kv in mapping.items() for x in kv]


class RedisQueueStore:
    """QueueStore on Redis: every change is one Lua script that keeps the indexes in step."""

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
        self._base = [self.p, str(entry_ttl_s), str(agent_ttl_s)]
        names = ("ADD", "REMOVE", "CLAIM", "RELEASE", "RESERVE", "OFFER", "TAKE", "OPEN_LEVEL",
                 "UPSERT_AGENT", "CAS_AGENT", "HEARTBEAT", "HEADS", "AGENTS_FOR", "CLEAR_TIMERS", "LEAKS",
                 "LINE_CHANGES", "SET_READY", "ROUTE_AGENT")  # fmt: skip
        source = {name: getattr(redis_routing, name, None) or getattr(redis_scripts, name) for name in names}
        self._scripts = {name: client.register_script(text) for name, text in source.items()}
        self._snapshot = client.register_script(SNAPSHOT)
        # The followers' entries as last decoded, with the fields they came from: a line moving
        # changes most followers' positions but few of their entries, so most rows decode to the
        # entry already held (line_changes; bounded by the followers asked about)
        self._rows: dict[str, tuple[list[Any], WaitingEntry]] = {}

    async def _run(self, name: str, *args: object) -> Any:
        return await self._scripts[name](args=[*self._base, *(str(a) for a in args)])

    def _e(self, ticket: str) -> str:
        return f"{self.p}e:{ticket}"

    def _a(self, agent_id: int) -> str:
        return f"{self.p}a:{agent_id}"

    @asynccontextmanager
    async def route_lock(self) -> AsyncIterator[object]:
        """One scan-mode routing pass at a time across processes; if the lock is slow, route anyway
        (safe). Routing by index needs no lock: each offer is one atomic script."""
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

    # ---- entries -------------------------------------------------------------------------------
    async def add_entry(self, entry: WaitingEntry) -> None:
        fields = encode_entry(entry)
        await self._run("ADD", entry.ticket, entry.line, fields["sc"], *_flat(fields))

    async def remove_entry(self, ticket: str) -> WaitingEntry | None:
        flat: list[str] = await self._run("REMOVE", ticket)
        return decode_entry(_pairs(flat)) if flat else None

    async def get_entry(self, ticket: str) -> WaitingEntry | None:
        h = cast(dict[str, str], await self.r.hgetall(self._e(ticket)))
        return decode_entry(h) if h else None

    async def entry_work_orders(self, tickets: list[str]) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        for i in range(0, len(tickets), BULK):  # one pipelined round trip per BULK tickets
            chunk = tickets[i:i + BULK]
            async with self.r.pipeline(transaction=False) as pipe:
                for ticket in chunk:
                    pipe.hget(self._e(ticket), "wo")
                found = await pipe.execute()
            out.update((t, wo or None) for t, wo in zip(chunk, found, strict=True))
        return out

    async def list_waiting(self, line: str | None = None) -> list[WaitingEntry]:
        zkey = f"{self.p}all" if line is None else f"{self.p}line:{line}"
        flat = json.loads(await self._snapshot(keys=[zkey], args=[f"{self.p}e:", "z"]))
        entries = [decode_entry(_pairs(h)) for h in flat]
        return sorted((e for e in entries if line is None or e.line == line), key=WaitingEntry.sort_key)

    async def claim(self, ticket: str, agent_id: int, fallback_level: int, expires_at: float) -> bool:
        return bool(await self._run("CLAIM", ticket, agent_id, fallback_level, repr(expires_at)))

    async def release(self, ticket: str, agent_id: int, exclude_agent: bool) -> bool:
        return bool(await self._run("RELEASE", ticket, agent_id, "1" if exclude_agent else "0"))

    # ---- agents --------------------------------------------------------------------------------
    async def upsert_agent(self, agent: AgentPresence) -> None:
        await self._run("UPSERT_AGENT", agent.agent_id, *_flat(encode_agent(agent)))

    async def get_agent(self, agent_id: int) -> AgentPresence | None:
        h = cast(dict[str, str], await self.r.hgetall(self._a(agent_id)))
        return decode_agent(h) if h else None

    async def list_agents(self) -> list[AgentPresence]:
        flat = json.loads(await self._snapshot(keys=[f"{self.p}agents"], args=[f"{self.p}a:", "s"]))
        return sorted((decode_agent(_pairs(h)) for h in flat), key=lambda a: a.agent_id)

    async def reserve_agent(self, agent_id: int) -> bool:
        return bool(await self._run("RESERVE", agent_id))

    async def update_agent(self, agent_id: int, change: AgentChange) -> AgentPresence | None:
        """Optimistic check-and-set on the hash's version `v`: read, apply the rule in Python, write
        only the fields it changed if nobody wrote in between (else read again)."""
        while True:
            h = cast(dict[str, str], await self.r.hgetall(self._a(agent_id)))
            if not h:
                return None
            agent = decode_agent(h)
            change(agent)
            new = encode_agent(agent)
            changed = [x for k, v in new.items() if h.get(k) != v for x in (k, v)]
            verdict = int(await self._run("CAS_AGENT", agent_id, h.get("v", "0"), *changed))
            if verdict == 1:
                return agent
            if verdict == -1:
                return None

    async def expire_stale(self, now: float, ttl_s: float) -> list[int]:
        expired: dict[int, bool] = {}  # the last attempt's verdict wins when a CAS retries

        def expire_if_stale(agent: AgentPresence) -> None:
            expired[agent.agent_id] = agent.state != "offline" and agent.last_heartbeat < now - ttl_s
            if expired[agent.agent_id]:
                agent_rules.expire(agent)

        stale = cast(list[str], await self.r.zrangebyscore(f"{self.p}hb", "-inf", f"({now - ttl_s!r}"))
        for agent_id in stale:
            if await self.update_agent(int(agent_id), expire_if_stale) is None:
                await self.r.zrem(f"{self.p}hb", agent_id)  # its hash expired
        return sorted(a for a, gone in expired.items() if gone)

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

    # ---- routing by index ----------------------------------------------------------------------
    async def heads_for_agents(self, agent_ids: list[int]) -> tuple[list[AgentPresence], list[WaitingEntry]]:
        if not agent_ids:
            return [], []
        agents, entries = json.loads(await self._run("HEADS", *agent_ids))
        return ([decode_agent(_pairs(h)) for h in agents or []],
                [decode_entry(_pairs(h)) for h in entries or []])  # fmt: skip

    async def agents_for_entry(self, entry: WaitingEntry) -> list[tuple[int, AgentPresence]]:
        pin = entry.active_pin
        if pin is not None:
            agent = await self.get_agent(pin)
            if agent is None or not agent.routable or agent.unit_id not in entry.unit_chain:
                return []
            return [(entry.unit_chain.index(agent.unit_id), agent)]
        top = min(entry.reach, len(entry.unit_chain) - 1)
        levels = [" ".join(index.level_keys(entry, level)) for level in range(top + 1)]
        declined = ",".join(str(a) for a in entry.declined_by)
        level, found = json.loads(await self._run("AGENTS_FOR", declined, *levels))
        return [(level, decode_agent(_pairs(h))) for h in found or []]

    async def offer(self, ticket: str, agent_id: int, fallback_level: int, expires_at: float) -> AgentPresence | None:
        flat: list[str] = await self._run("OFFER", ticket, agent_id, fallback_level, repr(expires_at))
        return decode_agent(_pairs(flat)) if flat else None

    async def route_agent(
        self, agent_id: int, expires_at: float
    ) -> tuple[WaitingEntry, AgentPresence, int] | None:
        got = await self._run("ROUTE_AGENT", agent_id, repr(expires_at))
        if not got:
            return None
        return decode_entry(_pairs(got[0])), decode_agent(_pairs(got[1])), int(got[2])

    async def take_offer(
        self, ticket: str, agent_id: int, now: float
    ) -> tuple[str, WaitingEntry | None, AgentPresence | None]:
        verdict, flat, agent = await self._run("TAKE", ticket, agent_id, repr(now))
        return (str(verdict), decode_entry(_pairs(flat)) if flat else None,
                decode_agent(_pairs(agent)) if agent else None)  # fmt: skip

    async def offers_of(self, agent_id: int) -> list[WaitingEntry]:
        tickets = cast(list[str], await self.r.smembers(f"{self.p}ao:{agent_id}"))
        entries = [await self.get_entry(t) for t in tickets]
        return sorted((e for e in entries if e is not None and e.offered_to == agent_id), key=WaitingEntry.sort_key)

    async def open_level(self, ticket: str, level: int) -> WaitingEntry | None:
        flat: list[str] = await self._run("OPEN_LEVEL", ticket, level)
        return decode_entry(_pairs(flat)) if flat else None

    async def set_ready(self, agent_id: int, now: float) -> AgentPresence | None:
        flat: list[str] = await self._run("SET_READY", agent_id, repr(now))
        return decode_agent(_pairs(flat)) if flat else None

    async def heartbeat(self, agent_id: int, now: float) -> bool:
        return bool(await self._run("HEARTBEAT", agent_id, repr(now)))

    async def line_changes(self, known: dict[str, tuple[int, list[str]]]) -> dict[str, LineChange]:
        if not known:
            return {}
        flat = await self._run("LINE_CHANGES", json.dumps({k: [v, t] for k, (v, t) in known.items()}))
        if len(self._rows) > 2 * sum(len(t) for _, t in known.values()) + 1000:
            self._rows = {}  # followers gone since: drop what they left (kept while it is small)
        out: dict[str, LineChange] = {}
        width = 1 + len(redis_routing.ENTRY_FIELDS)
        for i in range(0, len(flat), 4):
            line, version, samples, rows = flat[i:i + 4]
            found = {}
            for j in range(0, len(rows), width):
                fields = rows[j + 1:j + width]
                held = self._rows.get(fields[0])
                if held is None or held[0] != fields:
                    held = self._rows[fields[0]] = (fields, decode_row(fields))
                found[fields[0]] = (held[1], int(rows[j]))
            out[line] = LineChange(int(version), found, [float(x) for x in reversed(samples)])
        return out

    async def ringing_without_offers(self) -> dict[int, int]:
        return {int(k): int(v) for k, v in json.loads(await self._run("LEAKS")).items()}

    async def heartbeats(self, agent_ids: list[int], now: float) -> set[int]:
        if not agent_ids:
            return set()
        script = self._scripts["HEARTBEAT"]
        async with self.r.pipeline(transaction=False) as pipe:
            for agent_id in agent_ids:
                await script(args=[*self._base, str(agent_id), repr(now)], client=pipe)
            alive = await pipe.execute()
        return {a for a, ok in zip(agent_ids, alive, strict=True) if ok}

    # ---- timers and line versions --------------------------------------------------------------
    async def set_timer(self, key: str, due: float) -> None:
        await self.set_timers({key: due})

    async def set_timers(self, timers: dict[str, float]) -> None:
        if timers:
            async with self.r.pipeline(transaction=False) as pipe:
                pipe.zadd(f"{self.p}due", timers)
                pipe.expire(f"{self.p}due", self.entry_ttl_s)
                await pipe.execute()

    async def due_timers(self, now: float, limit: int = 500) -> list[tuple[str, float]]:
        rows = cast(list[tuple[str, float]], await self.r.zrangebyscore(
            f"{self.p}due", "-inf", repr(now), start=0, num=limit, withscores=True))  # fmt: skip
        return [(str(k), float(s)) for k, s in rows]

    async def clear_timers(self, keys: list[str], now: float) -> None:
        if keys:
            await self._run("CLEAR_TIMERS", repr(now), *keys)

    async def bump_lines(self, lines: list[str]) -> None:
        if lines:
            async with self.r.pipeline(transaction=False) as pipe:
                for line in lines:
                    pipe.hincrby(f"{self.p}lv", line, 1)
                pipe.expire(f"{self.p}lv", self.entry_ttl_s)
                await pipe.execute()

    async def line_versions(self, lines: list[str]) -> dict[str, int]:
        if not lines:
            return {}
        values = await self.r.hmget(f"{self.p}lv", lines)
        return {line: int(v or 0) for line, v in zip(lines, values, strict=True)}
