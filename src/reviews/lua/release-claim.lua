--[[
  Frees a target's review slot if the claim is still that one.

  Input:
    KEYS[1] the target's open-review hash

    ARGV[1] the field that names the claim: 'token' or 'review'
    ARGV[2] its value

  Output:
    1 when freed, 0 when the slot holds another claim (or none)
]]
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('DEL', KEYS[1]) end
return 0
