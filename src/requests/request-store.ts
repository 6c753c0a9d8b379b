import type { Redis } from 'ioredis';
import { AppError } from '../errors.js';
import { defineRedisScript } from '../lib/redis-script.js';
import type { AccessRequest, AuditEntry, RequestDraft, RequestPatch, RequestState } from './model.js';
import { canTransition, isFinal } from './state-machine.js';

/** Arguments of one atomic state change. */
export interface TransitionInput {
  /** States the request must be in now; anything else is a conflict. */
  readonly from: RequestState | readonly RequestState[];
  readonly to: RequestState;
  /** Slack user id, or `system`. */
  readonly actor: string;
  readonly detail?: string;
  readonly patch?: RequestPatch;
}

/** What a transition did: the request after it, or the state that stood in the way. */
export type TransitionResult =
  | { readonly ok: true; readonly request: AccessRequest; readonly from: RequestState }
  | { readonly ok: false; readonly current: AccessRequest };

/** Request persistence in Redis; every state change is one Lua script with its audit entries. */
export interface RequestStore {
  create(draft: RequestDraft, actor: string): Promise<AccessRequest>;
  get(id: string): Promise<AccessRequest | undefined>;
  /** Like get, but a missing request is an AppError the user can read. */
  require(id: string): Promise<AccessRequest>;
  transition(id: string, input: TransitionInput): Promise<TransitionResult>;
  /** Changes fields without changing state, only while the request is in one of `whileIn`. */
  patch(id: string, whileIn: readonly RequestState[], patch: RequestPatch): Promise<TransitionResult>;
  audit(id: string): Promise<AuditEntry[]>;
  /** A person's requests, newest first. */
  listByRequester(userId: string, limit: number): Promise<AccessRequest[]>;
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
  /**
   * Approximate length cap of the global audit stream.
   * @defaultValue 1_000_000
   */
  auditMaxLength?: number;
  now?: () => number;
}

// KEYS: request hash, global audit stream, request audit stream
// ARGV: allowed from-states ('' = must not exist), to-state ('' = unchanged), actor, at, detail,
//       request id, audit max length, retention ms (0 = keep), to-state is final (1/0), key prefix,
//       then field/value pairs.
// Also keeps the indexes: requests per requester (zset by creation), pending requests per target (set),
// and `active` requests the system still has to move (zset by last update), for the sweeper.
// Index keys are derived from the request (single Redis instance, not Cluster).
const TRANSITION = defineRedisScript(`
local function reply(status, state)
  local out = {status, state}
  for _, v in ipairs(redis.call('HGETALL', KEYS[1])) do out[#out + 1] = v end
  return out
end
local current = redis.call('HGET', KEYS[1], 'state')
if ARGV[1] == '' then
  if current then return reply('conflict', current) end
else
  if not current then return {'missing', ''} end
  local allowed = false
  for state in string.gmatch(ARGV[1], '[^,]+') do
    if state == current then allowed = true end
  end
  if not allowed then return reply('conflict', current) end
end
if #ARGV > 10 then redis.call('HSET', KEYS[1], unpack(ARGV, 11)) end
redis.call('HSET', KEYS[1], 'updatedAt', ARGV[4])
local to = ARGV[2]
if to ~= '' then
  redis.call('HSET', KEYS[1], 'state', to)
  local from = current or ''
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[7], '*', 'request', ARGV[6], 'from', from, 'to', to, 'actor', ARGV[3], 'at', ARGV[4], 'detail', ARGV[5])
  redis.call('XADD', KEYS[3], '*', 'request', ARGV[6], 'from', from, 'to', to, 'actor', ARGV[3], 'at', ARGV[4], 'detail', ARGV[5])
  if ARGV[9] == '1' and ARGV[8] ~= '0' then
    redis.call('PEXPIRE', KEYS[1], ARGV[8])
    redis.call('PEXPIRE', KEYS[3], ARGV[8])
  end
  local prefix = ARGV[10]
  local id = ARGV[6]
  local requester = cjson.decode(redis.call('HGET', KEYS[1], 'requesterId'))
  local target = cjson.decode(redis.call('HGET', KEYS[1], 'target'))
  if from == '' then redis.call('ZADD', prefix .. ':index:requester:' .. requester, ARGV[4], id) end
  local pending = prefix .. ':index:pending:' .. target.id
  if to == 'pending' then redis.call('SADD', pending, id) else redis.call('SREM', pending, id) end
  local active = to == 'pending' or to == 'approved' or to == 'applying' or to == 'revoking'
  if to == 'applied' then
    local grant = cjson.decode(redis.call('HGET', KEYS[1], 'grant') or 'null')
    active = type(grant) == 'table' and type(grant.revokeAt) == 'number'
  end
  if active then
    redis.call('ZADD', prefix .. ':index:active', ARGV[4], id)
  else
    redis.call('ZREM', prefix .. ':index:active', id)
  end
end
return reply('ok', current or '')
`);

const JSON_FIELDS = [
  'requesterId',
  'granteeId',
  'granteeEmail',
  'target',
  'roles',
  'durationSeconds',
  'reason',
  'createdAt',
  'updatedAt',
  'sourceChannelId',
  'rolesAtRequest',
  'approvalMessage',
  'decision',
  'plan',
  'grant',
  'revocation',
  'failure',
  'attempt',
] as const;

/** Creates the Redis-backed request store. */
export function createRequestStore(redis: Redis, options: RequestStoreOptions): RequestStore {
  const { prefix } = options;
  const retentionMs = options.retentionMs ?? 90 * 24 * 3600 * 1000;
  const auditMaxLength = options.auditMaxLength ?? 1_000_000;
  const now = options.now ?? Date.now;
  const requestKey = (id: string) => `${prefix}:request:${id}`;
  const auditKey = `${prefix}:audit`;
  const requestAuditKey = (id: string) => `${prefix}:request:${id}:audit`;

  const get = async (id: string): Promise<AccessRequest | undefined> => {
    const hash = await redis.hgetall(requestKey(id));
    return hash.state === undefined ? undefined : decodeRequest(id, hash);
  };

  const require = async (id: string): Promise<AccessRequest> => {
    const request = await get(id);
    if (!request) throw new AppError('REQUEST_NOT_FOUND', `There is no request ${id}.`);
    return request;
  };

  const write = async (
    id: string,
    from: readonly RequestState[] | null,
    to: RequestState | null,
    actor: string,
    detail: string,
    fields: Record<string, unknown>,
  ): Promise<TransitionResult> => {
    const at = now();
    const pairs: string[] = [];
    for (const [field, value] of Object.entries(fields)) {
      if (value !== undefined) pairs.push(field, JSON.stringify(value));
    }
    const reply = (await TRANSITION.run(
      redis,
      [requestKey(id), auditKey, requestAuditKey(id)],
      [
        from === null ? '' : from.join(','),
        to ?? '',
        actor,
        at,
        detail,
        id,
        auditMaxLength,
        retentionMs,
        to !== null && isFinal(to) ? '1' : '0',
        prefix,
        ...pairs,
      ],
    )) as string[];
    const [status, previous, ...flat] = reply;
    if (status === 'missing') throw new AppError('REQUEST_NOT_FOUND', `There is no request ${id}.`);
    const request = decodeRequest(id, Object.fromEntries(pairsOf(flat)));
    if (status === 'conflict') return { ok: false, current: request };
    return { ok: true, request, from: (previous || 'pending') as RequestState };
  };

  /** Reads requests by id, dropping (and unindexing) those whose retention has run out. */
  const readMany = async (ids: readonly string[], index: string): Promise<AccessRequest[]> => {
    if (ids.length === 0) return [];
    const pipeline = redis.pipeline();
    for (const id of ids) pipeline.hgetall(requestKey(id));
    const hashes = (await pipeline.exec()) ?? [];
    const found: AccessRequest[] = [];
    const gone: string[] = [];
    ids.forEach((id, i) => {
      const hash = hashes[i]?.[1] as Record<string, string> | undefined;
      if (hash?.state === undefined) gone.push(id);
      else found.push(decodeRequest(id, hash));
    });
    if (gone.length > 0) {
      await (index.includes(':index:pending:') ? redis.srem(index, ...gone) : redis.zrem(index, ...gone));
    }
    return found;
  };

  return {
    get,
    require,

    async create(draft, actor) {
      const sequence = await redis.incr(`${prefix}:request:seq`);
      const id = `AR-${String(sequence).padStart(4, '0')}`;
      const at = now();
      const result = await write(id, null, 'pending', actor, 'requested', {
        ...draft,
        createdAt: at,
        approvalMessage: null,
        decision: null,
        plan: null,
        grant: null,
        revocation: null,
        failure: null,
        attempt: 1,
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
      return write(id, from, input.to, input.actor, input.detail ?? '', { ...input.patch });
    },

    async patch(id, whileIn, patch) {
      return write(id, whileIn, null, 'system', '', { ...patch });
    },

    async listByRequester(userId, limit) {
      const ids = await redis.zrevrange(`${prefix}:index:requester:${userId}`, 0, limit - 1);
      return readMany(ids, `${prefix}:index:requester:${userId}`);
    },

    async listPending(targetIds) {
      const found = await Promise.all(
        targetIds.map(async (targetId) =>
          readMany(
            await redis.smembers(`${prefix}:index:pending:${targetId}`),
            `${prefix}:index:pending:${targetId}`,
          ),
        ),
      );
      return found
        .flat()
        .sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id, 'en', { numeric: true }));
    },

    async listActive(before, limit) {
      const ids = await redis.zrangebyscore(`${prefix}:index:active`, '-inf', before, 'LIMIT', 0, limit);
      return readMany(ids, `${prefix}:index:active`);
    },

    async audit(id) {
      const entries = await redis.xrange(requestAuditKey(id), '-', '+');
      return entries.map(([, flat]) => {
        const f = Object.fromEntries(pairsOf(flat));
        return {
          requestId: f.request ?? id,
          from: (f.from || null) as RequestState | null,
          to: f.to as RequestState,
          actor: f.actor ?? 'system',
          at: Number(f.at),
          detail: f.detail ?? '',
        };
      });
    },
  };
}

function decodeRequest(id: string, hash: Record<string, string>): AccessRequest {
  const decoded: Record<string, unknown> = { id, state: hash.state };
  for (const field of JSON_FIELDS) {
    const raw = hash[field];
    decoded[field] = raw === undefined ? null : JSON.parse(raw);
  }
  return decoded as unknown as AccessRequest;
}

function pairsOf(flat: readonly string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i] as string, flat[i + 1] as string]);
  return out;
}
