import type { RedisClient } from '../lib/redis-client.js';
import type { RedisKeys } from '../lib/redis-keys.js';
import { loadRedisScript, luaJson } from '../lib/redis-script.js';
import type { ScopeKind } from '../lib/scope.js';

/**
 * Where a Workflow Builder step's on-behalf request stands while it waits for the person who ran the
 * workflow: `pending` (asked), `filing` (confirmed, being filed), then `filed`, `refused` (the policy
 * or Slack said no), `cancelled` (they pressed Cancel) or `expired` (nobody confirmed in time).
 */
export type StepConfirmationState = 'pending' | 'filing' | 'filed' | 'refused' | 'cancelled' | 'expired';

/** The request line the step would file, as stored (a permanent request has `durationSeconds: null`). */
export interface StepRequestLine {
  readonly roles: readonly string[];
  readonly scope: ScopeKind;
  /** The target's name in the policy when it was asked. */
  readonly target: string;
  readonly durationSeconds: number | null;
  readonly reason: string;
}

/** A step's request waiting for (or settled by) its runner's Confirm or Cancel. */
export interface StepConfirmation {
  /** Slack's function_execution_id of the step. */
  readonly executionId: string;
  /** Who ran the workflow (Slack's interactor): the requester, and the only one who may confirm. */
  readonly requesterId: string;
  /** Who would get access (the step's `user`, set by the workflow's author). */
  readonly granteeId: string;
  /** The workspace the workflow ran in (an org-wide install reads user groups there); null if unknown. */
  readonly teamId: string | null;
  readonly line: StepRequestLine;
  readonly askedAt: number;
  /** Unconfirmed at this time (ms), it expires and the step ends with an error. */
  readonly deadline: number;
  readonly state: StepConfirmationState;
  /** When it last changed state (confirmed, filed, refused, cancelled, expired). */
  readonly changedAt: number | null;
  /** Who confirmed or cancelled it. */
  readonly decidedBy: string | null;
  /** The request it filed. */
  readonly requestId: string | null;
  /** Why it was refused, in words. */
  readonly failure: string | null;
  /** The direct message that asked, once posted. */
  readonly message: { readonly channel: string; readonly ts: string } | null;
}

/** What a state change may patch. */
export type StepConfirmationPatch = Partial<
  Pick<StepConfirmation, 'changedAt' | 'decidedBy' | 'requestId' | 'failure' | 'message'>
>;

/** One atomic state change of {@link StepConfirmationStore.move}. */
export interface StepConfirmationMove {
  /** Moves only from one of these states. */
  readonly from: readonly StepConfirmationState[];
  /** The new state; undefined keeps it (a note such as the message that asked). */
  readonly to?: StepConfirmationState;
  readonly patch?: StepConfirmationPatch;
  /**
   * What the due set holds for it afterwards: a time (ms) when something is owed then (a lease for
   * work in progress, a step to end), `drop` when nothing more is owed, `keep` to leave it.
   */
  readonly due: number | 'drop' | 'keep';
  /** Moves only while it is before its deadline (`before`) or once it is past (`after`). */
  readonly deadline?: 'before' | 'after';
  readonly now: number;
}

/** Redis storage of step confirmations (keys `workflow-confirm:*`, see lib/redis-keys.ts). */
export interface StepConfirmationStore {
  /**
   * Stores a new `pending` confirmation, due at its deadline and kept `keepMs` past it; false when
   * this execution has one already (an event Slack delivered twice).
   */
  open(
    confirmation: Omit<
      StepConfirmation,
      'state' | 'changedAt' | 'decidedBy' | 'requestId' | 'failure' | 'message'
    >,
    keepMs: number,
  ): Promise<boolean>;
  read(executionId: string): Promise<StepConfirmation | undefined>;
  /** Changes it in one script; `ok: false` (with how it stands) when it was not in a `from` state. */
  move(
    executionId: string,
    move: StepConfirmationMove,
  ): Promise<{ readonly ok: boolean; readonly confirmation: StepConfirmation | undefined }>;
  /**
   * The executions with something owed by `now`, at most `limit`; each is leased until `leaseUntil`
   * (another process picks it up only after that).
   */
  claimDue(now: number, leaseUntil: number, limit: number): Promise<string[]>;
  /** Nothing more is owed for this execution. */
  finish(executionId: string): Promise<void>;
}

/** A stored record back as a StepConfirmation (cjson writes JSON null as null). */
function parseConfirmation(raw: string): StepConfirmation {
  const stored = JSON.parse(raw) as StepConfirmation;
  return {
    ...stored,
    line: { ...stored.line, durationSeconds: stored.line.durationSeconds ?? null },
    changedAt: stored.changedAt ?? null,
    decidedBy: stored.decidedBy ?? null,
    requestId: stored.requestId ?? null,
    failure: stored.failure ?? null,
    message: stored.message ?? null,
    teamId: stored.teamId ?? null,
  };
}

/** The store over one Redis connection; every key is under the prefix's hash tag (one Cluster slot). */
export function createStepConfirmationStore(redis: RedisClient, keys: RedisKeys): StepConfirmationStore {
  const due = keys.stepConfirmationsDue;
  const openScript = loadRedisScript(import.meta.url, 'open-step-confirmation');
  const moveScript = loadRedisScript(import.meta.url, 'move-step-confirmation');
  const claimDueScript = loadRedisScript(import.meta.url, 'claim-due-step-confirmations');
  return {
    async open(confirmation, keepMs) {
      const record: StepConfirmation = {
        ...confirmation,
        state: 'pending',
        changedAt: null,
        decidedBy: null,
        requestId: null,
        failure: null,
        message: null,
      };
      const ttlMs = Math.max(1, confirmation.deadline - confirmation.askedAt) + keepMs;
      const opened = await openScript.run(
        redis,
        [keys.stepConfirmation(confirmation.executionId), due],
        [confirmation.executionId, luaJson(record), ttlMs, confirmation.deadline],
      );
      return opened === 1;
    },

    async read(executionId) {
      const raw = await redis.get(keys.stepConfirmation(executionId));
      return raw === null ? undefined : parseConfirmation(raw);
    },

    async move(executionId, move) {
      const [ok, raw] = (await moveScript.run(
        redis,
        [keys.stepConfirmation(executionId), due],
        [
          executionId,
          move.from.join(','),
          move.to ?? '',
          luaJson(move.patch ?? {}),
          typeof move.due === 'number' ? Math.round(move.due) : move.due,
          move.now,
          move.deadline ?? '',
        ],
      )) as [number, string | null];
      return { ok: ok === 1, confirmation: typeof raw === 'string' ? parseConfirmation(raw) : undefined };
    },

    async claimDue(now, leaseUntil, limit) {
      return (await claimDueScript.run(redis, [due], [now, Math.round(leaseUntil), limit])) as string[];
    },

    async finish(executionId) {
      await redis.zrem(due, executionId);
    },
  };
}
