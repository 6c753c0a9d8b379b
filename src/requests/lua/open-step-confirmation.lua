--[[
  Stores a new step confirmation and makes it due at its deadline, unless the execution has one
  already (an event Slack delivered twice).

  Input:
    KEYS[1] the confirmation (string, JSON)
    KEYS[2] the due set (zset: execution id by time)

    ARGV[1] the execution id
    ARGV[2] the confirmation, JSON
    ARGV[3] how long it is kept, ms
    ARGV[4] when it is due (its deadline), ms

  Output:
    1 when stored, 0 when the execution had one
]]
if redis.call('SET', KEYS[1], ARGV[2], 'NX', 'PX', ARGV[3]) then
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
  return 1
end
return 0
