--[[
  Writes a request: creates it, moves its state, records an audit entry or patches fields, with
  the grant ledger's changes, every index and the store's write count, in one step.

  Keeps the indexes on every write: requests per requester and, made for them by someone else, per
  grantee (zsets by creation), a person's latest decisions, pending requests per target and open
  requests per requester (sets), and requests the system still has to move (zset by last update),
  for the sweeper. A settled
  request (nothing left for the system to do) is packed: every field but the state in one JSON
  field, 'packed' (schema 3); the writer then compresses that field into 'z' (schema 4, in the
  fields 'z0', 'z1', …; lua/compress-request.lua), which this script cannot read: for a write to a
  compressed request the writer sends the expanded field (ARGV[5]) and the digest of the 'z' it
  expanded (ARGV[6]).
  Every key is passed, none is derived in Lua, so the script runs on a Redis Cluster (all under
  the prefix's hash tag).

  Audit entries go to the global stream, and to the request's own trail: the hash field 'trail', a
  JSON array of compact entries (packed and compressed with the rest once settled), so it lasts as
  long as the request. A request stored before keeps its own trail key (a list of the same entries,
  or a stream before schema 2).

  Input:
    KEYS[1]  the request hash
    KEYS[2]  the global audit stream
    KEYS[3]  the own trail key of a request stored before trails were kept in its hash (a list of
             JSON entries; a stream before schema 2); absent for newer requests
    KEYS[4]  the grant ledger hash (the request hash again when the write has no ledger change)
    KEYS[5]  grants ending (zset)
    KEYS[6]  the active index (zset: requests the system still has to move, by last update)
    KEYS[7]  the requester's index (zset by creation)
    KEYS[8]  the grantee's index (zset by creation): requests made for them by someone else
    KEYS[9]  the actor's decisions (zset by decision time, the latest ARGV[7] only)
    KEYS[10] the target's pending requests (set)
    KEYS[11] the requester's open requests (set: submitted or pending)
    KEYS[12] the receipts hash (a create crosses out the Slack delivery that asked for it)
    KEYS[13] the receipts' times (zset)
    KEYS[14] the store's identity hash (its write count)

    ARGV[1]  the write, JSON, every number as a string (Lua numbers would print as 1.7e+12):
             from (array; absent = the request must not exist yet), to ('' = unchanged), audit
             (bool), actor, at, detail, policy (the policy version of a decision, else ''), id,
             retention (ms, '0' = keep), final (bool), fields {name: JSON}, expect {name: JSON},
             receipt (a create only: the receipt to cross out), ledger {hset (a list of {field,
             value}), hdel (a list of fields), shorten (a list of {field, value}, set only where
             the field exists), ending {member, score ('' = remove)}}, who
             {requester, grantee (Slack ids), target (Atlas id)}: the identity the index keys came
             from, checked on every write to an existing request ('stale' when it is not this
             request's)
    ARGV[2]  what each field holds when it is absent, as stored: JSON {name: JSON} (a settled
             request leaves these out; an expectation on an absent field compares with it)
    ARGV[3]  the schema version of a request with a hash field per field (FLAT_REQUEST_SCHEMA)
    ARGV[4]  the schema version of a packed request (PACKED_REQUEST_SCHEMA)
    ARGV[5]  a compressed request's 'packed' field, expanded by the writer from its 'z'; '' when
             the writer has not read it
    ARGV[6]  the SHA-1 (hex) of the 'z' ARGV[5] came from (its chunks put together)
    ARGV[7]  how many of a person's decisions their index keeps (DECISIONS_KEPT)

  Output:
    {status, state, write count, field, value, ...} with the request's hash after the write:
      'ok' (state = the state it left, '' for a create) or 'conflict' (state = the state it is
      in: not one of from, an expectation failed, or a create of an id taken); the write count
      is '0' unless the write happened.
    {'missing', ''}: no such request. {'stale', ''}: the id names another request than `who`.
    {'receipt-taken', ''}: a create whose receipt the sweeper took first; nothing was stored.
    {'compressed', ''}: the request is compressed and ARGV[5] is not its expanded field (not sent,
      or 'z' changed since): nothing was written; the writer reads 'z' and tries again.
]]
local spec = cjson.decode(ARGV[1])
-- Decoded only by a write that needs it (an expectation on a field, or a request being packed).
local defaults
local function default(name)
  if defaults == nil then defaults = cjson.decode(ARGV[2]) end
  return defaults[name]
end
local writes = '0'
local current = redis.call('HGET', KEYS[1], 'state')
-- A settled request keeps its fields in one JSON field, 'packed' (see pack below), or compressed in
-- 'z0', 'z1', …, which the writer expanded (ARGV[5]) when they still hold the 'z' it read.
local packed = redis.call('HGET', KEYS[1], 'packed')
local compressed = false
local chunks = 0
if not packed then
  local z = {}
  while true do
    local chunk = redis.call('HGET', KEYS[1], 'z' .. chunks)
    if not chunk then break end
    z[#z + 1] = chunk
    chunks = chunks + 1
  end
  if chunks > 0 then
    if ARGV[5] == '' or redis.sha1hex(table.concat(z)) ~= ARGV[6] then return {'compressed', ''} end
    packed = ARGV[5]
    compressed = true
  end
end
-- The request after the write; a compressed one that was not written is replied packed (its chunks are binary).
local function reply(status, state)
  local out = {status, state, writes}
  if compressed then
    for _, v in ipairs({'state', current, 'schema', ARGV[4], 'packed', packed}) do out[#out + 1] = v end
    return out
  end
  for _, v in ipairs(redis.call('HGETALL', KEYS[1])) do out[#out + 1] = v end
  return out
end
local doc = packed and cjson.decode(packed) or nil
local function field(name)
  if doc then return doc[name] end
  return redis.call('HGET', KEYS[1], name)
end
if spec.from == nil then
  if current then return reply('conflict', current) end
  if spec.receipt then
    -- Crossed out here, or already claimed by the sweeper (who told the person nothing was filed).
    if redis.call('HDEL', KEYS[12], spec.receipt) == 0 then return {'receipt-taken', ''} end
    redis.call('ZREM', KEYS[13], spec.receipt)
  end
else
  if not current then return {'missing', ''} end
  -- The index keys in KEYS were derived from who.* by the caller: they must be this request's.
  local requester, grantee, target = field('requesterId'), field('granteeId'), field('target')
  if not requester or not grantee or not target or cjson.decode(requester) ~= spec.who.requester
    or cjson.decode(grantee) ~= spec.who.grantee or cjson.decode(target).id ~= spec.who.target then
    return {'stale', ''}
  end
  local allowed = false
  for _, state in ipairs(spec.from) do
    if state == current then allowed = true end
  end
  if not allowed then return reply('conflict', current) end
  for name, value in pairs(spec.expect) do
    if (field(name) or default(name) or 'null') ~= value then return reply('conflict', current) end
  end
end
if doc then
  for name, value in pairs(doc) do redis.call('HSET', KEYS[1], name, value) end
  redis.call('HDEL', KEYS[1], 'packed')
  for i = 0, chunks - 1 do redis.call('HDEL', KEYS[1], 'z' .. i) end
  redis.call('HSET', KEYS[1], 'schema', ARGV[3])
  doc = nil
  compressed = false
end
for name, value in pairs(spec.fields) do redis.call('HSET', KEYS[1], name, value) end
redis.call('HSET', KEYS[1], 'updatedAt', spec.at)
local from = current or ''
local state = current
if spec.to ~= '' then
  redis.call('HSET', KEYS[1], 'state', spec.to)
  state = spec.to
end
if spec.audit then
  redis.call('XADD', KEYS[2], '*', 'request', spec.id, 'from', from, 'to', state, 'actor', spec.actor, 'at', spec.at, 'detail', spec.detail, 'policy', spec.policy)
  -- The request's own trail, kept as long as the request: the hash field 'trail', a JSON array of
  -- compact entries (packed, then compressed, with the rest once settled). A request stored before
  -- keeps adding to its own key: a list of the same entries (schema 2), or a stream (before it).
  local own = redis.call('TYPE', KEYS[3])['ok']
  if own == 'stream' then
    redis.call('XADD', KEYS[3], '*', 'request', spec.id, 'from', from, 'to', state, 'actor', spec.actor, 'at', spec.at, 'detail', spec.detail, 'policy', spec.policy)
  else
    -- Compact: the key names the request; empty fields and actor 'system' are left out (parseTrailEntry).
    local entry = {to = state, at = spec.at}
    if from ~= '' then entry.from = from end
    if spec.actor ~= 'system' then entry.actor = spec.actor end
    if spec.detail ~= '' then entry.detail = spec.detail end
    if spec.policy ~= '' then entry.policy = spec.policy end
    if own == 'list' then
      redis.call('RPUSH', KEYS[3], cjson.encode(entry))
    else
      local trail = redis.call('HGET', KEYS[1], 'trail')
      local encoded = cjson.encode(entry)
      -- Appended as text: the entries before are not decoded again.
      redis.call('HSET', KEYS[1], 'trail', trail and (string.sub(trail, 1, -2) .. ',' .. encoded .. ']') or ('[' .. encoded .. ']'))
    end
  end
end
if spec.ledger then
  for _, pair in ipairs(spec.ledger.hset) do redis.call('HSET', KEYS[4], pair[1], pair[2]) end
  for _, field in ipairs(spec.ledger.hdel) do redis.call('HDEL', KEYS[4], field) end
  for _, pair in ipairs(spec.ledger.shorten or {}) do
    if redis.call('HEXISTS', KEYS[4], pair[1]) == 1 then redis.call('HSET', KEYS[4], pair[1], pair[2]) end
  end
  local ending = spec.ledger.ending
  if ending then
    if ending.score == '' then
      redis.call('ZREM', KEYS[5], ending.member)
    else
      redis.call('ZADD', KEYS[5], ending.score, ending.member)
    end
  end
end
local requester = cjson.decode(redis.call('HGET', KEYS[1], 'requesterId'))
if from == '' then
  redis.call('ZADD', KEYS[7], spec.at, spec.id)
  -- A request for oneself is found through the requester's index (request-reader.ts): the grantee's
  -- holds only requests made for them by someone else.
  if cjson.decode(redis.call('HGET', KEYS[1], 'granteeId')) ~= requester then
    redis.call('ZADD', KEYS[8], spec.at, spec.id)
  end
end
-- A person's decisions (a policy version is recorded only for decisions), not a self-grant: the
-- latest ARGV[7] (older ones leave the index, so it stays one small allocation).
if spec.policy ~= '' and spec.actor ~= requester and string.match(spec.actor, '^[UW][A-Z0-9]+$') then
  redis.call('ZADD', KEYS[9], spec.at, spec.id)
  redis.call('ZREMRANGEBYRANK', KEYS[9], 0, -(tonumber(ARGV[7]) + 1))
end
if state == 'pending' then redis.call('SADD', KEYS[10], spec.id) else redis.call('SREM', KEYS[10], spec.id) end
if state == 'submitted' or state == 'pending' then redis.call('SADD', KEYS[11], spec.id) else redis.call('SREM', KEYS[11], spec.id) end
local active = state == 'submitted' or state == 'pending' or state == 'approved' or state == 'applying' or state == 'revoking' or state == 'revoke_failed'
if state == 'applied' then
  local grant = cjson.decode(redis.call('HGET', KEYS[1], 'grant') or 'null')
  active = type(grant) == 'table' and type(grant.revokeAt) == 'number'
end
if active then
  redis.call('ZADD', KEYS[6], spec.at, spec.id)
else
  redis.call('ZREM', KEYS[6], spec.id)
  -- Settled (nothing left for the system to do): every field but the state goes into one JSON field,
  -- leaving out those equal to their default. One long field instead of ~35 keeps the hash ~2 KB
  -- smaller (a hash with any value over 64 bytes stores each field as its own allocation).
  local settled = {}
  local flat = redis.call('HGETALL', KEYS[1])
  for i = 1, #flat, 2 do
    local name, value = flat[i], flat[i + 1]
    if name ~= 'state' and name ~= 'schema' and default(name) ~= value then settled[name] = value end
  end
  local ttl = redis.call('PTTL', KEYS[1])
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 'state', state, 'schema', ARGV[4], 'packed', cjson.encode(settled))
  if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
end
if spec.final and spec.retention ~= '0' then
  redis.call('PEXPIRE', KEYS[1], spec.retention)
  redis.call('PEXPIRE', KEYS[3], spec.retention)
end
-- The store's write count only grows: a process that finds it lower than it saw knows the store went
-- back in time (a restore, a restart from an old snapshot, a failover to a lagging replica).
writes = tostring(redis.call('HINCRBY', KEYS[14], 'writes', 1))
return reply('ok', from)
