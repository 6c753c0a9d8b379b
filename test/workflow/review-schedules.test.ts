import { type Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../../dev/http-util.js';
import { ATLAS, deleteKeys, SANDBOX_POLICY } from '../../dev/sandbox.js';
import { createQueues, type Queues, type ReviewJob } from '../../src/jobs/queues.js';
import { schedulerIdOf, syncReviewSchedules } from '../../src/jobs/review-queue.js';
import { parsePolicy } from '../../src/policy/read-policy.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

const DAY = 86_400_000;
const PROJECT = { name: ATLAS.project.name, kind: 'project', id: ATLAS.project.id } as const;
const SCHEDULER = schedulerIdOf(PROJECT);

/** The sandbox policy with `review: <every>` on payments-prod (none when undefined). */
function policyWith(every: string | undefined) {
  return parsePolicy(
    every === undefined
      ? SANDBOX_POLICY
      : SANDBOX_POLICY.replace(
          '    roles: [GROUP_READ_ONLY, GROUP_DATA_ACCESS_READ_ONLY, GROUP_DATA_ACCESS_READ_WRITE]\n',
          `    roles: [GROUP_READ_ONLY, GROUP_DATA_ACCESS_READ_ONLY, GROUP_DATA_ACCESS_READ_WRITE]\n    review: ${every}\n`,
        ),
  );
}

/**
 * Issue 22: "review: 90d → 91d and a reload re-creates the schedule, and a second review of the
 * whole target starts seconds after the first." Real BullMQ job schedulers on the test Redis.
 */
describe('review schedules (syncReviewSchedules over BullMQ)', () => {
  const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
  let prefix: string;
  let queues: Queues;
  beforeEach(() => {
    prefix = uniquePrefix('review-schedules');
    queues = createQueues(redis, prefix);
  });
  afterEach(async () => {
    await queues.close();
    await deleteKeys(TEST_REDIS_URL, prefix);
  });
  afterAll(async () => {
    await redis.quit();
  });

  /** Runs the scheduled job that is due, as a worker would (BullMQ then schedules the next one). */
  const runDue = async (queue: Queue<ReviewJob>) => {
    const ran: string[] = [];
    const connection = redis.duplicate({ maxRetriesPerRequest: null });
    const worker = new Worker<ReviewJob>(queue.name, async (job) => void ran.push(job.id ?? ''), {
      connection,
      prefix,
    });
    await waitUntil(() => (ran.length > 0 ? true : undefined), 5_000, 'the due review to run');
    await worker.close();
    await connection.quit();
    return ran;
  };
  const scheduler = () => queues.review.getJobScheduler(SCHEDULER);
  const pending = async () =>
    (await queues.review.getJobs(['waiting', 'delayed', 'prioritized'])).map((j) => ({
      id: j.id,
      due: j.timestamp + (j.opts.delay ?? 0),
    }));

  it('runs the first review at once, moves the next run when the period changes, and never adds a run', async () => {
    await syncReviewSchedules(queues.review, policyWith('90d'));
    const first = await scheduler();
    expect(first?.every).toBe(90 * DAY);
    // "The first review runs as soon as the schedule is created."
    expect(first?.next ?? Infinity).toBeLessThanOrEqual(Date.now());
    expect(await runDue(queues.review)).toEqual([`repeat:${SCHEDULER}:${first?.next}`]);
    const afterFirst = (await scheduler())?.next ?? 0;
    expect(afterFirst).toBe((first?.next ?? 0) + 90 * DAY);

    // 90d -> 91d: the next run is the last one plus 91 days; nothing is due now.
    await syncReviewSchedules(queues.review, policyWith('91d'));
    const retimed = await scheduler();
    expect(retimed?.every).toBe(91 * DAY);
    expect(retimed?.next).toBe(afterFirst + DAY);
    expect(await pending()).toEqual([
      { id: `repeat:${SCHEDULER}:${afterFirst + DAY}`, due: afterFirst + DAY },
    ]);

    // A restart (the same policy synced again) and five workers syncing a change at once.
    await syncReviewSchedules(queues.review, policyWith('91d'));
    expect((await scheduler())?.next).toBe(afterFirst + DAY);
    await Promise.all(Array.from({ length: 5 }, () => syncReviewSchedules(queues.review, policyWith('88d'))));
    expect(await scheduler()).toMatchObject({ every: 88 * DAY, next: afterFirst - 2 * DAY });
    expect(await pending()).toEqual([
      { id: `repeat:${SCHEDULER}:${afterFirst - 2 * DAY}`, due: afterFirst - 2 * DAY },
    ]);

    // Removing `review:` drops the schedule and its next run.
    await syncReviewSchedules(queues.review, policyWith(undefined));
    expect(await scheduler()).toBeUndefined();
    expect(await pending()).toEqual([]);
  });

  it('runs at once when the last run plus the new, shorter period is already past', async () => {
    await syncReviewSchedules(queues.review, policyWith('90d'));
    await runDue(queues.review);
    const lastRun = Date.now();
    await new Promise((r) => setTimeout(r, 1_200));
    await syncReviewSchedules(queues.review, policyWith('1s'));
    const retimed = await scheduler();
    expect(retimed?.every).toBe(1_000);
    expect(retimed?.next ?? 0).toBeGreaterThan(lastRun + 1_000);
    expect(retimed?.next ?? Infinity).toBeLessThanOrEqual(Date.now());
    const due = await pending();
    expect(due).toHaveLength(1);
    expect(due[0]?.due ?? Infinity).toBeLessThanOrEqual(Date.now());
  });
});
