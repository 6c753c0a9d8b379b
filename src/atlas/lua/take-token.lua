--[[
  Takes one token from an Atlas rate bucket (token bucket, refilled continuously), on the Redis
  server's clock so every process shares one. When tokens are short, the earliest deadline goes
  first: when the tokens there are suffice for every waiter (this caller included), it takes at
  once; otherwise it takes only when fewer live waiters with an earlier deadline are ahead of it than
  there are whole tokens; equal deadlines go by arrival. A caller that cannot take yet waits in the
  waiters set until it takes, leaves, or stops coming back (its expiry passes: it no longer counts,
  and is removed when met).

  Input:
    KEYS[1] the bucket hash: tokens, at (ms); capacity, rate when Atlas said otherwise than the
            configuration (correct-bucket.lua); w:<waiter name> = until when that waiter counts (ms)
    KEYS[2] the bucket's waiters (zset: waiter name -> deadline, ms; a name is `<arrival, us>:<id>`)

    ARGV[1] configured capacity, tokens (used while the hash holds no capacity)
    ARGV[2] configured refill, tokens per ms (used while the hash holds no rate)
    ARGV[3] this caller's id on its first try, then the waiter name it was given
    ARGV[4] this caller's deadline, ms since the epoch, or '' for now + ARGV[5] (kept from its
            first try: the id's score wins while it is in the set)
    ARGV[5] how long a call without a deadline may be put behind others, ms
    ARGV[6] how long a waiter counts after its last try, ms

  Output:
    { wait, deadline, name }: wait is 0 when a token was taken, else the ms after which trying again
    may succeed; deadline and name are the ones this caller is scheduled by (pass them back on the
    next try, so a waiter that came back after its expiry keeps its place)
]]
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at', 'capacity', 'rate')
local capacity = tonumber(state[3]) or tonumber(ARGV[1])
local rate = tonumber(state[4]) or tonumber(ARGV[2])
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)

local id = ARGV[3]
local ttl = tonumber(ARGV[6])
local deadline = tonumber(redis.call('ZSCORE', KEYS[2], id))
local waiting = redis.call('ZCARD', KEYS[2])
if not deadline then waiting = waiting + 1 end
local whole = math.floor(tokens)

local ahead = 0
local taken = false
if whole >= 1 and waiting <= whole then
  taken = true
else
  if not deadline then
    deadline = tonumber(ARGV[4]) or (now + tonumber(ARGV[5]))
    if not string.find(id, ':', 1, true) then
      id = time[1] .. string.format('%06d', tonumber(time[2])) .. ':' .. id
    end
    redis.call('ZADD', KEYS[2], deadline, id)
  end
  -- Live waiters ahead of this one; the ones whose expiry passed are removed on the way.
  local rank = redis.call('ZRANK', KEYS[2], id)
  local start = 0
  while start < rank do
    local stop = math.min(rank, start + 200) - 1
    local ids = redis.call('ZRANGE', KEYS[2], start, stop)
    if #ids == 0 then break end
    local fields = {}
    for i, other in ipairs(ids) do fields[i] = 'w:' .. other end
    local untils = redis.call('HMGET', KEYS[1], unpack(fields))
    local dead = {}
    for i, other in ipairs(ids) do
      if (tonumber(untils[i]) or 0) < now then dead[#dead + 1] = other else ahead = ahead + 1 end
    end
    if #dead > 0 then
      redis.call('ZREM', KEYS[2], unpack(dead))
      for i, other in ipairs(dead) do dead[i] = 'w:' .. other end
      redis.call('HDEL', KEYS[1], unpack(dead))
      rank = rank - #dead
    end
    start = start + #ids - #dead
  end
  taken = ahead < whole
end

local wait = 0
local field = 'w:' .. id
if taken then
  tokens = tokens - 1
  redis.call('ZREM', KEYS[2], id)
  redis.call('HDEL', KEYS[1], field)
  if not deadline then deadline = tonumber(ARGV[4]) or (now + tonumber(ARGV[5])) end
else
  wait = math.max(1, math.ceil((ahead + 1 - tokens) / rate))
  redis.call('HSET', KEYS[1], field, tostring(now + ttl))
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
local keep = math.max(math.ceil(capacity / rate) + 1000, 2 * ttl)
redis.call('PEXPIRE', KEYS[1], keep)
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], keep) end
return { wait, deadline, id }
