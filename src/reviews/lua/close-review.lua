--[[
  Closes a review once and remembers who closed it, so the closer's retry knows it still owes the
  closing messages; the target is free for its next review from the same moment.

  Input:
    KEYS[1] the review hash
    KEYS[2] the target's open-review hash

    ARGV[1] time, ms
    ARGV[2] the closer (a job id)
    ARGV[3] the review id

  Output:
    1 when this closer closed it (also on its retries), else 0
]]
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('HSETNX', KEYS[1], 'closedAt', ARGV[1]) == 1 then redis.call('HSET', KEYS[1], 'closedBy', ARGV[2]) end
if redis.call('HGET', KEYS[2], 'review') == ARGV[3] then redis.call('DEL', KEYS[2]) end
if redis.call('HGET', KEYS[1], 'closedBy') == ARGV[2] then return 1 end
return 0
