--[[
  Takes receipts (for the sweeper), each handed out once; ids whose receipt is gone only leave the
  time index.

  Input:
    KEYS[1] the receipts hash (id -> JSON)
    KEYS[2] their times (zset)

    ARGV[...] the receipt ids to take

  Output:
    the JSON of each receipt this call removed
]]
local out = {}
for _, id in ipairs(ARGV) do
  local value = redis.call('HGET', KEYS[1], id)
  redis.call('ZREM', KEYS[2], id)
  if value then
    redis.call('HDEL', KEYS[1], id)
    out[#out + 1] = value
  end
end
return out
