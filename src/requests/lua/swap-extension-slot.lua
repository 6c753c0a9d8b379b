--[[
  Compare-and-set of a grant's extension slot.

  Input:
    KEYS[1] the grant's slot (string)

    ARGV[1] the value expected now ('' = none)
    ARGV[2] the new value ('' = delete)
    ARGV[3] how long the new value lasts, ms

  Output:
    1 when it was set, 0 when someone was first
]]
if (redis.call('GET', KEYS[1]) or '') ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end
return 1
