--[[
  Replaces a settled request's 'packed' field with its compressed form (schema 4, requests/
  settled-record.ts), when the field is still the one the writer compressed: a write in between
  (which unpacks the request) wins, and the request stays as that write left it.

  Input:
    KEYS[1]     the request hash
    ARGV[1]     the 'packed' field the writer compressed
    ARGV[2]     the schema version of a compressed request (COMPRESSED_REQUEST_SCHEMA)
    ARGV[3..]   'z', compressed, in chunks: stored as 'z0', 'z1', … (binary)

  Output:
    1 when replaced, 0 when the request had changed (or was gone).
]]
if redis.call('HGET', KEYS[1], 'packed') ~= ARGV[1] then return 0 end
local state = redis.call('HGET', KEYS[1], 'state')
local ttl = redis.call('PTTL', KEYS[1])
-- A new hash: Redis keeps a hash in its compact encoding (every value short) only when built so.
redis.call('DEL', KEYS[1])
local fields = {'state', state, 'schema', ARGV[2]}
for i = 3, #ARGV do
  fields[#fields + 1] = 'z' .. (i - 3)
  fields[#fields + 1] = ARGV[i]
end
redis.call('HSET', KEYS[1], unpack(fields))
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1
