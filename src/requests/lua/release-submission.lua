--[[
  Gives back a held submission slot; the counter goes once nothing is held, instead of staying as
  '0' until it expires.

  Input:
    KEYS[1] the person's held slots (counter)

  Output:
    the slots still held
]]
if tonumber(redis.call('GET', KEYS[1]) or '0') > 1 then return redis.call('DECR', KEYS[1]) end
redis.call('DEL', KEYS[1])
return 0
