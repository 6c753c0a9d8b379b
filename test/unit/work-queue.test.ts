import type { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteKeys } from '../../dev/sandbox.js';
import { createQueues, type Queues } from '../../src/jobs/queues.js';
import { createWorkQueue } from '../../src/jobs/work-queue.js';
import { deliveriesFor } from '../../src/requests/follow-ups.js';
import type { WorkQueue } from '../../src/requests/ports.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';
import { accessRequest } from '../support/request-fixture.js';

const HOUR = 3_600_000;

/** Every state a job can be in: a duplicate anywhere (waiting, delayed, done) is a second job. */
const ANY_STATE = [
  'wait',
  'delayed',
  'active',
  'prioritized',
  'waiting-children',
  'completed',
  'failed',
] as const;

/** Ids of every job in `queue` about request `id`. */
async function jobsOf(queue: Queue, id: string): Promise<string[]> {
  const jobs = await queue.getJobs([...ANY_STATE]);
  return jobs
    .map((job) => job?.id ?? '')
    .filter((jobId) => jobId.includes(id))
    .sort();
}

type QueueName = Exclude<keyof Queues, 'all' | 'close'>;

/** One WorkQueue call, the queues it writes to, and the jobs one call leaves there. */
interface Row {
  readonly method: keyof WorkQueue;
  /** Sets the scene (jobs the call acts on) before the call under test. */
  readonly before?: (work: WorkQueue, id: string) => Promise<void>;
  readonly call: (work: WorkQueue, id: string) => Promise<void>;
  /** Per queue, how many jobs about the request one call (after `before`) leaves. */
  readonly jobs: Partial<Record<QueueName, number>>;
}

// No worker runs here: every job stays where the call put it, so the counts are what was queued.
const at = Date.now() + HOUR;
const ROWS: readonly Row[] = [
  { method: 'enrich', call: (work, id) => work.enrich(id), jobs: { enrich: 1 } },
  { method: 'apply', call: (work, id) => work.apply(id, 1), jobs: { apply: 1 } },
  {
    method: 'forgetApply',
    // A scheduled apply dropped before its start.
    before: (work, id) => work.apply(id, 1, at),
    call: (work, id) => work.forgetApply(id, 1),
    jobs: { apply: 0 },
  },
  { method: 'revoke', call: (work, id) => work.revoke(id, 1, at), jobs: { revoke: 1 } },
  { method: 'expire', call: (work, id) => work.expire(id, at), jobs: { expire: 1 } },
  {
    method: 'forgetExpiry',
    before: (work, id) => work.expire(id, at),
    call: (work, id) => work.forgetExpiry(id),
    jobs: { expire: 0 },
  },
  { method: 'remind', call: (work, id) => work.remind(id, at), jobs: { remind: 1 } },
  {
    method: 'forgetReminder',
    before: (work, id) => work.remind(id, at),
    call: (work, id) => work.forgetReminder(id, at),
    jobs: { remind: 0 },
  },
  {
    method: 'notify',
    // Applied, for someone else: the approval message, its thread, the requester and the grantee.
    call: (work, id) => {
      const request = accessRequest({
        id,
        state: 'applied',
        requesterId: 'U0BOB',
        granteeId: 'U0ALICE',
        granteeEmail: 'alice@example.com',
        target: { name: 'payments-prod', kind: 'project', id: '5f1a2b3c4d5e6f7a8b9c0d1e' },
      });
      return work.notify(request, 'applied', deliveriesFor('applied', request));
    },
    jobs: { notify: 4, home: 1 },
  },
];

describe('work queue: queuing the same work twice is a no-op', () => {
  const prefix = uniquePrefix('work-queue');
  let redis: Redis;
  let queues: Queues;
  let work: WorkQueue;
  let n = 0;
  /** A request id no other row uses. */
  const fresh = () => {
    n += 1;
    return `AR-WQ${String(n).padStart(4, '0')}`;
  };

  beforeAll(() => {
    redis = new Redis(TEST_REDIS_URL);
    queues = createQueues(redis, prefix, { backoffMs: 50 });
    work = createWorkQueue(queues, { remindBeforeMs: 60_000 });
  });

  afterAll(async () => {
    await queues.close();
    await redis.quit();
    await deleteKeys(TEST_REDIS_URL, prefix);
  });

  it('has a row for every method of the work queue', () => {
    expect(ROWS.map((r) => r.method).sort()).toEqual(Object.keys(work).sort());
  });

  it.each(ROWS)('$method twice with the same arguments leaves what $method once leaves', async (row) => {
    const counts = async (id: string) => {
      const found: Partial<Record<QueueName, number>> = {};
      for (const name of Object.keys(row.jobs) as QueueName[])
        found[name] = (await jobsOf(queues[name], id)).length;
      return found;
    };
    const once = fresh();
    await row.before?.(work, once);
    await row.call(work, once);
    expect(await counts(once)).toEqual(row.jobs);

    const twice = fresh();
    await row.before?.(work, twice);
    await row.call(work, twice);
    await row.call(work, twice);
    expect(await counts(twice)).toEqual(row.jobs);
  });

  it('keeps one revocation per attempt, moved rather than doubled when its time changes', async () => {
    const id = fresh();
    await work.revoke(id, 1, at);
    await work.revoke(id, 1, at + HOUR);
    await work.revoke(id, 1, at + 2 * HOUR);
    const jobs = await queues.revoke.getJobs([...ANY_STATE]);
    const mine = jobs.filter((job) => job?.id?.includes(id));
    expect(mine.map((job) => job?.id)).toEqual([`revoke-${id}-1`]);
    // A later attempt is other work: a job of its own.
    await work.revoke(id, 2, at);
    expect(await jobsOf(queues.revoke, id)).toEqual([`revoke-${id}-1`, `revoke-${id}-2`]);
  });

  it('tells one event once per round, and a new round anew', async () => {
    const id = fresh();
    const request = accessRequest({
      id,
      state: 'revoke_failed',
      requesterId: 'U0ALICE',
      granteeId: 'U0ALICE',
      granteeEmail: 'alice@example.com',
      target: { name: 'payments-prod', kind: 'project', id: '5f1a2b3c4d5e6f7a8b9c0d1e' },
    });
    await work.notify(request, 'revoke_failed', deliveriesFor('revoke_failed', request), 'r1');
    await work.notify(request, 'revoke_failed', deliveriesFor('revoke_failed', request), 'r1');
    // revoke_failed goes to the approval message and its thread.
    expect(await jobsOf(queues.notify, id)).toHaveLength(2);
    await work.notify(request, 'revoke_failed', deliveriesFor('revoke_failed', request), 'r2');
    expect(await jobsOf(queues.notify, id)).toHaveLength(4);
  });
});
