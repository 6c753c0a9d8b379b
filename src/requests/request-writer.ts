import type { AuditSink } from '../audit/audit-trail.js';
import { AppError } from '../errors.js';
import { encodeLedgerWrite, type LedgerWrite } from '../grants/ledger-store.js';
import { createIdIssuer, missingRecordError } from '../lib/ids.js';
import type { RedisClient } from '../lib/redis-client.js';
import { type RedisKeys, redisKeys } from '../lib/redis-keys.js';
import { loadRedisScript, luaJson } from '../lib/redis-script.js';
import { describeFiled } from './filed-note.js';
import type { AccessRequest, RequestDraft, RequestPatch, RequestState } from './model.js';
import {
  DECISIONS_KEPT,
  decodeIdentity,
  decodeRequest,
  encodeFields,
  FLAT_REQUEST_SCHEMA,
  PACKED_REQUEST_SCHEMA,
  parseFlatHash,
  type RequestIdentity,
  readStoredHash,
  STORED_DEFAULTS,
} from './request-codec.js';
import { createSettledRecords, type ExpandedRecord } from './settled-record.js';
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

/** Changes stored requests; every write is one Lua script (lua/write-request.lua) with its audit entries. */
export interface RequestWriter {
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
    /** An id from {@link RequestWriter.issueId} (a bundle's parts know each other's); default: a new one. */
    id?: string,
  ): Promise<AccessRequest>;
  /** Hands out a new request id (`AR-…`), never given before, for {@link RequestWriter.create}. */
  issueId(): Promise<string>;
  transition(id: string, input: TransitionInput): Promise<TransitionResult>;
  /** Records an audit entry and changes fields (and the ledger) without changing state. */
  note(id: string, input: NoteInput): Promise<TransitionResult>;
  /** Changes fields without changing state or auditing, only while the request is in one of `whileIn`. */
  patch(id: string, whileIn: readonly RequestState[], patch: RequestPatch): Promise<TransitionResult>;
  /**
   * Claims a Workflow Builder execution for a new request (kept 7 days): false when it was claimed
   * already, so an event Slack delivers twice files one request.
   */
  claimWorkflow(executionId: string): Promise<boolean>;
}

/** Options for {@link createRequestWriter}. */
export interface RequestWriterOptions {
  /** Every key lives under `${prefix}:`. */
  prefix: string;
  /** How long a finished request and its trail stay in Redis, in ms. @defaultValue 90 days */
  retentionMs?: number;
  /** Told every audit entry this store writes (transitions and notes), with its fields. */
  onAudit?: AuditSink;
  /** Told the store's write count after every write (continuity/ notices a store that went back in time). */
  onWrites?: (count: number) => void;
  now?: () => number;
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

/** How long a finished request and its trail stay in Redis unless told otherwise: 90 days. */
const REQUEST_RETENTION_MS = 90 * 24 * 3600 * 1000;

/** Creates the Redis-backed request writer; reads its scripts (lua/write-request.lua, lua/compress-request.lua) now. */
export function createRequestWriter(redis: RedisClient, options: RequestWriterOptions): RequestWriter {
  const keys: RedisKeys = redisKeys(options.prefix);
  const retentionMs = options.retentionMs ?? REQUEST_RETENTION_MS;
  const now = options.now ?? Date.now;
  const writeScript = loadRedisScript(import.meta.url, 'write-request');
  const settled = createSettledRecords(redis);
  const issueId = createIdIssuer(redis);
  // What the script needs from this release besides the write: ARGV[2..4] (see the script's header).
  const shared = [
    JSON.stringify(STORED_DEFAULTS),
    String(FLAT_REQUEST_SCHEMA),
    String(PACKED_REQUEST_SCHEMA),
  ];

  // Who a request is about never changes after it is created, so the index keys a write touches are
  // known before the script runs (a Cluster needs every key in KEYS). Bounded; refilled by HMGET.
  // A write checks the identity it was given against the stored request ('stale' when they differ:
  // the id now names another request, e.g. after Redis lost data and handed the id out again).
  const identities = new Map<string, RequestIdentity>();
  const identityOf = async (id: string, spec: WriteSpec): Promise<RequestIdentity | undefined> => {
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
    const found = decodeIdentity(readStoredHash(id, await redis.hgetallBuffer(keys.request(id))));
    if (!found) return undefined;
    if (identities.size >= 10_000) identities.delete(identities.keys().next().value ?? id);
    identities.set(id, found);
    return found;
  };

  const write = async (
    id: string,
    spec: WriteSpec,
    retried = false,
    expanded?: ExpandedRecord,
    expansions = 0,
  ): Promise<TransitionResult> => {
    const at = String(now());
    const fields = encodeFields(spec.fields);
    const expect = encodeFields(spec.expect ?? {});
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
              shorten: ledger.shorten,
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
      [luaJson(payload), ...shared, expanded?.packed ?? '', expanded?.digest ?? '', String(DECISIONS_KEPT)],
    )) as string[];
    const [status, previous, writes, ...flat] = reply;
    if (status === 'compressed') {
      // Compressed: the script cannot read it. Expand it and write again (a few rounds: the digest
      // tells when another process changed it meanwhile).
      const again = { retryable: true };
      if (expansions >= 5) throw new AppError('STORAGE_UNAVAILABLE', `Request ${id} kept changing.`, again);
      return write(id, spec, retried, await settled.expand(id, keys.request(id)), expansions + 1);
    }
    if (status === 'receipt-taken') {
      throw new AppError(
        'RECEIPT_TAKEN',
        `${id} was not stored: Rolecall took too long, and the person was told nothing was filed.`,
      );
    }
    if (status === 'missing' || status === 'stale') identities.delete(id);
    if (status === 'stale') {
      if (!retried) return write(id, spec, true, expanded, expansions);
      throw new AppError(
        'STORAGE_UNAVAILABLE',
        `Request ${id} changed who it is about while being written.`,
        {
          retryable: true,
        },
      );
    }
    if (status === 'missing') throw missingRecordError(id);
    const stored = parseFlatHash(flat);
    const request = decodeRequest(id, stored);
    if (status === 'conflict') return { ok: false, current: request };
    // Told at once, in the order the script's replies came (continuity/ reads the counts in order).
    if (writes !== undefined && writes !== '0') options.onWrites?.(Number(writes));
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
    if (stored.packed !== undefined && stored.schema === String(PACKED_REQUEST_SCHEMA)) {
      // Only saves memory: a failure leaves it packed, which reads the same, and the write stands.
      await settled.compress(keys.request(id), stored.packed).catch(() => undefined);
    }
    return { ok: true, request, from: (previous || 'pending') as RequestState };
  };

  return {
    issueId: () => issueId('AR', keys.requestSeq),

    async create(draft, actor, state = 'submitted', receiptId, given) {
      const id = given ?? (await issueId('AR', keys.requestSeq));
      const result = await write(id, {
        from: null,
        to: state,
        audit: true,
        actor,
        receipt: receiptId,
        detail: describeFiled(draft),
        fields: {
          schema: FLAT_REQUEST_SCHEMA,
          rolesAtRequest: null,
          atlasUserId: null,
          holdersAtRequest: [],
          rolesThroughTeamsAtRequest: [],
          teamAccess: [],
          database: null,
          addsToProject: false,
          workflow: null,
          ticket: null,
          ticketUrl: null,
          startsAt: null,
          bundle: null,
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
  };
}
