--[[
  Takes the step confirmations with something owed by now, leasing each (it is due again only when
  the lease runs out).

  Input:
    KEYS[1] the due set (zset: execution id by time)

    ARGV[1] now, ms
    ARGV[2] the lease's end, ms
    ARGV[3] most to take

  Output:
    the execution ids taken
]]
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(ids) do redis.call('ZADD', KEYS[1], ARGV[2], id) end
return ids
