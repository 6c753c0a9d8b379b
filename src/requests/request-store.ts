import { type AuditSink, parseTrailEntry } from '../audit/audit-trail.js';
import { AppError } from '../errors.js';
import { encodeLedgerWrite, type LedgerWrite } from '../grants/ledger-store.js';
import { issueId, missingRecordError } from '../lib/ids.js';
import type { RedisClient } from '../lib/redis-client.js';
import { type RedisKeys, redisKeys } from '../lib/redis-keys.js';
import { loadRedisScript, luaJson } from '../lib/redis-script.js';
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

/**
 * What each field holds when it is absent (FIELD_DEFAULTS, else null), as stored: a settled request
 * leaves these out. The write script gets it as JSON (lua/write-request.lua, ARGV[2]).
 */
const STORED_DEFAULTS: Readonly<Record<string, string>> = Object.fromEntries(
  JSON_FIELDS.map((field) => [field, JSON.stringify(FIELD_DEFAULTS[field] ?? null)]),
);

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
  const writeScript = loadRedisScript(import.meta.url, 'write-request');
  // What the script needs from this release besides the write: ARGV[2..4] (see the script's header).
  const shared = [
    JSON.stringify(STORED_DEFAULTS),
    String(FLAT_REQUEST_SCHEMA),
    String(REQUEST_SCHEMA_VERSION),
  ];

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
    const reply = (await writeScript.run(
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
      [luaJson(payload), ...shared],
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
