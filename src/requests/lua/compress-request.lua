--[[
  Replaces a settled request's 'packed' field with its compressed form (schema 4, requests/
  settled-record.ts), when the field is still the one the writer compressed: a write in between
  (which unpacks the request) wins, and the request stays as that write left it.

  Input:
    KEYS[1]  the request hash
    ARGV[1]  the 'packed' field the writer compressed
    ARGV[2]  'z': its compressed form (binary)
    ARGV[3]  the schema version of a compressed request (COMPRESSED_REQUEST_SCHEMA)

  Output: 1 when replaced, 0 when the request had changed (or was gone).
]]
if redis.call('HGET', KEYS[1], 'packed') ~= ARGV[1] then return 0 end
-- HSET and HDEL keep the key's time to live.
redis.call('HSET', KEYS[1], 'schema', ARGV[3], 'z', ARGV[2])
redis.call('HDEL', KEYS[1], 'packed')
return 1
