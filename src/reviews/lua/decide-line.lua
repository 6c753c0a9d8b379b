--[[
  Records a decision on one line of an access review, once per line while the review is open, with
  its audit entry, in one step; a second click gets the first decision back.

  Input:
    KEYS[1] the review hash
    KEYS[2] the review's decisions hash (line -> decision JSON)
    KEYS[3] the global audit stream

    ARGV[1] line number
    ARGV[2] the decision, JSON
    ARGV[3] actor (Slack user id)
    ARGV[4] the decision word (audit detail)
    ARGV[5] policy version
    ARGV[6] time, ms
    ARGV[7] the review id

  Output:
    {'ok', decision JSON}, {'taken', the first decision JSON}, {'closed', ''} or {'missing', ''}
]]
if redis.call('EXISTS', KEYS[1]) == 0 then return {'missing', ''} end
if redis.call('HEXISTS', KEYS[1], 'closedAt') == 1 then return {'closed', ''} end
local existing = redis.call('HGET', KEYS[2], ARGV[1])
if existing then return {'taken', existing} end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('XADD', KEYS[3], '*', 'kind', 'review', 'review', ARGV[7], 'line', ARGV[1], 'actor', ARGV[3], 'at', ARGV[6], 'detail', ARGV[4], 'policy', ARGV[5])
return {'ok', ARGV[2]}
