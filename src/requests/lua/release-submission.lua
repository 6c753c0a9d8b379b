--[[
  Gives back a submission's held slots; the counter goes once nothing is held, instead of staying
  as '0' until it expires.

  Input:
    KEYS[1] the person's held slots (counter)

    ARGV[1] the slots to give back

  Output:
    the slots still held
]]
if tonumber(redis.call('GET', KEYS[1]) or '0') > tonumber(ARGV[1]) then
  return redis.call('DECRBY', KEYS[1], ARGV[1])
end
redis.call('DEL', KEYS[1])
return 0
