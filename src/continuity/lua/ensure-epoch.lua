--[[
  Reads the store's epoch, creating it (once, atomically) when it is missing, with the time on the
  Redis server's clock and what the id counters say about the store it was created on.

  Input:
    KEYS[1] the store hash
    KEYS[2] the request id counter
    KEYS[3] the review id counter
    KEYS[4] the offboarding id counter

    ARGV[1] LEGACY_COUNTER_BELOW: counters below it were written before time-ordered ids

  Output:
    {found, createdAt (ms, a string)}, found one of 'known' (it was there), 'empty' (no counter),
    'upgrade' (only legacy counters) or 'lost' (a time-ordered counter: ids were issued here)
]]
local createdAt = redis.call('HGET', KEYS[1], 'createdAt')
if createdAt then return {'known', createdAt} end
local now = redis.call('TIME')
local ms = string.format('%d', tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000))
local found = 'empty'
local counters = {redis.call('GET', KEYS[2]), redis.call('GET', KEYS[3]), redis.call('GET', KEYS[4])}
for i = 1, 3 do
  local value = tonumber(counters[i] or '')
  if value then
    if value < tonumber(ARGV[1]) then
      if found == 'empty' then found = 'upgrade' end
    else
      found = 'lost'
    end
  end
end
redis.call('HSET', KEYS[1], 'createdAt', ms, 'origin', found)
return {found, ms}
