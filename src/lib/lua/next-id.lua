--[[
  Issues the next id number of a kind: never below the ticks since the id epoch on the Redis
  server's clock, always above the last one issued.

  Input:
    KEYS[1] the kind's counter (string)

    ARGV[1] ID_EPOCH_MS
    ARGV[2] ID_TICK_MS

  Output:
    the next number: max(last + 1, ticks since the epoch)
]]
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local floor = math.floor((ms - tonumber(ARGV[1])) / tonumber(ARGV[2]))
local last = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
local n = math.max(last + 1, floor)
redis.call('SET', KEYS[1], string.format('%d', n))
return n
