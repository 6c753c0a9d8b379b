--[[
  Names the review a claim made: the target's slot now points at it.

  Input:
    KEYS[1] the target's open-review hash

    ARGV[1] the claim's token
    ARGV[2] the review id
    ARGV[3] how long the slot is kept, ms

  Output:
    1 when attached, 0 when the token no longer holds the slot
]]
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'review', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
