"""Lua for RedisQueueStore's routing reads and decisions: the heads of lines, the agents for an
entry, one freed agent's offer, and the positions of a line's followers (conventions as in
redis_scripts.py, whose PRELUDE they share)."""

from __future__ import annotations

from helpdesk_queue.redis_scripts import PRELUDE

# The entry fields LINE_CHANGES returns, in this order (redis_codec.decode_row reads them so)
ENTRY_FIELDS = ("ticket", "wo", "chain", "item", "dept", "prio", "at", "state", "to", "lvl", "exp", "declined",
                "pin", "reach")

# ARGV[4..] agent ids → JSON [agents' hashes, candidate entries' hashes]
HEADS = PRELUDE + """
local agents, free, want = {}, {}, 0
for i = 4, #ARGV do
  local ak = P .. 'a:' .. ARGV[i]
  local h = redis.call('HGETALL', ak)
  if #h > 0 then
    agents[#agents + 1] = h
    if routable(ak) then
      local f = redis.call('HMGET', ak, 'cap', 'calls', 'pending', 'ik')
      want = want + tonumber(f[1]) - tonumber(f[2]) - tonumber(f[3])
      free[#free + 1] = {ARGV[i], f[4] or ''}
    end
  end
end
local out, seen = {}, {}
for _, a in ipairs(free) do
  local keys = {}
  for k in string.gmatch(a[2], '%S+') do keys[#keys + 1] = k end
  keys[#keys + 1] = 'pin:' .. a[1]
  for _, k in ipairs(keys) do
    local n, start = 0, 0
    while n < want do
      local ids = redis.call('ZRANGE', P .. 'r:' .. k, start, start + want + 3)
      if #ids == 0 then break end
      for _, t in ipairs(ids) do
        if n >= want then break end
        if not has(redis.call('HGET', P .. 'e:' .. t, 'declined'), a[1]) then
          n = n + 1
          if not seen[t] then
            seen[t] = true
            out[#out + 1] = redis.call('HGETALL', P .. 'e:' .. t)
          end
        end
      end
      start = start + #ids
    end
  end
end
return cjson.encode({agents, out})
"""

# ARGV[4] the entry's declined ids (comma list), [5..] one string per opened level: its agent
# sets, space-separated. → JSON [level, agents' hashes]: the nearest level with a routable agent
# not declined, the best of each of its sets.
AGENTS_FOR = PRELUDE + """
local declined = ARGV[4]
for i = 5, #ARGV do
  local found = {}
  for k in string.gmatch(ARGV[i], '%S+') do
    local start = 0
    while true do
      local ids = redis.call('ZRANGE', P .. 'ai:' .. k, start, start + 7)
      if #ids == 0 then break end
      local hit = nil
      for _, m in ipairs(ids) do
        local id = string.format('%d', tonumber(m))
        if not has(declined, id) then hit = id break end
      end
      if hit then
        found[#found + 1] = redis.call('HGETALL', P .. 'a:' .. hit)
        break
      end
      start = start + #ids
    end
  end
  if #found > 0 then return cjson.encode({i - 5, found}) end
end
return '[0, []]'
"""

# ARGV[4] JSON {line: [known version, [tickets]]} → for each line whose version moved, a flat run
# line, version, handle times (newest first), rows; rows = per asked ticket queued in the line its
# position, then its ENTRY_FIELDS (redis_codec.decode_row). Position = 1 + waiting entries ahead
# (ZRANK minus the offered ones ahead), 1 when offered. Plain arrays, not JSON: the client's reply
# parser (hiredis) reads them without a JSON pass. One call per look, whatever the number of lines.
LINE_CHANGES = PRELUDE + """
local out = {}
for line, ask in pairs(cjson.decode(ARGV[4])) do
  local v = tonumber(redis.call('HGET', P .. 'lv', line) or '0')
  if v ~= ask[1] then
    local lk = P .. 'line:' .. line
    local offered = {}
    for _, t in ipairs(redis.call('ZRANGE', P .. 'lo:' .. line, 0, -1)) do
      local r = redis.call('ZRANK', lk, t)
      if r then offered[#offered + 1] = r end
    end
    local rows = {}
    for _, t in ipairs(ask[2]) do
      local r = redis.call('ZRANK', lk, t)
      if r then
        local f = redis.call('HMGET', P .. 'e:' .. t, ENTRY_FIELDS)
        if f[1] then
          local ahead = 0
          for _, o in ipairs(offered) do if o < r then ahead = ahead + 1 end end
          local pos = r - ahead + 1
          if f[8] == 'offered' then pos = 1 end
          rows[#rows + 1] = pos
          for i = 1, #f do rows[#rows + 1] = f[i] end
        end
      end
    end
    out[#out + 1] = line
    out[#out + 1] = v
    out[#out + 1] = redis.call('LRANGE', P .. 'ht:' .. line, 0, -1)
    out[#out + 1] = rows
  end
end
return out
""".replace("ENTRY_FIELDS", ", ".join(f"'{name}'" for name in ENTRY_FIELDS))

# One routing decision for one freed agent (dispatch.route_indexed's rule, in one round trip):
# the best waiting entry, in queue order, among the heads of the agent's sets it has not declined;
# that entry goes to the best agent of its nearest level (often, but not always, this one).
# ARGV[4] agent, [5] expires_at → {} (nothing to offer) or {entry hash, chosen agent's hash, level}
ROUTE_AGENT = PRELUDE + """
local me = ARGV[4]
local mk = P .. 'a:' .. me
if not routable(mk) then return {} end
local ik = redis.call('HGET', mk, 'ik') or ''
local keys = {}
for k in string.gmatch(ik, '%S+') do keys[#keys + 1] = k end
keys[#keys + 1] = 'pin:' .. me
local cands = {}
for _, k in ipairs(keys) do
  local start, found = 0, 0
  while found < 3 do
    local ids = redis.call('ZRANGE', P .. 'r:' .. k, start, start + 7)
    if #ids == 0 then break end
    for _, t in ipairs(ids) do
      local f = redis.call('HMGET', P .. 'e:' .. t, 'declined', 'prio', 'at')
      if f[2] and not has(f[1], me) then
        cands[#cands + 1] = {t, tonumber(f[2]), tonumber(f[3])}
        found = found + 1
        if found >= 3 then break end
      end
    end
    start = start + #ids
  end
end
table.sort(cands, function(a, b)
  if a[2] ~= b[2] then return a[2] > b[2] end
  if a[3] ~= b[3] then return a[3] < b[3] end
  return a[1] < b[1]
end)
local function rank(id)
  local f = redis.call('HMGET', P .. 'a:' .. id, 'calls', 'pending', 'idle')
  return {tonumber(f[1]) + tonumber(f[2]), tonumber(f[3]), tonumber(id)}
end
local function better(a, b)
  if a[1] ~= b[1] then return a[1] < b[1] end
  if a[2] ~= b[2] then return a[2] < b[2] end
  return a[3] < b[3]
end
for _, c in ipairs(cands) do
  local ek = P .. 'e:' .. c[1]
  local f = redis.call('HMGET', ek, 'state', 'pin', 'declined', 'chain', 'reach', 'item', 'dept')
  if f[1] == 'waiting' then
    local chain = cjson.decode(f[4])
    local best, level = nil, nil
    local pin = f[2] or ''
    if pin ~= '' and not has(f[3], pin) then
      if routable(P .. 'a:' .. pin) then
        local unit = redis.call('HGET', P .. 'a:' .. pin, 'unit')
        for l = 1, #chain do
          if string.format('%d', chain[l]) == unit then best, level = rank(pin), l - 1 break end
        end
      end
    else
      for l = 0, math.min(tonumber(f[5] or '0'), #chain - 1) do
        local u = string.format('%d', chain[l + 1])
        for _, k in ipairs({u .. ':i:' .. f[6], u .. ':d:' .. f[7]}) do
          local start = 0
          while true do
            local ids = redis.call('ZRANGE', P .. 'ai:' .. k, start, start + 7)
            if #ids == 0 then break end
            local hit = nil
            for _, m in ipairs(ids) do
              local id = string.format('%d', tonumber(m))
              if not has(f[3], id) then hit = id break end
            end
            if hit then
              local r = rank(hit)
              if best == nil or better(r, best) then best = r end
              break
            end
            start = start + #ids
          end
        end
        if best then level = l break end
      end
    end
    if best then
      local id = string.format('%d', best[3])
      local ak = P .. 'a:' .. id
      redis.call('HINCRBY', ak, 'pending', 1)
      redis.call('HSET', ak, 'state', 'offered')
      redis.call('HINCRBY', ak, 'v', 1)  -- as RESERVE: a pending check-and-set must read again
      idx_agent(id)
      claim(c[1], id, level, ARGV[5])
      return {redis.call('HGETALL', ek), redis.call('HGETALL', ak), level}
    end
  end
end
return {}
"""
