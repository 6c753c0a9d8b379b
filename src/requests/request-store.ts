import { type AuditSink, parseTrailEntry } from '../audit/audit-trail.js';
import { AppError } from '../errors.js';
import { encodeLedgerWrite, type LedgerWrite } from '../grants/ledger-store.js';
import { issueId, missingRecordError } from '../lib/ids.js';
import type { RedisClient } from '../lib/redis-client.js';
import { type RedisKeys, redisKeys } from '../lib/redis-keys.js';
import { defineRedisScript, luaJson } from '../lib/redis-script.js';
import type { AccessRequest, AuditEntry, RequestDraft, RequestPatch, RequestState } from './model.js';
import { canTransition, isFinal } from './state-machine.js';

/** Fields a write can be made conditional on: it happens only while they still hold these values. */
export type RequestExpectation = Partial<
  Pick<
    AccessRequest,
    'grant' | 'endedEarly' | 'attempt' | 'extensions' | 'revokeTrouble' | 'approvals' | 'acknowledged'
  >
>;

/** Arguments of one atomic state change. */
export interface TransitionInput {
  /** States the request must be in now; anything else is a conflict. */
  readonly from: RequestState | readonly RequestState[];
  readonly to: RequestState;
  /** Slack user id, or `system`. */
  readonly actor: string;
  readonly detail?: string;
  readonly patch?: RequestPatch;
  /** Grant ledger changes, written in the same script. */
  readonly ledger?: LedgerWrite;
  /** Optimistic check: a field that changed since it was read makes this a conflict. */
  readonly expect?: RequestExpectation;
  /** For a decision: the policy version it was made under, kept in the audit entry. */
  readonly policyVersion?: string;
}

/** An audit entry without a state change (drift, an extension, an early end), with its changes. */
export interface NoteInput {
  /** States the request must be in now; anything else is a conflict. */
  readonly whileIn: readonly RequestState[];
  readonly actor: string;
  readonly detail: string;
  readonly patch?: RequestPatch;
  readonly ledger?: LedgerWrite;
  readonly expect?: RequestExpectation;
  /** For a decision (an approval, an acknowledgement): the policy version it was made under. */
  readonly policyVersion?: string;
}

/** What a transition did: the request after it, or the state that stood in the way. */
export type TransitionResult =
  | { readonly ok: true; readonly request: AccessRequest; readonly from: RequestState }
  | { readonly ok: false; readonly current: AccessRequest };

/** Request persistence in Redis; every state change is one Lua script with its audit entries. */
export interface RequestStore {
  /**
   * Stores a new request: `submitted` (a worker reads the grantee's Atlas access next) or, for an
   * extension, which needs no Atlas reading, `pending`.
   */
  create(
    draft: RequestDraft,
    actor: string,
    state?: 'submitted' | 'pending',
    /**
     * The receipt of the Slack delivery that asked for it (requests/receipts.ts), crossed out in the
     * same script; when the sweeper took it first (it told the person nothing was filed), nothing is
     * stored and this throws RECEIPT_TAKEN.
     */
    receiptId?: string,
  ): Promise<AccessRequest>;
  get(id: string): Promise<AccessRequest | undefined>;
  /** Like get, but a missing request is an AppError the user can read. */
  require(id: string): Promise<AccessRequest>;
  transition(id: string, input: TransitionInput): Promise<TransitionResult>;
  /** Records an audit entry and changes fields (and the ledger) without changing state. */
  note(id: string, input: NoteInput): Promise<TransitionResult>;
  /** Changes fields without changing state or auditing, only while the request is in one of `whileIn`. */
  patch(id: string, whileIn: readonly RequestState[], patch: RequestPatch): Promise<TransitionResult>;
  audit(id: string): Promise<AuditEntry[]>;
  /** A person's requests, newest first. */
  listByRequester(userId: string, limit: number): Promise<AccessRequest[]>;
  /**
   * Claims a Workflow Builder execution for a new request (kept 7 days): false when it was claimed
   * already, so an event Slack delivers twice files one request.
   */
  claimWorkflow(executionId: string): Promise<boolean>;
  /** Requests that give a person access (made by them or for them), newest first. */
  listByGrantee(userId: string, limit: number): Promise<AccessRequest[]>;
  /** Requests a person decided on (approved, denied, an approval of several), latest decision first. */
  listDecidedBy(userId: string, limit: number): Promise<AccessRequest[]>;
  /** Pending requests on these targets (Atlas ids), oldest first. */
  listPending(targetIds: readonly string[]): Promise<AccessRequest[]>;
  /** Requests the system still has to move, last updated before `before` (ms), oldest first. */
  listActive(before: number, limit: number): Promise<AccessRequest[]>;
}

/** Options for {@link createRequestStore}. */
export interface RequestStoreOptions {
  /** Every key lives under `${prefix}:`. */
  prefix: string;
  /**
   * How long a finished request and its trail stay in Redis, in ms.
   * @defaultValue 90 days
   */
  retentionMs?: number;
  /** Told every audit entry this store writes (transitions and notes), with its fields. */
  onAudit?: AuditSink;
  /** Told the store's write count after every write (continuity/ notices a store that went back in time). */
  onWrites?: (count: number) => void;
  /** Told after every stored state change (not notes or patches), with the state it left (null when created). */
  onTransition?: (request: AccessRequest, from: RequestState | null, at: number) => void;
  now?: () => number;
}

/**
 * The newest shape of stored requests this release reads and writes (the hash field `schema`). 1:
 * every request stored before the field existed (read with FIELD_DEFAULTS); 2: the same fields,
 * versioned; 3: a settled request (nothing left for the system to do) keeps every field but `state`
 * and `schema` in one JSON field `packed`, without those equal to their default.
 */
export const REQUEST_SCHEMA_VERSION = 3;

/**
 * What a request hash with a field per field says it is: 2, which the previous release reads too, so
 * during a rolling upgrade it keeps working on new requests; only a packed one says 3 (it must not
 * misread that).
 */
export const FLAT_REQUEST_SCHEMA = 2;

const JSON_FIELDS = [
  'requesterId',
  'requesterTeamId',
  'granteeId',
  'granteeEmail',
  'target',
  'roles',
  'durationSeconds',
  'reason',
  'createdAt',
  'updatedAt',
  'sourceChannelId',
  'replyUrl',
  'rolesAtRequest',
  'holdersAtRequest',
  'addsToProject',
  'extends',
  'endsNoLaterThan',
  'breakGlass',
  'approversAtRequest',
  'workflow',
  'approvalMessage',
  'approvals',
  'decision',
  'acknowledged',
  'plan',
  'grant',
  'extensions',
  'extension',
  'endedEarly',
  'revokePlan',
  'revocation',
  'revokeTrouble',
  'drift',
  'failure',
  'attempt',
] as const;

/** Defaults for fields that requests stored before they existed do not have. */
const FIELD_DEFAULTS: Partial<Record<(typeof JSON_FIELDS)[number], unknown>> = {
  holdersAtRequest: [],
  addsToProject: false,
  replyUrl: null,
  breakGlass: false,
  approversAtRequest: [],
  workflow: null,
  approvals: [],
  acknowledged: null,
  extensions: [],
  drift: [],
};

/** What each field holds when it is absent (FIELD_DEFAULTS, else null), as stored: a settled request leaves these out. */
const STORED_DEFAULTS: Readonly<Record<string, string>> = Object.fromEntries(
  JSON_FIELDS.map((field) => [field, JSON.stringify(FIELD_DEFAULTS[field] ?? null)]),
);

// KEYS: request hash, global audit stream, request audit stream, ledger hash, grants ending zset,
//       active index zset, requester index, grantee index, decider index (of the actor), pending
//       index (of the target), open index (of the requester), receipts hash and their times (a
//       create crosses out the Slack delivery that asked for it), the store's identity hash (its
//       write count, returned third). Every key is passed, none is derived
//       in Lua, so the script runs on a Redis Cluster (all under the prefix's hash tag).
// ARGV[1]: JSON spec, every number as a string (Lua numbers would print as 1.7e+12):
//   from (array; absent = the request must not exist yet), to ('' = unchanged), audit (bool), actor,
//   at, detail, id, retention ('0' = keep), final (bool), fields {name: JSON}, expect
//   {name: JSON}, ledger {hset [[f, v]], hdel [f], ending {member, score ('' = remove)}}, who
//   {requester, grantee (Slack ids), target (Atlas id)}: the identity the index keys came from,
//   checked on every write to an existing request ('stale' when it is not this request's).
// Keeps the indexes on every write: requests per requester (zset by creation), pending requests per
// target (set), and requests the system still has to move (zset by last update), for the sweeper.
const WRITE = defineRedisScript(`
local spec = cjson.decode(ARGV[1])
local DEFAULTS = cjson.decode([[${JSON.stringify(STORED_DEFAULTS)}]])
local writes = '0'
local function reply(status, state)
  local out = {status, state, writes}
  for _, v in ipairs(redis.call('HGETALL', KEYS[1])) do out[#out + 1] = v end
  return out
end
local current = redis.call('HGET', KEYS[1], 'state')
-- A settled request keeps its fields in one JSON field, 'packed' (see pack below).
local packed = redis.call('HGET', KEYS[1], 'packed')
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
    if (field(name) or DEFAULTS[name] or 'null') ~= value then return reply('conflict', current) end
  end
end
if doc then
  for name, value in pairs(doc) do redis.call('HSET', KEYS[1], name, value) end
  redis.call('HDEL', KEYS[1], 'packed')
  redis.call('HSET', KEYS[1], 'schema', '${FLAT_REQUEST_SCHEMA}')
  doc = nil
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
  -- The request's own trail: a list of JSON entries (a stream costs ~4 KB a request); requests
  -- stored before schema 2 keep their stream.
  if redis.call('TYPE', KEYS[3])['ok'] == 'stream' then
    redis.call('XADD', KEYS[3], '*', 'request', spec.id, 'from', from, 'to', state, 'actor', spec.actor, 'at', spec.at, 'detail', spec.detail, 'policy', spec.policy)
  else
    -- Compact: the key names the request; empty fields and actor 'system' are left out (parseTrailEntry).
    local entry = {to = state, at = spec.at}
    if from ~= '' then entry.from = from end
    if spec.actor ~= 'system' then entry.actor = spec.actor end
    if spec.detail ~= '' then entry.detail = spec.detail end
    if spec.policy ~= '' then entry.policy = spec.policy end
    redis.call('RPUSH', KEYS[3], cjson.encode(entry))
  end
end
if spec.ledger then
  for _, pair in ipairs(spec.ledger.hset) do redis.call('HSET', KEYS[4], pair[1], pair[2]) end
  for _, field in ipairs(spec.ledger.hdel) do redis.call('HDEL', KEYS[4], field) end
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
  redis.call('ZADD', KEYS[8], spec.at, spec.id)
end
-- A person's decisions (a policy version is recorded only for decisions), not a self-grant.
if spec.policy ~= '' and spec.actor ~= requester and string.match(spec.actor, '^[UW][A-Z0-9]+$') then
  redis.call('ZADD', KEYS[9], spec.at, spec.id)
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
    if name ~= 'state' and name ~= 'schema' and DEFAULTS[name] ~= value then settled[name] = value end
  end
  local ttl = redis.call('PTTL', KEYS[1])
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 'state', state, 'schema', '${REQUEST_SCHEMA_VERSION}', 'packed', cjson.encode(settled))
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
`);

/** What a request's index keys are derived from; fixed when the request is created. */
interface Identity {
  readonly requesterId: string;
  readonly granteeId: string;
  readonly targetId: string;
}

/** The identity from the stored (JSON) fields; undefined when any is missing. */
function identityFrom(
  requester: string | null | undefined,
  grantee: string | null | undefined,
  target: string | null | undefined,
): Identity | undefined {
  if (requester == null || grantee == null || target == null) return undefined;
  return {
    requesterId: JSON.parse(requester) as string,
    granteeId: JSON.parse(grantee) as string,
    targetId: (JSON.parse(target) as { id: string }).id,
  };
}

/** One write: the script's spec, minus what every write shares. */
interface WriteSpec {
  readonly from: readonly RequestState[] | null;
  readonly to: RequestState | null;
  readonly audit: boolean;
  readonly actor: string;
  readonly detail: string;
  readonly fields: Record<string, unknown>;
  readonly ledger?: LedgerWrite | undefined;
  readonly expect?: RequestExpectation | undefined;
  readonly policyVersion?: string | undefined;
  /** A create only: the receipt it crosses out. */
  readonly receipt?: string | undefined;
}

/** Creates the Redis-backed request store. */
export function createRequestStore(redis: RedisClient, options: RequestStoreOptions): RequestStore {
  const keys: RedisKeys = redisKeys(options.prefix);
  const retentionMs = options.retentionMs ?? 90 * 24 * 3600 * 1000;
  const now = options.now ?? Date.now;

  const get = async (id: string): Promise<AccessRequest | undefined> => {
    const hash = await redis.hgetall(keys.request(id));
    return hash.state === undefined ? undefined : decodeRequest(id, hash);
  };

  const require = async (id: string): Promise<AccessRequest> => {
    const request = await get(id);
    if (!request) throw missingRecordError(id);
    return request;
  };

  // Who a request is about never changes after it is created, so the index keys a write touches are
  // known before the script runs (a Cluster needs every key in KEYS). Bounded; refilled by HMGET.
  // A write checks the identity it was given against the stored request ('stale' when they differ:
  // the id now names another request, e.g. after Redis lost data and handed the id out again).
  const identities = new Map<string, Identity>();
  const identityOf = async (id: string, spec: WriteSpec): Promise<Identity | undefined> => {
    if (spec.from === null) {
      const target = spec.fields.target as { id?: unknown } | undefined;
      const { requesterId, granteeId } = spec.fields;
      if (
        typeof requesterId !== 'string' ||
        typeof granteeId !== 'string' ||
        typeof target?.id !== 'string'
      ) {
        throw new AppError('STORAGE_UNAVAILABLE', `Request ${id} cannot be stored without who and where.`);
      }
      return { requesterId, granteeId, targetId: target.id };
    }
    const known = identities.get(id);
    if (known) return known;
    // A settled request (schema 3) keeps these inside its 'packed' field.
    const [requester, grantee, stored, packed] = await redis.hmget(
      keys.request(id),
      'requesterId',
      'granteeId',
      'target',
      'packed',
    );
    const settled = packed == null ? undefined : (JSON.parse(packed) as Record<string, string | undefined>);
    const found = identityFrom(
      settled ? settled.requesterId : requester,
      settled ? settled.granteeId : grantee,
      settled ? settled.target : stored,
    );
    if (!found) return undefined;
    if (identities.size >= 10_000) identities.delete(identities.keys().next().value ?? id);
    identities.set(id, found);
    return found;
  };

  const write = async (id: string, spec: WriteSpec, retried = false): Promise<TransitionResult> => {
    const at = String(now());
    const fields: Record<string, string> = {};
    for (const [field, value] of Object.entries(spec.fields)) {
      // Stored as JSON that the script may decode (target, grant): no lone surrogate (see luaJson).
      if (value !== undefined) fields[field] = luaJson(value);
    }
    const expect: Record<string, string> = {};
    for (const [field, value] of Object.entries(spec.expect ?? {})) expect[field] = luaJson(value);
    const ledger = spec.ledger ? encodeLedgerWrite(keys, spec.ledger) : undefined;
    const who = await identityOf(id, spec);
    if (!who) throw missingRecordError(id);
    const payload = {
      ...(spec.from === null
        ? {}
        : {
            from: spec.from,
            who: {
              requester: who.requesterId,
              grantee: who.granteeId,
              target: who.targetId,
            },
          }),
      to: spec.to ?? '',
      audit: spec.audit,
      actor: spec.actor,
      at,
      detail: spec.detail,
      policy: spec.policyVersion ?? '',
      ...(spec.receipt === undefined ? {} : { receipt: spec.receipt }),
      id,
      retention: String(retentionMs),
      final: spec.to !== null && isFinal(spec.to),
      fields,
      expect,
      ...(ledger
        ? {
            ledger: {
              hset: ledger.hset,
              hdel: ledger.hdel,
              ...(ledger.ending
                ? { ending: { member: ledger.ending.member, score: ledger.ending.score ?? '' } }
                : {}),
            },
          }
        : {}),
    };
    const reply = (await WRITE.run(
      redis,
      [
        keys.request(id),
        keys.audit,
        keys.requestAudit(id),
        ledger?.key ?? keys.request(id),
        keys.grantsEnding,
        keys.activeIndex,
        keys.requesterIndex(who.requesterId),
        keys.granteeIndex(who.granteeId),
        keys.deciderIndex(spec.actor),
        keys.pendingIndex(who.targetId),
        keys.openIndex(who.requesterId),
        keys.receipts,
        keys.receiptTimes,
        keys.store,
      ],
      // cjson decodes an empty array as an empty object; both iterate the same way in the script.
      [luaJson(payload)],
    )) as string[];
    const [status, previous, writes, ...flat] = reply;
    if (status === 'receipt-taken') {
      throw new AppError(
        'RECEIPT_TAKEN',
        `${id} was not stored: Rolecall took too long, and the person was told nothing was filed.`,
      );
    }
    if (status === 'missing' || status === 'stale') identities.delete(id);
    if (status === 'stale') {
      if (!retried) return write(id, spec, true);
      throw new AppError(
        'STORAGE_UNAVAILABLE',
        `Request ${id} changed who it is about while being written.`,
        {
          retryable: true,
        },
      );
    }
    if (status === 'missing') throw missingRecordError(id);
    const request = decodeRequest(id, Object.fromEntries(pairsOf(flat)));
    if (status === 'conflict') return { ok: false, current: request };
    if (writes !== undefined && writes !== '0') options.onWrites?.(Number(writes));
    if (spec.to !== null && previous !== spec.to) {
      options.onTransition?.(request, previous ? (previous as RequestState) : null, Number(at));
    }
    if (spec.audit) {
      options.onAudit?.({
        kind: 'request',
        request: id,
        from: previous ?? '',
        to: spec.to ?? previous ?? '',
        actor: spec.actor,
        at,
        detail: spec.detail,
        policy: spec.policyVersion ?? '',
      });
    }
    return { ok: true, request, from: (previous || 'pending') as RequestState };
  };

  /** Reads requests by id, dropping (and unindexing) those whose retention has run out. */
  const readMany = async (ids: readonly string[], index: string): Promise<AccessRequest[]> => {
    if (ids.length === 0) return [];
    const pipeline = redis.pipeline();
    for (const id of ids) pipeline.hgetall(keys.request(id));
    const hashes = (await pipeline.exec()) ?? [];
    const found: AccessRequest[] = [];
    const gone: string[] = [];
    ids.forEach((id, i) => {
      const hash = hashes[i]?.[1] as Record<string, string> | undefined;
      if (hash?.state === undefined) gone.push(id);
      else found.push(decodeRequest(id, hash));
    });
    if (gone.length > 0) {
      await (index.startsWith(keys.pendingIndex(''))
        ? redis.srem(index, ...gone)
        : redis.zrem(index, ...gone));
    }
    return found;
  };

  return {
    get,
    require,

    async create(draft, actor, state = 'submitted', receiptId) {
      const id = await issueId(redis, 'AR', keys.requestSeq);
      const result = await write(id, {
        from: null,
        to: state,
        audit: true,
        actor,
        receipt: receiptId,
        detail: draft.extends
          ? `requested (extends ${draft.extends})`
          : draft.workflow
            ? 'requested through a Workflow Builder step'
            : 'requested',
        fields: {
          schema: FLAT_REQUEST_SCHEMA,
          rolesAtRequest: null,
          holdersAtRequest: [],
          addsToProject: false,
          workflow: null,
          ...draft,
          createdAt: now(),
          approvalMessage: null,
          approvals: [],
          decision: null,
          acknowledged: null,
          plan: null,
          grant: null,
          extensions: [],
          extension: null,
          endedEarly: null,
          revokePlan: null,
          revocation: null,
          revokeTrouble: null,
          drift: [],
          failure: null,
          attempt: 1,
        },
      });
      if (!result.ok) throw new AppError('INTERNAL', `Request id ${id} was already taken.`);
      return result.request;
    },

    async transition(id, input) {
      const from = typeof input.from === 'string' ? [input.from] : input.from;
      for (const state of from) {
        if (!canTransition(state, input.to)) {
          throw new AppError('INTERNAL', `The state machine does not allow ${state} -> ${input.to}.`);
        }
      }
      return write(id, {
        from,
        to: input.to,
        audit: true,
        actor: input.actor,
        detail: input.detail ?? '',
        fields: { ...input.patch },
        ledger: input.ledger,
        expect: input.expect,
        policyVersion: input.policyVersion,
      });
    },

    async note(id, input) {
      return write(id, {
        from: input.whileIn,
        to: null,
        audit: true,
        actor: input.actor,
        detail: input.detail,
        fields: { ...input.patch },
        ledger: input.ledger,
        expect: input.expect,
        policyVersion: input.policyVersion,
      });
    },

    async patch(id, whileIn, patch) {
      return write(id, {
        from: whileIn,
        to: null,
        audit: false,
        actor: 'system',
        detail: '',
        fields: { ...patch },
      });
    },

    async listByRequester(userId, limit) {
      const index = keys.requesterIndex(userId);
      return readMany(await redis.zrevrange(index, 0, limit - 1), index);
    },

    async claimWorkflow(executionId) {
      const claimed = await redis.set(
        keys.workflowRequest(executionId),
        '1',
        'PX',
        7 * 24 * 3600 * 1000,
        'NX',
      );
      return claimed === 'OK';
    },

    async listByGrantee(userId, limit) {
      const index = keys.granteeIndex(userId);
      return readMany(await redis.zrevrange(index, 0, limit - 1), index);
    },

    async listDecidedBy(userId, limit) {
      const index = keys.deciderIndex(userId);
      return readMany(await redis.zrevrange(index, 0, limit - 1), index);
    },

    async listPending(targetIds) {
      const found = await Promise.all(
        targetIds.map(async (targetId) => {
          const index = keys.pendingIndex(targetId);
          return readMany(await redis.smembers(index), index);
        }),
      );
      return found
        .flat()
        .sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id, 'en', { numeric: true }));
    },

    async listActive(before, limit) {
      const ids = await redis.zrangebyscore(keys.activeIndex, '-inf', before, 'LIMIT', 0, limit);
      return readMany(ids, keys.activeIndex);
    },

    async audit(id) {
      return (await readRequestTrail(redis, keys.requestAudit(id), id)).map((f) => {
        return {
          requestId: f.request ?? id,
          from: (f.from || null) as RequestState | null,
          to: f.to as RequestState,
          actor: f.actor ?? 'system',
          at: Number(f.at),
          detail: f.detail ?? '',
          policy: f.policy || null,
        };
      });
    },
  };
}

function decodeRequest(id: string, hash: Record<string, string>): AccessRequest {
  const schema = hash.schema === undefined ? 1 : Number(hash.schema);
  if (!(schema >= 1 && schema <= REQUEST_SCHEMA_VERSION)) {
    // A newer release wrote it: reading it with today's shape could misread a grant.
    throw new AppError(
      'STORAGE_UNAVAILABLE',
      `${id} was stored by a newer Rolecall (schema ${hash.schema}); this one reads up to ${REQUEST_SCHEMA_VERSION}. Finish the upgrade of every process.`,
      { retryable: true },
    );
  }
  const fields: Record<string, string | undefined> =
    hash.packed === undefined ? hash : (JSON.parse(hash.packed) as Record<string, string>);
  const decoded: Record<string, unknown> = { id, state: hash.state };
  for (const field of JSON_FIELDS) {
    const raw = fields[field];
    decoded[field] = raw === undefined ? (FIELD_DEFAULTS[field] ?? null) : JSON.parse(raw);
  }
  return decoded as unknown as AccessRequest;
}

/**
 * A request's own audit trail, oldest first, as its entries' fields: a list of JSON entries (schema
 * 2), or the stream a request stored before schema 2 has.
 */
export async function readRequestTrail(
  redis: RedisClient,
  key: string,
  requestId: string,
): Promise<Record<string, string>[]> {
  if ((await redis.type(key)) === 'stream') {
    return (await redis.xrange(key, '-', '+')).map(([, flat]) => Object.fromEntries(pairsOf(flat)));
  }
  return (await redis.lrange(key, 0, -1)).map((text) => parseTrailEntry(text, requestId));
}

function pairsOf(flat: readonly string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i] as string, flat[i + 1] as string]);
  return out;
}
