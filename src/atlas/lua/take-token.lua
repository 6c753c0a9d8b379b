--[[
  Takes one token from an Atlas rate bucket (token bucket, refilled continuously), on the Redis
  server's clock so every process shares one.

  Input:
    KEYS[1] the bucket hash (tokens, at)

    ARGV[1] capacity, tokens
    ARGV[2] refill, tokens per ms

  Output:
    0 when a token was taken, else the ms until one will be there
]]
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = math.ceil((1 - tokens) / rate) end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate) + 1000)
return wait
