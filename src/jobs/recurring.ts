import { schedulerIds } from './job-ids.js';
import { type Queues, UNTRACED_SCHEDULE } from './queues.js';

/** How often the recurring jobs run, for {@link scheduleRecurring}. */
export interface RecurringOptions {
  /** The sweeper: stuck requests and missing jobs. */
  readonly sweepEveryMs: number;
  /** The ledger's reconciliation against Atlas. */
  readonly reconcileEveryMs: number;
}

/**
 * Creates or updates the sweep and reconcile job schedulers. They live in Redis, so this is run at
 * every worker start and again after the store lost them; an unchanged period keeps its next run.
 * (Review schedules follow the policy instead: syncReviewSchedules in review-queue.ts.)
 */
export async function scheduleRecurring(
  queues: Pick<Queues, 'sweep' | 'reconcile'>,
  options: RecurringOptions,
): Promise<void> {
  await queues.sweep.upsertJobScheduler(
    schedulerIds.sweep,
    { every: options.sweepEveryMs },
    { name: 'sweep', opts: UNTRACED_SCHEDULE },
  );
  await queues.reconcile.upsertJobScheduler(
    schedulerIds.reconcile,
    { every: options.reconcileEveryMs },
    { name: 'reconcile', opts: UNTRACED_SCHEDULE },
  );
}
