--[[
  Crosses out a receipt: its work is done.

  Input:
    KEYS[1] the receipts hash (id -> JSON)
    KEYS[2] their times (zset)

    ARGV[1] the receipt id

  Output:
    1 when this call removed it, else 0
]]
redis.call('ZREM', KEYS[2], ARGV[1])
return redis.call('HDEL', KEYS[1], ARGV[1])
