import type { Job, Queue } from 'bullmq';
import type { WorkQueue } from '../requests/ports.js';
import { jobIds } from './job-ids.js';
import type { Queues } from './queues.js';

/**
 * Makes sure the job `jobId` will run: adds it when missing, retries it when it already finished. A
 * job that waits or runs is left alone; a delayed one too (backoff, a later try), unless
 * `promoteDelayed` says its time has come (a grant past its end whose revocation still waits for the
 * old end, after an End now whose job move was lost).
 * @returns true when something had to be done.
 */
export async function ensureJobRuns(
  queue: Queue,
  jobId: string,
  add: () => Promise<void>,
  options: { readonly promoteDelayed?: boolean } = {},
): Promise<boolean> {
  const job = await queue.getJob(jobId);
  if (!job) {
    await add();
    return true;
  }
  const state = await job.getState();
  if (state === 'completed' || state === 'failed') {
    await job.retry(state);
    return true;
  }
  if (state === 'delayed' && options.promoteDelayed) {
    await promoteQuietly(job);
    return true;
  }
  return false;
}

/** Options for {@link createWorkQueue}. */
export interface WorkQueueOptions {
  /**
   * How long before a grant ends the grantee is reminded, in ms; 0 turns reminders off.
   * @defaultValue 0
   */
  readonly remindBeforeMs?: number;
}

/**
 * The request workflow's queue port on BullMQ. Job ids derive from the request id and attempt, so
 * adding the same work twice is a no-op while the first job is kept.
 */
export function createWorkQueue(queues: Queues, options: WorkQueueOptions = {}): WorkQueue {
  const remindBeforeMs = options.remindBeforeMs ?? 0;
  return {
    async enrich(requestId) {
      await queues.enrich.add('enrich', { requestId }, { jobId: jobIds.enrich(requestId) });
    },
    async apply(requestId, attempt, at) {
      const delay = Math.max(0, (at ?? 0) - Date.now());
      await queues.apply.add(
        'apply',
        { requestId },
        { jobId: jobIds.apply(requestId, attempt), ...(delay > 0 ? { delay } : {}) },
      );
    },
    async forgetApply(requestId, attempt) {
      await removeIfDelayed(queues.apply, jobIds.apply(requestId, attempt));
    },
    async revoke(requestId, attempt, at) {
      const jobId = jobIds.revoke(requestId, attempt);
      const delay = Math.max(0, (at ?? 0) - Date.now());
      const existing = await queues.revoke.getJob(jobId);
      if (!existing) {
        await queues.revoke.add('revoke', { requestId }, { jobId, delay });
        return;
      }
      // An extension or an early end moves the one scheduled revocation; a running one decides for itself.
      if ((await existing.getState()) !== 'delayed') return;
      if (delay === 0) await promoteQuietly(existing);
      else await existing.changeDelay(delay).catch(() => undefined);
    },
    async expire(requestId, at) {
      await queues.expire.add(
        'expire',
        { requestId },
        { jobId: jobIds.expire(requestId), delay: Math.max(0, at - Date.now()) },
      );
    },
    async forgetExpiry(requestId) {
      await removeIfDelayed(queues.expire, jobIds.expire(requestId));
    },
    async remind(requestId, endsAt) {
      if (remindBeforeMs <= 0) return;
      const delay = endsAt - remindBeforeMs - Date.now();
      if (delay <= 0) return;
      await queues.remind.add(
        'remind',
        { requestId, endsAt },
        { jobId: jobIds.remind(requestId, endsAt), delay },
      );
    },
    async forgetReminder(requestId, endsAt) {
      await removeIfDelayed(queues.remind, jobIds.remind(requestId, endsAt));
    },
    async notify(request, event, deliveries, round) {
      await queues.notify.addBulk(
        deliveries.map((delivery) => ({
          name: event,
          data: { requestId: request.id, event, delivery, ...(round === undefined ? {} : { round }) },
          opts: { jobId: jobIds.notify(request.id, request.attempt, event, delivery, round) },
        })),
      );
      // Home tabs follow about a second later (changes in a burst share one refresh).
      await queues.home.add(
        'fanout',
        { requestId: request.id, event },
        {
          jobId: jobIds.homeFanout(request.id, request.attempt, event, round),
          delay: 500,
        },
      );
    },
  };
}

/** Removes the job `jobId` while it still waits for its time; one already running is left alone. */
export async function removeIfDelayed(queue: Queue, jobId: string): Promise<void> {
  const job = await queue.getJob(jobId);
  if (job && (await job.getState()) === 'delayed') await job.remove().catch(() => undefined);
}

/** Promotes a delayed job; one that has just started running is fine as it is. */
async function promoteQuietly(job: Job): Promise<void> {
  await job.promote().catch(() => undefined);
}
