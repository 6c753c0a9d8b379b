--[[
  Sets the outcome of a line's revocation, once, with its audit entry.

  Input:
    KEYS[1] the review's decisions hash (line -> decision JSON)
    KEYS[2] the global audit stream

    ARGV[1] line number
    ARGV[2] the outcome, JSON {outcome, detail}
    ARGV[3] the review id
    ARGV[4] time, ms

  Output:
    1 when set, 0 when the line has no decision or its outcome was set already
]]
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return 0 end
local decision = cjson.decode(raw)
if decision.outcome then return 0 end
local outcome = cjson.decode(ARGV[2])
decision.outcome = outcome.outcome
decision.detail = outcome.detail
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(decision))
redis.call('XADD', KEYS[2], '*', 'kind', 'review', 'review', ARGV[3], 'line', ARGV[1], 'actor', 'system', 'at', ARGV[4], 'detail', outcome.outcome .. ': ' .. outcome.detail, 'policy', '')
return 1
