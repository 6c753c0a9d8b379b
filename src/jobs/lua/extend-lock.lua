--[[
  Extends a user lock while this holder still owns it (renewal, and the fence check before an
  Atlas write).

  Input:
    KEYS[1] the lock (string: the holder's fencing token)

    ARGV[1] the holder's fencing token
    ARGV[2] how long the hold lasts from now, in ms

  Output:
    1 when the hold was extended, 0 when the lock is no longer this holder's (it expired, or
    another holder took it)
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
