--[[
  Gives the store a new epoch when it is still the one the caller knows: its data went back in
  time, so what was issued since is gone. The write count is kept.

  Input:
    KEYS[1] the store hash

    ARGV[1] the createdAt the caller knows (ms)

  Output:
    {'renewed', new createdAt (ms)} or, when another process renewed it first,
    {'changed', createdAt now ('' if none)}
]]
local current = redis.call('HGET', KEYS[1], 'createdAt')
if current ~= ARGV[1] then return {'changed', current or ''} end
local now = redis.call('TIME')
local ms = string.format('%d', tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000))
local writes = redis.call('HGET', KEYS[1], 'writes') or '0'
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'createdAt', ms, 'origin', 'rolled-back', 'writes', writes)
return {'renewed', ms}
