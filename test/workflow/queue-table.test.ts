import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteKeys } from '../../dev/sandbox.js';
import { createQueues, EVENTS_MAX_LEN, QUEUE_NAMES, QUEUES, type Queues } from '../../src/jobs/queues.js';
import { scheduleRecurring } from '../../src/jobs/recurring.js';
import { createWorkers, type Processors, type Workers } from '../../src/jobs/workers.js';
import { createCapturingLogger } from '../support/atlas-fixture.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

const DAY_SECONDS = 86_400;
const BACKOFF_MS = 50;

/**
 * The options each queue had before they came from one table, written out by hand (backoff 50 ms):
 * the table must keep them, byte for byte, since stored jobs and running deployments rely on them.
 */
const finished = { removeOnComplete: true, removeOnFail: { age: 30 * DAY_SECONDS, count: 1_000 } };
const keep = { removeOnComplete: { age: 30 * DAY_SECONDS }, removeOnFail: { age: 90 * DAY_SECONDS } };
const periodic = { attempts: 1, removeOnComplete: 100, removeOnFail: 100 };
const exponential = (delay: number) => ({ type: 'exponential', delay });
const EXPECTED = {
  enrich: { jobs: { attempts: 5, backoff: exponential(50), ...finished }, concurrency: 3 },
  apply: { jobs: { attempts: 5, backoff: exponential(50), ...finished }, concurrency: 3 },
  revoke: { jobs: { attempts: 8, backoff: exponential(100), ...finished }, concurrency: 3 },
  expire: { jobs: { attempts: 10, backoff: exponential(50), ...finished }, concurrency: 3 },
  notify: { jobs: { attempts: 12, backoff: exponential(50), ...finished }, concurrency: 3 },
  remind: { jobs: { attempts: 5, backoff: exponential(50), ...finished }, concurrency: 3 },
  approvers: { jobs: { attempts: 5, backoff: exponential(50), ...keep }, concurrency: 3 },
  sweep: { jobs: periodic, concurrency: 1 },
  reconcile: { jobs: periodic, concurrency: 1 },
  home: {
    jobs: { attempts: 3, backoff: exponential(50), removeOnComplete: true, removeOnFail: true },
    concurrency: 2,
  },
  review: { jobs: { attempts: 8, backoff: exponential(100), ...keep }, concurrency: 3 },
  offboard: { jobs: { attempts: 8, backoff: exponential(100), ...keep }, concurrency: 3 },
  database: {
    jobs: { attempts: 2, backoff: exponential(50), removeOnComplete: true, removeOnFail: true },
    concurrency: 2,
  },
};

describe('QUEUES (the queue table)', () => {
  const prefix = uniquePrefix('queue-table');
  let redis: Redis;
  let workerRedis: Redis;
  let queues: Queues;
  let workers: Workers;

  beforeAll(() => {
    redis = new Redis(TEST_REDIS_URL);
    workerRedis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
    queues = createQueues(redis, prefix, { backoffMs: BACKOFF_MS });
    const idle = async () => undefined;
    const processors: Processors = {
      enrich: idle,
      apply: idle,
      revoke: idle,
      expire: idle,
      notify: idle,
      remind: idle,
      approvers: idle,
      sweep: idle,
      reconcile: idle,
      home: idle,
      review: idle,
      offboard: idle,
      database: idle,
    };
    workers = createWorkers({
      connection: workerRedis,
      prefix,
      logger: createCapturingLogger().logger,
      concurrency: 3,
      lockDurationMs: 12_000,
      processors,
    });
  });

  afterAll(async () => {
    await workers.close();
    await queues.close();
    await deleteKeys(TEST_REDIS_URL, prefix);
    await Promise.all([redis.quit(), workerRedis.quit()]);
  });

  it('makes one queue per entry, named as the entry, with the job options the entry declares', () => {
    expect(queues.all.map((q) => q.name)).toEqual(QUEUE_NAMES);
    for (const name of QUEUE_NAMES) {
      const queue = queues[name];
      expect(queue.name).toBe(name);
      expect(queue.opts.prefix).toBe(prefix);
      expect(queue.opts.streams).toEqual({ events: { maxLen: EVENTS_MAX_LEN } });
      expect(queue.defaultJobOptions).toEqual(QUEUES[name].jobOptions(BACKOFF_MS));
    }
  });

  it('starts one worker per entry, with the concurrency and limiter it declares and the shared lock', () => {
    expect(Object.keys(workers.byQueue)).toEqual(QUEUE_NAMES);
    for (const name of QUEUE_NAMES) {
      const worker = workers.byQueue[name];
      const declared = QUEUES[name].worker;
      expect(worker.name).toBe(name);
      expect(worker.opts.prefix).toBe(prefix);
      expect(worker.concurrency).toBe(declared?.concurrency ?? 3);
      expect(worker.opts.limiter).toEqual(declared?.limiter);
      expect(worker.opts.lockDuration).toBe(12_000);
      expect(worker.opts.stalledInterval).toBe(12_000);
    }
  });

  it('keeps every queue and worker option as it was before the table', () => {
    expect(Object.keys(EXPECTED)).toEqual(QUEUE_NAMES);
    for (const name of QUEUE_NAMES) {
      expect({ name, jobs: queues[name].defaultJobOptions }).toEqual({ name, jobs: EXPECTED[name].jobs });
      expect({ name, concurrency: workers.byQueue[name].concurrency }).toEqual({
        name,
        concurrency: EXPECTED[name].concurrency,
      });
    }
  });

  it('schedules the sweep and the reconciliation under their fixed ids, and re-times them when called again', async () => {
    await scheduleRecurring(queues, { sweepEveryMs: 60_000, reconcileEveryMs: 600_000 });
    expect(await queues.sweep.getJobScheduler('sweep')).toMatchObject({ key: 'sweep', every: 60_000 });
    expect(await queues.reconcile.getJobScheduler('reconcile')).toMatchObject({
      key: 'reconcile',
      every: 600_000,
    });
    await scheduleRecurring(queues, { sweepEveryMs: 30_000, reconcileEveryMs: 600_000 });
    expect(await queues.sweep.getJobSchedulers(0, -1)).toMatchObject([{ key: 'sweep', every: 30_000 }]);
    expect(await queues.reconcile.getJobSchedulers(0, -1)).toMatchObject([
      { key: 'reconcile', every: 600_000 },
    ]);
  });
});
