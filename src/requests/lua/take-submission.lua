--[[
  Counts one submission of a person and holds its slots among their open requests (one per request
  it files: a bundle files one per part): too many open (submitted or pending, stored or held) or
  too many in the window refuses it.

  Input:
    KEYS[1] the person's submission times (zset)
    KEYS[2] their open requests (set, kept by the request store)
    KEYS[3] their held slots (counter: submissions counted but not stored yet; expires in case a
            process dies)

    ARGV[1] now, ms
    ARGV[2] the window, ms
    ARGV[3] most submissions in the window
    ARGV[4] most open requests
    ARGV[5] the slots it holds (the requests it files)

  Output:
    {open count, 0} when counted, {open count, -1} when too many are open, else {open count, ms
    until the oldest submission leaves the window}
]]
local open = redis.call('SCARD', KEYS[2]) + tonumber(redis.call('GET', KEYS[3]) or '0')
if open + tonumber(ARGV[5]) > tonumber(ARGV[4]) then return {open, -1} end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {open, math.max(1, tonumber(oldest[2]) + tonumber(ARGV[2]) - tonumber(ARGV[1]))}
end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[1] .. '-' .. redis.call('ZCARD', KEYS[1]))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('INCRBY', KEYS[3], ARGV[5])
redis.call('PEXPIRE', KEYS[3], 30000)
return {open, 0}
