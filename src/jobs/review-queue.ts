import type { Queue } from 'bullmq';
import type { TargetRef } from '../lib/scope.js';
import type { Logger } from '../ops/logger.js';
import type { Policy } from '../policy/policy.js';
import { retimedNextRun } from '../reviews/model.js';
import type { ReviewQueue } from '../reviews/ports.js';
import { jobIds, REVIEW_SCHEDULER_PREFIX, schedulerIds } from './job-ids.js';
import { type ReviewJob, UNTRACED_SCHEDULE } from './queues.js';

/** The review queue port over BullMQ; job ids make every call idempotent. */
export function createReviewQueue(queue: Queue<ReviewJob>): ReviewQueue {
  return {
    async start(target, startedBy, startId) {
      // The start's id is its job id: the worker recognises the target's review slot as its own.
      const jobId = startId ?? jobIds.reviewStart(target, Date.now());
      await queue.add('start', { kind: 'start', target, startedBy }, { jobId });
    },
    async isStarting(startId) {
      const job = await queue.getJob(startId);
      if (!job) return false;
      const state = await job.getState();
      return state !== 'completed' && state !== 'failed' && state !== 'unknown';
    },
    async revokeLine(reviewId, n) {
      await queue.add('revoke', { kind: 'revoke', reviewId, n }, { jobId: jobIds.reviewRevoke(reviewId, n) });
    },
    async decided(reviewId, n) {
      await queue.add(
        'decided',
        { kind: 'decided', reviewId, n },
        { jobId: jobIds.reviewDecided(reviewId, n) },
      );
    },
    async nextDue(target) {
      const scheduler = await queue.getJobScheduler(schedulerIdOf(target));
      return scheduler?.next ?? null;
    },
  };
}

/** The BullMQ job scheduler of a target's periodic review. */
export function schedulerIdOf(target: Pick<TargetRef, 'kind' | 'id'>): string {
  return schedulerIds.review(target);
}

/**
 * Makes the review schedules match the policy: one job scheduler per target with `review:` (its
 * period), none for the others. Schedulers live in Redis, so they survive restarts; every worker
 * runs this at start and after each policy reload.
 *
 * A new `review:` runs its first review at once (BullMQ's `every` starts with a run). A changed
 * period is re-timed, never restarted: BullMQ treats a new `every` as a new schedule whose first run
 * is now (taskforcesh/bullmq#3551), unless `startDate` says when, so the new next run (the last run
 * plus the new period, see retimedNextRun) is given as `startDate`. An unchanged period keeps its
 * next run (upserting the same `every` keeps it), so restarts and several workers syncing at once
 * change nothing; workers syncing a change at once compute the same next run from the same state,
 * and a later one finds the new period already in place.
 */
export async function syncReviewSchedules(
  queue: Queue<ReviewJob>,
  policy: Policy,
  options: { readonly now?: () => number; readonly logger?: Logger } = {},
): Promise<void> {
  const now = options.now ?? Date.now;
  const wanted = new Map(
    policy.targets
      .filter((t) => t.reviewEverySeconds !== undefined)
      .map((t) => [schedulerIdOf(t), t] as const),
  );
  for (const scheduler of await queue.getJobSchedulers(0, -1)) {
    const id = scheduler.key;
    if (id.startsWith(REVIEW_SCHEDULER_PREFIX) && !wanted.has(id)) await queue.removeJobScheduler(id);
  }
  for (const [id, target] of wanted) {
    const every = (target.reviewEverySeconds ?? 0) * 1000;
    const current = await queue.getJobScheduler(id);
    let startDate: number | undefined;
    if (current?.every !== undefined && current.every !== every && typeof current.next === 'number') {
      startDate = retimedNextRun({ next: current.next, previousEvery: current.every }, every, now());
      options.logger?.info('review schedule re-timed', {
        target: target.name,
        everySeconds: every / 1000,
        previousNext: new Date(current.next).toISOString(),
        next: new Date(startDate).toISOString(),
      });
    }
    await queue.upsertJobScheduler(
      id,
      { every, ...(startDate === undefined ? {} : { startDate }) },
      {
        name: 'start',
        data: {
          kind: 'start',
          target: { name: target.name, kind: target.kind, id: target.id },
          startedBy: 'schedule',
        },
        opts: UNTRACED_SCHEDULE,
      },
    );
  }
}
