"""Lua for RedisQueueStore: every step that must be atomic, index upkeep included.

Every script takes ARGV[1] = the key prefix ("{deployment prefix}q:"), ARGV[2] = the entries' TTL
and ARGV[3] = the agents' TTL, and builds its keys from the prefix (a standalone Redis, or one
cluster slot through a {hash tag} prefix). Numbers go to Redis as strings (%.17g): redis.call
would truncate a Lua number to an integer.
"""

from __future__ import annotations

PRELUDE = """
local P, ETTL, ATTL = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local function num(x) return string.format('%.17g', x) end
local function has(list, id) return string.find(',' .. (list or '') .. ',', ',' .. id .. ',', 1, true) ~= nil end
local function bump(line)
  redis.call('HINCRBY', P .. 'lv', line, 1)
  redis.call('EXPIRE', P .. 'lv', ETTL)
end
-- index.entry_keys: the pin set, or the item and department sets of every opened level
local function entry_rk(ek)
  local f = redis.call('HMGET', ek, 'pin', 'declined', 'chain', 'reach', 'item', 'dept')
  local pin = f[1] or ''
  if pin ~= '' and not has(f[2], pin) then return 'pin:' .. pin end
  local chain = cjson.decode(f[3])
  local out = {}
  for l = 0, math.min(tonumber(f[4] or '0'), #chain - 1) do
    local u = string.format('%d', chain[l + 1])
    out[#out + 1] = u .. ':i:' .. f[5]
    out[#out + 1] = u .. ':d:' .. f[6]
  end
  return table.concat(out, ' ')
end
-- on=false: take the entry out of every index; on=true: index it as its hash now says
local function idx_entry(t, on)
  local ek = P .. 'e:' .. t
  if on then redis.call('HSET', ek, 'rk', entry_rk(ek)) end
  local f = redis.call('HMGET', ek, 'state', 'rk', 'sc', 'to', 'exp', 'line')
  if not f[1] then return end
  if on and f[1] == 'offered' then
    redis.call('ZADD', P .. 'lo:' .. f[6], f[3], t)
    redis.call('EXPIRE', P .. 'lo:' .. f[6], ETTL)
  else
    redis.call('ZREM', P .. 'lo:' .. f[6], t)
  end
  for k in string.gmatch(f[2] or '', '%S+') do
    if on and f[1] == 'waiting' then
      redis.call('ZADD', P .. 'r:' .. k, f[3], t)
      redis.call('EXPIRE', P .. 'r:' .. k, ETTL)
    else
      redis.call('ZREM', P .. 'r:' .. k, t)
    end
  end
  local offered = on and f[1] == 'offered' and f[4] and f[4] ~= ''
  if f[4] and f[4] ~= '' then
    if offered then
      redis.call('SADD', P .. 'ao:' .. f[4], t)
      redis.call('EXPIRE', P .. 'ao:' .. f[4], ETTL)
    else
      redis.call('SREM', P .. 'ao:' .. f[4], t)
    end
  end
  if offered and f[5] and f[5] ~= '' then
    redis.call('ZADD', P .. 'due', f[5], 'o:' .. t)
    redis.call('EXPIRE', P .. 'due', ETTL)
  else
    redis.call('ZREM', P .. 'due', 'o:' .. t)
  end
end
local function agent_member(id) return string.format('%012d', tonumber(id)) end
local function unidx_agent(id)
  local ik = redis.call('HGET', P .. 'a:' .. id, 'ik')
  for k in string.gmatch(ik or '', '%S+') do redis.call('ZREM', P .. 'ai:' .. k, agent_member(id)) end
  redis.call('ZREM', P .. 'hb', id)
  redis.call('SREM', P .. 'ringing', id)
end
local function idx_agent(id)
  local f = redis.call('HMGET', P .. 'a:' .. id, 'state', 'cap', 'calls', 'pending', 'idle', 'ik', 'hb')
  if not f[1] then return end
  local load = tonumber(f[3]) + tonumber(f[4])
  local routable = (f[1] == 'ready' or f[1] == 'offered' or f[1] == 'busy') and load < tonumber(f[2])
  local m, score = agent_member(id), num(load * 1e10 + tonumber(f[5]))
  for k in string.gmatch(f[6] or '', '%S+') do
    if routable then
      redis.call('ZADD', P .. 'ai:' .. k, score, m)
      redis.call('EXPIRE', P .. 'ai:' .. k, ATTL)
    else
      redis.call('ZREM', P .. 'ai:' .. k, m)
    end
  end
  if tonumber(f[4]) > 0 then
    redis.call('SADD', P .. 'ringing', id)
    redis.call('EXPIRE', P .. 'ringing', ATTL)
  else
    redis.call('SREM', P .. 'ringing', id)
  end
  if f[1] ~= 'offline' then
    redis.call('ZADD', P .. 'hb', f[7], id)
    redis.call('EXPIRE', P .. 'hb', ATTL)
  else
    redis.call('ZREM', P .. 'hb', id)
  end
end
local function routable(ak)
  local f = redis.call('HMGET', ak, 'state', 'cap', 'calls', 'pending')
  if f[1] ~= 'ready' and f[1] ~= 'offered' and f[1] ~= 'busy' then return false end
  return tonumber(f[3]) + tonumber(f[4]) < tonumber(f[2])
end
local function remove(t)
  local ek = P .. 'e:' .. t
  local h = redis.call('HGETALL', ek)
  if #h == 0 then return h end
  idx_entry(t, false)
  local line = redis.call('HGET', ek, 'line')
  redis.call('DEL', ek)
  redis.call('ZREM', P .. 'all', t)
  redis.call('ZREM', P .. 'line:' .. line, t)
  redis.call('ZREM', P .. 'due', 'o:' .. t, 'f:' .. t, 'a:' .. t, 'A:' .. t)
  bump(line)
  return h
end
local function claim(t, agent, lvl, exp)
  local ek = P .. 'e:' .. t
  if redis.call('HGET', ek, 'state') ~= 'waiting' then return 0 end
  idx_entry(t, false)
  redis.call('HSET', ek, 'state', 'offered', 'to', agent, 'lvl', lvl, 'exp', exp)
  idx_entry(t, true)
  bump(redis.call('HGET', ek, 'line'))
  return 1
end
"""

# ARGV[4] ticket, [5] line, [6] score, [7..] the hash's field/value pairs
ADD = PRELUDE + """
local t, line = ARGV[4], ARGV[5]
local ek = P .. 'e:' .. t
local old = redis.call('HGET', ek, 'line')
if old then
  idx_entry(t, false)
  redis.call('ZREM', P .. 'line:' .. old, t)
end
redis.call('DEL', ek)
redis.call('HSET', ek, unpack(ARGV, 7))
redis.call('EXPIRE', ek, ETTL)
for _, z in ipairs({P .. 'all', P .. 'line:' .. line}) do
  redis.call('ZADD', z, ARGV[6], t)
  redis.call('EXPIRE', z, ETTL)
end
idx_entry(t, true)
bump(line)
return 1
"""

# Read and delete an entry with its index memberships and timers. ARGV[4] ticket
REMOVE = PRELUDE + "return remove(ARGV[4])"

# waiting → offered, only when still waiting. ARGV[4] ticket, [5] agent, [6] level, [7] expires
CLAIM = PRELUDE + "return claim(ARGV[4], ARGV[5], ARGV[6], ARGV[7])"

# offered (to ARGV[5]) → waiting; ARGV[6] == '1' adds the agent to the declined list (a pin on
# that agent lapses with it: the entry moves back to the lines). ARGV[4] ticket
RELEASE = PRELUDE + """
local t, agent = ARGV[4], ARGV[5]
local ek = P .. 'e:' .. t
local f = redis.call('HMGET', ek, 'state', 'to', 'declined', 'line')
if f[1] ~= 'offered' or f[2] ~= agent then return 0 end
idx_entry(t, false)
redis.call('HSET', ek, 'state', 'waiting', 'to', '', 'exp', '')
if ARGV[6] == '1' and not has(f[3], agent) then
  local d = f[3] or ''
  if d == '' then d = agent else d = d .. ',' .. agent end
  redis.call('HSET', ek, 'declined', d)
end
idx_entry(t, true)
bump(f[4])
return 1
"""

# One free slot of a working agent for an offer (agents.reserve). ARGV[4] agent
RESERVE = PRELUDE + """
local ak = P .. 'a:' .. ARGV[4]
if not routable(ak) then return 0 end
redis.call('HINCRBY', ak, 'pending', 1)
redis.call('HSET', ak, 'state', 'offered')
redis.call('HINCRBY', ak, 'v', 1)  -- a check-and-set that read the agent before must read again
idx_agent(ARGV[4])
return 1
"""

# reserve + claim as one step. ARGV[4] ticket, [5] agent, [6] level, [7] expires.
# Returns the agent's hash, or an empty list when the entry is not waiting or the agent is full.
OFFER = PRELUDE + """
local t, agent = ARGV[4], ARGV[5]
local ak = P .. 'a:' .. agent
if redis.call('HGET', P .. 'e:' .. t, 'state') ~= 'waiting' or not routable(ak) then return {} end
redis.call('HINCRBY', ak, 'pending', 1)
redis.call('HSET', ak, 'state', 'offered')
redis.call('HINCRBY', ak, 'v', 1)  -- a check-and-set that read the agent before must read again
idx_agent(agent)
claim(t, agent, ARGV[6], ARGV[7])
return redis.call('HGETALL', ak)
"""

# The accept: remove the entry and settle the agent's slot as one more call (agents.settle_offer
# "accepted"). ARGV[4] ticket, [5] agent, [6] now → {verdict, entry hash, agent hash}
TAKE = PRELUDE + """
local t, agent = ARGV[4], ARGV[5]
local ek, ak = P .. 'e:' .. t, P .. 'a:' .. agent
local f = redis.call('HMGET', ek, 'state', 'to', 'exp')
if not f[1] then return {'unknown', {}, {}} end
if f[1] ~= 'offered' or f[2] ~= agent then return {'not_offered', redis.call('HGETALL', ek), {}} end
if f[3] and f[3] ~= '' and tonumber(ARGV[6]) > tonumber(f[3]) then
  return {'expired', redis.call('HGETALL', ek), {}}
end
local h = remove(t)
local a = redis.call('HMGET', ak, 'state', 'calls', 'pending', 'v')
if a[1] then
  unidx_agent(agent)
  local pending, calls = math.max(0, tonumber(a[3]) - 1), tonumber(a[2]) + 1
  local state = a[1]
  if state == 'ready' or state == 'offered' or state == 'busy' then
    if pending > 0 then state = 'offered' else state = 'busy' end
  end
  redis.call('HSET', ak, 'pending', pending, 'calls', calls, 'missed', 0, 'state', state,
             'v', tonumber(a[4] or '0') + 1)
  if calls == 1 then redis.call('HSET', ak, 'call', ARGV[6]) end
  idx_agent(agent)
end
return {'taken', h, redis.call('HGETALL', ak)}
"""

# ARGV[4] ticket, [5] level → the entry's hash after widening (empty when gone)
OPEN_LEVEL = PRELUDE + """
local t = ARGV[4]
local ek = P .. 'e:' .. t
local f = redis.call('HMGET', ek, 'reach', 'chain', 'line')
if not f[2] then return {} end
local level = math.min(tonumber(ARGV[5]), #cjson.decode(f[2]) - 1)
if level > tonumber(f[1] or '0') then
  idx_entry(t, false)
  redis.call('HSET', ek, 'reach', level)
  idx_entry(t, true)
  bump(f[3])
end
return redis.call('HGETALL', ek)
"""

# Replace an agent's hash (profile and counters). ARGV[4] agent, [5..] field/value pairs
UPSERT_AGENT = PRELUDE + """
local id = ARGV[4]
local ak = P .. 'a:' .. id
local v = tonumber(redis.call('HGET', ak, 'v') or '0')
unidx_agent(id)
redis.call('DEL', ak)
redis.call('HSET', ak, unpack(ARGV, 5))
redis.call('HSET', ak, 'v', v + 1)
redis.call('EXPIRE', ak, ATTL)
redis.call('SADD', P .. 'agents', id)
redis.call('EXPIRE', P .. 'agents', ATTL)
idx_agent(id)
return 1
"""

# Check-and-set of an agent read earlier at version ARGV[5]. ARGV[4] agent, [6..] changed fields.
# 1 written, 0 changed meanwhile (read again), -1 gone.
CAS_AGENT = PRELUDE + """
local id = ARGV[4]
local ak = P .. 'a:' .. id
if redis.call('EXISTS', ak) == 0 then return -1 end
local v = redis.call('HGET', ak, 'v') or '0'
if v ~= ARGV[5] then return 0 end
unidx_agent(id)
if #ARGV >= 6 then redis.call('HSET', ak, unpack(ARGV, 6)) end
redis.call('HSET', ak, 'v', tonumber(v) + 1)
redis.call('EXPIRE', ak, ATTL)
idx_agent(id)
return 1
"""

# ARGV[4] agent, [5] now → 1, or 0 when unknown or offline
HEARTBEAT = PRELUDE + """
local ak = P .. 'a:' .. ARGV[4]
local state = redis.call('HGET', ak, 'state')
if not state or state == 'offline' then return 0 end
redis.call('HSET', ak, 'hb', ARGV[5])
redis.call('ZADD', P .. 'hb', ARGV[5], ARGV[4])
return 1
"""

# ARGV[4] now, [5..] timer keys: disarm those still due
CLEAR_TIMERS = PRELUDE + """
for i = 5, #ARGV do
  local s = redis.call('ZSCORE', P .. 'due', ARGV[i])
  if s and tonumber(s) <= tonumber(ARGV[4]) then redis.call('ZREM', P .. 'due', ARGV[i]) end
end
return 1
"""

# → JSON {agent id: offers} of the ringing agents holding more pending offers than offers
LEAKS = PRELUDE + """
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', P .. 'ringing')) do
  local pending = tonumber(redis.call('HGET', P .. 'a:' .. id, 'pending') or '0')
  local n = redis.call('SCARD', P .. 'ao:' .. id)
  if pending > n then out[id] = n end
  if pending == 0 then redis.call('SREM', P .. 'ringing', id) end
end
if next(out) == nil then return '{}' end
return cjson.encode(out)
"""

# The agent asks for ready (agents.set_state "ready"). ARGV[4] agent, [5] now → the agent's hash
SET_READY = PRELUDE + """
local id = ARGV[4]
local ak = P .. 'a:' .. id
local a = redis.call('HMGET', ak, 'state', 'calls', 'pending', 'v')
if not a[1] then return {} end
unidx_agent(id)
if a[1] ~= 'ready' and a[1] ~= 'offered' and a[1] ~= 'busy' then
  redis.call('HSET', ak, 'idle', ARGV[5], 'missed', 0, 'wrap', '')
end
local state = 'ready'
if tonumber(a[3]) > 0 then state = 'offered' elseif tonumber(a[2]) > 0 then state = 'busy' end
redis.call('HSET', ak, 'state', state, 'v', tonumber(a[4] or '0') + 1)
redis.call('EXPIRE', ak, ATTL)
idx_agent(id)
return redis.call('HGETALL', ak)
"""
