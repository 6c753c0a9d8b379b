import { type Job, UnrecoverableError } from 'bullmq';
import type { AtlasRolesApi, AtlasScope } from '../atlas/roles-api.js';
import { isAppError } from '../errors.js';
import type { Logger } from '../ops/logger.js';
import type { AccessRequest, RequestState, TargetRef } from '../requests/model.js';
import type { RequestEvent, WorkQueue } from '../requests/request-service.js';
import type { RequestStore } from '../requests/request-store.js';
import type { RequestJob } from './queues.js';
import type { Fence, UserLock } from './user-lock.js';

/** Dependencies of the apply and revoke processors. */
export interface ProcessorDeps {
  store: RequestStore;
  atlas: AtlasRolesApi;
  scheduler: WorkQueue;
  /** Serializes changes to one user's roles in one org or project, across worker processes. */
  lock: UserLock;
  logger: Logger;
  now?: () => number;
}

/** What a processor did, kept as the BullMQ job's return value. */
export type ProcessorOutcome = { done: string } | { skipped: string };

/** The Atlas scope of a request's target. */
export function scopeOf(target: TargetRef): AtlasScope {
  return { kind: target.scope, id: target.id };
}

/** One Atlas step of a request (apply or revoke), as states and events. */
export interface StepStates {
  /** The state the step starts from (`approved`, `applied`). */
  readonly ready: RequestState;
  /** The state while it runs (`applying`, `revoking`); a retried job resumes from here. */
  readonly working: RequestState;
  /** Where it ends when it worked (`applied`, `revoked`) and the event that says so. */
  readonly done: RequestState & RequestEvent;
  /** Where it ends when it cannot work (`failed`, `revoke_failed`) and the event that says so. */
  readonly failed: RequestState & RequestEvent;
}

/**
 * Runs one step of a request as a BullMQ processor: moves ready -> working (or resumes working),
 * runs `work` under the user's lock, and after the last attempt records the failure in words and
 * tells Slack. A job for a request already past the step re-sends the outcome notice (deduplicated).
 */
export function createStepProcessor(
  deps: ProcessorDeps,
  states: StepStates,
  work: (request: AccessRequest, fence: Fence) => Promise<ProcessorOutcome>,
) {
  const { store, scheduler, lock, logger } = deps;
  const now = deps.now ?? Date.now;

  /** The request once it is in the working state, or where it stands when the step is not for it (any more). */
  const start = async (id: string): Promise<{ request: AccessRequest; working: boolean }> => {
    const request = await store.require(id);
    if (request.state !== states.ready) return { request, working: request.state === states.working };
    const moved = await store.transition(id, { from: states.ready, to: states.working, actor: 'system' });
    return moved.ok ? { request: moved.request, working: true } : { request: moved.current, working: false };
  };

  return async (job: Job<RequestJob>): Promise<ProcessorOutcome> => {
    const { requestId } = job.data;
    const { request, working } = await start(requestId);
    if (!working) {
      if (request.state === states.done || request.state === states.failed)
        await scheduler.notify(request, request.state);
      return { skipped: request.state };
    }
    try {
      const key = `${request.target.scope}:${request.target.id}:${request.granteeEmail.toLowerCase()}`;
      return await lock.run(key, (fence) => work(request, fence));
    } catch (error) {
      const retryable = isAppError(error) ? error.retryable : !(error instanceof UnrecoverableError);
      if (retryable && job.attemptsMade + 1 < (job.opts.attempts ?? 1)) throw error;
      const failure = isAppError(error)
        ? { code: error.code, message: error.message }
        : { code: 'INTERNAL', message: 'An unexpected error stopped Rolecall; the details are in its logs.' };
      logger.error(`${states.working} failed`, { requestId, error });
      const moved = await store.transition(requestId, {
        from: states.working,
        to: states.failed,
        actor: 'system',
        detail: failure.message,
        patch: { failure: { ...failure, at: now() } },
      });
      if (moved.ok) await scheduler.notify(moved.request, states.failed);
      throw new UnrecoverableError(failure.message);
    }
  };
}
