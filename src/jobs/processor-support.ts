import { DelayedError, type Job, UnrecoverableError } from 'bullmq';
import { describeSsoRemoval } from '../access/federation-check.js';
import type { AtlasDatabaseAccessApi } from '../atlas/database-access-api.js';
import type { AtlasRolesApi } from '../atlas/roles-api.js';
import { isAppError } from '../errors.js';
import type { Ledger, RoleHolder } from '../grants/ledger.js';
import type { LedgerStore } from '../grants/ledger-store.js';
import type { AtlasScope, TargetRef } from '../lib/scope.js';
import type { DryRunLog } from '../ops/dry-run-log.js';
import type { Logger } from '../ops/logger.js';
import type { Lifecycle } from '../requests/lifecycle.js';
import type { AccessRequest, Failure, RequestState } from '../requests/model.js';
import type { RequestEvent } from '../requests/ports.js';
import type { RequestReader } from '../requests/request-reader.js';
import type { RequestJob, WithDoneSteps } from './queues.js';
import type { Fence, UserLock } from './user-lock.js';

/** Dependencies of the apply and revoke processors. */
export interface ProcessorDeps {
  /** Reads requests; every write goes through `lifecycle`. */
  store: Pick<RequestReader, 'get' | 'require' | 'listPending'>;
  /** Moves requests (and queues what follows each move). */
  lifecycle: Lifecycle;
  ledgers: LedgerStore;
  atlas: AtlasRolesApi;
  /** Temporary database users and IP access-list entries (Atlas v2 only); absent elsewhere. */
  database?: AtlasDatabaseAccessApi;
  /** Serializes the Atlas writes that overlap (see {@link lockKeyOf}), across worker processes. */
  lock: UserLock;
  logger: Logger;
  /** ATLAS_DRY_RUN: the writes not sent, per request; absent when writes are sent. */
  dryRunLog?: DryRunLog;
  /**
   * When Atlas's events show a federated SSO login took the person's roles in the scope back since
   * `since` (ms); null when they do not (or Atlas has no federation). Drift says so in its words.
   */
  ssoRemovedAt?: (scope: AtlasScope, email: string, userId: string, since: number) => Promise<number | null>;
  /** The approved offboarding of this Atlas username, if any: nothing may be granted to them then. */
  offboardedBy?: (email: string) => Promise<string | null>;
  /**
   * A scheduled grant at its start: throws in words when the policy in force refuses it now
   * (start-check.ts); absent = not asked again.
   */
  checkAtStart?: (request: AccessRequest) => Promise<void>;
  now?: () => number;
}

/** What a processor did, kept as the BullMQ job's return value. */
export type ProcessorOutcome = { done: string } | { skipped: string };

/**
 * The lock for a change to `email` on `target`: one per user when the flavor's write rewrites every
 * scope of the user (atlas-v1), else one per user and org or project.
 */
export function lockKeyOf(
  atlas: Pick<AtlasRolesApi, 'writeScope'>,
  target: TargetRef,
  email: string,
): string {
  const user = email.toLowerCase();
  return atlas.writeScope === 'user' ? `user:${user}` : `${target.kind}:${target.id}:${user}`;
}

/** One Atlas step of a request (apply or revoke), as states and events. */
export interface StepStates {
  /** The states the step starts from (`approved`; `applied` or `revoke_failed`). */
  readonly ready: readonly RequestState[];
  /** The state while it runs (`applying`, `revoking`); a retried job resumes from here. */
  readonly working: 'applying' | 'revoking';
  /** Where it ends when it worked (`applied`, `revoked`) and the event that says so. */
  readonly done: RequestState & RequestEvent;
  /** Where it ends when it cannot work (`failed`, `revoke_failed`) and the event that says so. */
  readonly failed: RequestState & RequestEvent;
}

/** Ways a step differs from the plain "ready -> working -> done | failed". */
export interface StepHooks {
  /** When a job came too early (the grant was extended, or waits for its start), the time to run instead (ms since epoch). */
  readonly notBefore?: (request: AccessRequest) => number | undefined;
  /** After the last attempt: records the failure. Default: working -> failed, and Slack is told. */
  readonly onFailure?: (request: AccessRequest, failure: Omit<Failure, 'at'>) => Promise<void>;
}

/**
 * Runs one step of a request as a BullMQ processor: moves ready -> working (or resumes working),
 * runs `work` under the lock of the Atlas write it makes, and after the last attempt records the
 * failure in words and tells Slack. A job for a request already past the step re-sends the outcome
 * notice (deduplicated).
 */
export function createStepProcessor(
  deps: ProcessorDeps,
  states: StepStates,
  work: (request: AccessRequest, fence: Fence) => Promise<ProcessorOutcome>,
  hooks: StepHooks = {},
) {
  const { store, lifecycle, lock, logger, atlas } = deps;
  const now = deps.now ?? Date.now;

  const recordFailure =
    hooks.onFailure ??
    (async (request: AccessRequest, failure: Omit<Failure, 'at'>) => {
      await lifecycle.failed(request.id, {
        actor: 'system',
        detail: failure.message,
        patch: { failure: { ...failure, at: now() } },
      });
    });

  type Start =
    | { request: AccessRequest; working: true }
    | { request: AccessRequest; working: false; wait?: number };

  /** The request once it is in the working state, or where it stands when the step is not for it (yet). */
  const start = async (id: string): Promise<Start> => {
    for (let round = 0; ; round += 1) {
      const request = await store.require(id);
      if (request.state === states.working) return { request, working: true };
      if (!states.ready.includes(request.state)) return { request, working: false };
      const wait = hooks.notBefore?.(request);
      if (wait !== undefined) return { request, working: false, wait };
      // The grant must be the one just read: an extension that lands first moves the end instead.
      const moved = await lifecycle.started(id, request.state, states.working, {
        actor: 'system',
        expect: { grant: request.grant, endedEarly: request.endedEarly },
      });
      if (moved.ok) return { request: moved.request, working: true };
      if (round >= 3) return { request: moved.current, working: false };
    }
  };

  return async (job: Job<RequestJob>, token?: string): Promise<ProcessorOutcome> => {
    const { requestId } = job.data;
    const started = await start(requestId);
    const { request } = started;
    if (!started.working) {
      if (started.wait !== undefined && token !== undefined) {
        logger.info(`${states.working} deferred: it is not due yet`, { requestId, until: started.wait });
        await job.moveToDelayed(started.wait, token);
        throw new DelayedError();
      }
      if (request.state === states.done || request.state === states.failed)
        await lifecycle.retell(request, request.state);
      return { skipped: request.state };
    }
    try {
      return await lock.run(lockKeyOf(atlas, request.target, request.granteeEmail), (fence) =>
        work(request, fence),
      );
    } catch (error) {
      const retryable = isAppError(error) ? error.retryable : !(error instanceof UnrecoverableError);
      if (retryable && job.attemptsMade + 1 < (job.opts.attempts ?? 1)) throw error;
      const detail = isAppError(error) ? error.details.detail : undefined;
      const failure = isAppError(error)
        ? { code: error.code, message: error.message, ...(typeof detail === 'string' ? { detail } : {}) }
        : { code: 'INTERNAL', message: 'An unexpected error stopped Rolecall; the details are in its logs.' };
      logger.error(`${states.working} failed`, { requestId, error });
      await recordFailure(await store.require(requestId), failure);
      throw new UnrecoverableError(failure.message);
    }
  };
}

/**
 * Closes holders that Atlas contradicts (their role was removed by hand): each affected request gets
 * an audit entry and a thread notice, and its holder leaves the ledger so it keeps nothing alive.
 * Runs under the person's lock, before the step that found it writes anything.
 */
export async function closeDrift(
  deps: Pick<ProcessorDeps, 'store' | 'lifecycle' | 'logger' | 'ssoRemovedAt'> & { now: () => number },
  drifted: readonly RoleHolder[],
  at: {
    readonly email: string;
    readonly target: TargetRef;
    readonly ledger: Ledger;
    readonly inScope: boolean;
  },
): Promise<void> {
  const byRequest = new Map<string, string[]>();
  for (const holder of drifted)
    byRequest.set(holder.requestId, [...(byRequest.get(holder.requestId) ?? []), holder.role]);
  let clearMembership = at.ledger.membershipBy !== null && !at.inScope;
  for (const [requestId, roles] of byRequest) {
    const request = await deps.store.get(requestId);
    const when = deps.now();
    const sso = await ssoLoginOf(deps, request, at.target);
    const ops = [
      ...roles.map((role) => ({ op: 'release' as const, role, requestId })),
      ...(clearMembership ? [{ op: 'membership' as const, requestId: null }] : []),
    ];
    const noted = await deps.lifecycle.drifted(requestId, {
      actor: 'system',
      detail:
        sso === null
          ? `drift: ${roles.join(', ')} ${roles.length === 1 ? 'was' : 'were'} removed in Atlas outside Rolecall`
          : `drift: ${describeSsoRemoval(roles.join(', '), sso)}`,
      patch: {
        drift: [
          ...(request?.drift ?? []),
          ...roles.map((role) => ({ role, at: when, ...(sso === null ? {} : { ssoLoginAt: sso }) })),
        ],
      },
      ledger: { email: at.email, target: at.target, ops },
    });
    if (!noted.ok) {
      deps.logger.warn('drift found on a request that holds nothing any more', { requestId, roles });
      continue;
    }
    clearMembership = false;
    deps.logger.warn('drift: roles removed in Atlas outside Rolecall', { requestId, roles });
  }
}

/** When an SSO login took the request's roles back, from Atlas's events; null when unknown or not. */
async function ssoLoginOf(
  deps: Pick<ProcessorDeps, 'logger' | 'ssoRemovedAt'>,
  request: AccessRequest | undefined,
  target: TargetRef,
): Promise<number | null> {
  const userId = request?.plan?.atlasUserId;
  const since = request?.grant?.appliedAt ?? request?.createdAt;
  if (!deps.ssoRemovedAt || !request || !userId || since === undefined) return null;
  try {
    return await deps.ssoRemovedAt(target, request.granteeEmail, userId, since);
  } catch (error) {
    deps.logger.warn('could not read whether an SSO login took roles back', { requestId: request.id, error });
    return null;
  }
}

/**
 * ATLAS_DRY_RUN: an outcome's words say plainly that nothing was carried out, and what would have
 * been sent (`[dryRun: not sent: …]`, as in a request's audit entry).
 */
export function markDryRun(detail: string, writes: readonly string[]): string {
  return `DRY RUN, not carried out: ${detail} ${dryRunNote(writes)}`;
}

/** The writes a dry run did not send, as an audit detail ends with them: `[dryRun: not sent: …]`. */
export function dryRunNote(writes: readonly string[]): string {
  return `[dryRun: not sent: ${writes.length > 0 ? writes.join('; ') : 'nothing to send'}]`;
}

/**
 * Runs a job's Slack steps (message updates, thread replies, DMs) after its state change is stored,
 * so Slack never holds the state back: each step runs once across retries (its name is kept in the
 * job's data under `done`); a retryable failure retries the job while attempts remain; a failure a
 * retry cannot fix (the message was deleted, the channel archived), or the last attempt's, is logged
 * and the step is given up, so the steps after it, and whatever follows the job, still happen.
 * @throws the step's error when the job should be retried.
 */
export async function runSlackSteps<T extends WithDoneSteps>(
  job: Job<T>,
  logger: Logger,
  steps: readonly (readonly [name: string, run: () => Promise<unknown>])[],
): Promise<void> {
  const done = new Set(job.data.done ?? []);
  const last = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
  for (const [name, run] of steps) {
    if (done.has(name)) continue;
    try {
      await run();
    } catch (error) {
      const retryable = isAppError(error) ? error.retryable : true;
      if (retryable && !last) throw error;
      logger.warn('slack step given up; the job goes on without it', { jobId: job.id, step: name, error });
    }
    done.add(name);
    await job.updateData({ ...job.data, done: [...done] });
  }
}
