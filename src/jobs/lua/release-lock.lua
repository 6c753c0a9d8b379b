--[[
  Releases a user lock, only while this holder still owns it (compare-and-delete).

  Input:
    KEYS[1] the lock (string: the holder's fencing token)

    ARGV[1] the holder's fencing token

  Output:
    1 when the lock was released, 0 when it was no longer this holder's
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
