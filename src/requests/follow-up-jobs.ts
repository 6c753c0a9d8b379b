import type { Job } from './follow-ups.js';
import type { AccessRequest } from './model.js';
import type { ApproverChaseQueue, WorkQueue } from './ports.js';
import { decideBy } from './scheduled-start.js';

/** What {@link createFollowUpJobs} needs: the queues and how long a request may wait for a decision. */
export interface FollowUpJobDeps {
  readonly workQueue: WorkQueue;
  readonly chase?: ApproverChaseQueue;
  readonly requestTtlMs: number;
  readonly onDropFailed?: (requestId: string, job: Job, error: Error) => void;
}

/**
 * How the lifecycle queues and drops a move's jobs (FOLLOW_UPS in follow-ups.ts) through the work
 * queue: when each runs, and which are best-effort drops. It moves no state; lifecycle.ts calls it.
 */
export function createFollowUpJobs(deps: FollowUpJobDeps) {
  const { workQueue } = deps;
  return {
    /** Queues `job` for `request`; `at` is a revocation's or a reminder's time (ms since epoch). */
    async queue(request: AccessRequest, job: Job, at?: number): Promise<void> {
      switch (job) {
        case 'enrich':
          return workQueue.enrich(request.id);
        case 'expire':
          return workQueue.expire(request.id, decideBy(request, deps.requestTtlMs));
        case 'apply':
          // A scheduled grant waits for its start (a delayed job); the rest is applied now.
          return workQueue.apply(request.id, request.attempt, request.startsAt ?? undefined);
        case 'remind': {
          const end = at ?? request.grant?.revokeAt ?? null;
          return end === null ? undefined : workQueue.remind(request.id, end);
        }
        case 'revoke':
          return workQueue.revoke(request.id, request.attempt, at ?? request.revokeTrouble?.nextTryAt);
        case 'chase':
          return deps.chase?.start(request);
      }
    },
    /** Drops a job that would only find nothing to do; best effort, never awaited by the mover. */
    drop(request: AccessRequest, job: Job): void {
      const stop =
        job === 'expire'
          ? workQueue.forgetExpiry
          : job === 'chase'
            ? deps.chase?.stop
            : job === 'apply'
              ? (id: string) => workQueue.forgetApply(id, request.attempt)
              : undefined;
      stop?.(request.id).catch((error: unknown) => deps.onDropFailed?.(request.id, job, error as Error));
    },
  };
}
