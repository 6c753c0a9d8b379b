--[[
  Moves an offboarding from one state to the next, only from the state given, with its audit
  entry, in one step.

  Input:
    KEYS[1] the offboarding hash
    KEYS[2] the global audit stream

    ARGV[1] the state it must be in now
    ARGV[2] the state it moves to
    ARGV[3] the decision, JSON ('' = leave it)
    ARGV[4] fields to set, JSON object {field: value}
    ARGV[5] actor (Slack user id or 'system')
    ARGV[6] audit detail
    ARGV[7] time, ms
    ARGV[8] the offboarding id

  Output:
    {'ok', state it left}, {'conflict', state it is in}, or {'missing', ''}
]]
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {'missing', ''} end
if state ~= ARGV[1] then return {'conflict', state} end
redis.call('HSET', KEYS[1], 'state', ARGV[2])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'decision', ARGV[3]) end
for field, value in pairs(cjson.decode(ARGV[4])) do redis.call('HSET', KEYS[1], field, value) end
redis.call('XADD', KEYS[2], '*', 'kind', 'offboarding', 'offboarding', ARGV[8], 'from', state, 'to', ARGV[2], 'actor', ARGV[5], 'at', ARGV[7], 'detail', ARGV[6])
return {'ok', state}
