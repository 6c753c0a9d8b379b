--[[
  Changes a step confirmation's state and fields in one step, only from the states allowed (and
  before or after its deadline, when asked), and what the due set holds for it.

  Input:
    KEYS[1] the confirmation (string, JSON)
    KEYS[2] the due set (zset: execution id by time)

    ARGV[1] the execution id
    ARGV[2] the states it may move from, comma-separated
    ARGV[3] the new state ('' keeps it)
    ARGV[4] fields to set, JSON object
    ARGV[5] the due set afterwards: 'drop', 'keep' or a time (ms)
    ARGV[6] now, ms
    ARGV[7] deadline rule: 'before', 'after' or ''

  Output:
    {1, the confirmation after it (JSON)}, {0, the confirmation as it stands (JSON)} when it could
    not move, or {0, false} when there is none
]]
local raw = redis.call('GET', KEYS[1])
if not raw then return {0, false} end
local record = cjson.decode(raw)
local allowed = false
for state in string.gmatch(ARGV[2], '[^,]+') do
  if record.state == state then allowed = true end
end
local now = tonumber(ARGV[6])
if allowed and ARGV[7] == 'before' and tonumber(record.deadline) <= now then allowed = false end
if allowed and ARGV[7] == 'after' and tonumber(record.deadline) > now then allowed = false end
if not allowed then return {0, raw} end
for field, value in pairs(cjson.decode(ARGV[4])) do record[field] = value end
if ARGV[3] ~= '' then record.state = ARGV[3] end
local updated = cjson.encode(record)
redis.call('SET', KEYS[1], updated, 'KEEPTTL')
if ARGV[5] == 'drop' then
  redis.call('ZREM', KEYS[2], ARGV[1])
elseif ARGV[5] ~= 'keep' then
  redis.call('ZADD', KEYS[2], ARGV[5], ARGV[1])
end
return {1, updated}
