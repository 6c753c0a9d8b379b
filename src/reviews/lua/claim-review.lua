--[[
  Claims a target's one review slot: the first claim wins, the same token again is its own (a
  retry), anyone else gets the holder back.

  Input:
    KEYS[1] the target's open-review hash

    ARGV[1] the claim's token (its start's job id)
    ARGV[2] who started it
    ARGV[3] time, ms
    ARGV[4] a holder's token the caller found stale, taken over only if it still holds the slot
            ('' = none)

  Output:
    {'new'}, {'ours'} (a retry), or {'held', field, value, ...} (the holder's hash)
]]
local current = redis.call('HGET', KEYS[1], 'token')
if current == ARGV[1] then return {'ours'} end
if current and current ~= ARGV[4] then return {'held', unpack(redis.call('HGETALL', KEYS[1]))} end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'token', ARGV[1], 'startedBy', ARGV[2], 'at', ARGV[3])
return {'new'}
