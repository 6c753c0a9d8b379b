--[[
  Writes down a receipt of what Slack delivered, and its time.

  Input:
    KEYS[1] the receipts hash (id -> JSON)
    KEYS[2] their times (zset)

    ARGV[1] the receipt id
    ARGV[2] the receipt, JSON
    ARGV[3] its time, ms

  Output:
    1
]]
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return 1
