--[[
  Takes a waiter out of an Atlas rate bucket's waiters, for a caller that gives up waiting (its
  wait failed) so it blocks nobody until its expiry.

  Input:
    KEYS[1] the bucket hash (w:<waiter name> fields, see take-token.lua)
    KEYS[2] the bucket's waiters (zset: waiter name -> deadline, ms)

    ARGV[1] the waiter name

  Output:
    1 when it was waiting, else 0
]]
redis.call('HDEL', KEYS[1], 'w:' .. ARGV[1])
return redis.call('ZREM', KEYS[2], ARGV[1])
