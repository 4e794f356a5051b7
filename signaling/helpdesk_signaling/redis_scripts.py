"""Lua for RedisHub: each step on a room and its members that must be atomic across processes.

Keys and channels are those listed in redis_hub's docstring. CONNECT, DISCONNECT and TOUCH take the
member's KEYS (RedisHub._member_keys: owner, mrooms, drops, seen); CONNECT, DISCONNECT and CLOSE build
the other room or member keys from a prefix in ARGV, hence one hash tag per deployment on Redis Cluster.
"""

from __future__ import annotations

# A member still in `seen` never closed its last socket (its process died, or the socket is still
# open): the new socket takes over, which the peer hears as a drop and a resume ('!' before the room).
CONNECT = """
local was = redis.call('ZSCORE', KEYS[4], ARGV[4])
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('ZADD', KEYS[4], ARGV[5], ARGV[4])
redis.call('EXPIRE', KEYS[4], ARGV[6])
local out = {}
for _, r in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if redis.call('HDEL', ARGV[3] .. r, 'dropped:' .. ARGV[4]) == 1 then
    redis.call('ZREM', KEYS[3], r .. '\\t' .. ARGV[4])
    table.insert(out, r)
  elseif was and redis.call('EXISTS', ARGV[3] .. r) == 1 then
    table.insert(out, '!' .. r)
  end
end
return out
"""
DISCONNECT = """
local cur = redis.call('GET', KEYS[1])
if ARGV[1] ~= '' and cur and cur ~= ARGV[1] then return false end
if ARGV[1] == '' then
  local seen = redis.call('ZSCORE', KEYS[4], ARGV[4])
  if not seen or tonumber(seen) > tonumber(ARGV[5]) then return false end
end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[4], ARGV[4])
local out = {}
for _, r in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if redis.call('EXISTS', ARGV[3] .. r) == 1 then
    redis.call('HSET', ARGV[3] .. r, 'dropped:' .. ARGV[4], ARGV[2])
    redis.call('ZADD', KEYS[3], ARGV[2], r .. '\\t' .. ARGV[4])
    redis.call('EXPIRE', KEYS[3], ARGV[6])
    table.insert(out, r)
  end
end
return out
"""
TOUCH = """
local cur = redis.call('GET', KEYS[1])
if cur and cur ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[4])
redis.call('EXPIRE', KEYS[4], ARGV[5])
return 1
"""
# To every other member of the room, or to ARGV[4] alone (-1: the sender is not a member, -2: nor is
# ARGV[4]); returns how many subscribers received it.
RELAY = """
local m = redis.call('HMGET', KEYS[1], 'a', 'b', 'c', 'd')
local member, target = false, false
for i = 1, 4 do
  if m[i] == ARGV[1] then member = true elseif m[i] and m[i] == ARGV[4] then target = true end
end
if not member then return -1 end
if ARGV[4] ~= '' then
  if not target then return -2 end
  return redis.call('PUBLISH', ARGV[2] .. ARGV[4], ARGV[3])
end
local n = 0
for i = 1, 4 do
  if m[i] and m[i] ~= ARGV[1] then n = n + redis.call('PUBLISH', ARGV[2] .. m[i], ARGV[3]) end
end
return n
"""
OPEN = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local slots = {'a', 'b', 'c', 'd'}
redis.call('HSET', KEYS[1], 'meta', ARGV[1])
for i = 2, #KEYS do
  redis.call('HSET', KEYS[1], slots[i - 1], ARGV[i + 2])
  redis.call('SADD', KEYS[i], ARGV[3])
  redis.call('EXPIRE', KEYS[i], ARGV[2])
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"""
# A member joins the first free slot: 1 joined, 0 already there, -1 no room, -2 full.
JOIN = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local free = false
for _, s in ipairs({'a', 'b', 'c', 'd'}) do
  local v = redis.call('HGET', KEYS[1], s)
  if v == ARGV[1] then return 0 end
  if not v and not free then free = s end
end
if not free then return -2 end
redis.call('HSET', KEYS[1], free, ARGV[1])
redis.call('SADD', KEYS[2], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return 1
"""
# A member leaves a call that goes on: 1 left, -1 not a member, -2 only two left (end the call instead).
LEAVE = """
local n, at = 0, false
for _, s in ipairs({'a', 'b', 'c', 'd'}) do
  local v = redis.call('HGET', KEYS[1], s)
  if v then n = n + 1 end
  if v == ARGV[1] then at = s end
end
if not at then return -1 end
if n <= 2 then return -2 end
redis.call('HDEL', KEYS[1], at, 'dropped:' .. ARGV[1])
redis.call('SREM', KEYS[2], ARGV[2])
redis.call('ZREM', KEYS[3], ARGV[2] .. '\\t' .. ARGV[1])
return 1
"""
# Close a room; with ARGV[2] (now) only if some member's grace deadline has passed, and then the due
# drop entries ARGV[4..] that turn out stale (room gone or member back) are removed. Returns the hash.
CLOSE = """
local h = redis.call('HGETALL', KEYS[1])
local room = ARGV[1]
local f = {}
for i = 1, #h, 2 do f[h[i]] = h[i + 1] end
if ARGV[2] ~= '' then
  local due = false
  for k, v in pairs(f) do
    if string.sub(k, 1, 8) == 'dropped:' and tonumber(v) <= tonumber(ARGV[2]) then due = true end
  end
  if not due then
    for i = 4, #ARGV do
      local sc = redis.call('ZSCORE', KEYS[2], ARGV[i])
      if sc and tonumber(sc) <= tonumber(ARGV[2]) then redis.call('ZREM', KEYS[2], ARGV[i]) end
    end
    return {}
  end
end
if #h == 0 then return h end
redis.call('DEL', KEYS[1])
for _, s in ipairs({'a', 'b', 'c', 'd'}) do
  local m = f[s]
  if m then
    redis.call('SREM', ARGV[3] .. m, room)
    redis.call('ZREM', KEYS[2], room .. '\\t' .. m)
  end
end
return h
"""
