--[[
  Sets an Atlas rate bucket from what Atlas said about its own (the RateLimit-Limit and
  RateLimit-Remaining headers, a 429's RATE_LIMITED_TOKEN_BUCKET parameters). What it sets wins over
  the configured values until the bucket hash expires (a full refill after the last use).

  Input:
    KEYS[1] the bucket hash: tokens, at (ms), capacity, rate (see take-token.lua)

    ARGV[1] configured capacity, tokens (used while the hash holds no capacity)
    ARGV[2] configured refill, tokens per ms (used while the hash holds no rate)
    ARGV[3] the capacity Atlas gave, tokens, or '' to keep the current one
    ARGV[4] the refill Atlas gave, tokens per ms, or '' to keep the current one
    ARGV[5] the tokens there are now, or '' to keep the current count (refilled to now)
    ARGV[6] the least time the hash is kept, ms (twice a waiter's expiry, as take-token.lua keeps it)

  Output:
    the tokens in the bucket afterwards, as a string
]]
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at', 'capacity', 'rate')
local capacity = tonumber(state[3]) or tonumber(ARGV[1])
local rate = tonumber(state[4]) or tonumber(ARGV[2])
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)

local told = tonumber(ARGV[3])
if told then
  capacity = told
  redis.call('HSET', KEYS[1], 'capacity', tostring(capacity))
end
told = tonumber(ARGV[4])
if told then
  rate = told
  redis.call('HSET', KEYS[1], 'rate', tostring(rate))
end
tokens = math.max(0, math.min(capacity, tonumber(ARGV[5]) or tokens))
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.max(math.ceil(capacity / rate) + 1000, tonumber(ARGV[6])))
return tostring(tokens)
