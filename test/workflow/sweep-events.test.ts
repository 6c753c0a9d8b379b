import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createRequestStore } from '../../dev/request-store.js';
import { deleteKeys } from '../../dev/sandbox.js';
import { createQueues, EVENTS_MAX_LEN } from '../../src/jobs/queues.js';
import { createSweepProcessor } from '../../src/jobs/sweep-processor.js';
import { createWorkQueue } from '../../src/jobs/work-queue.js';
import { createLogger } from '../../src/ops/logger.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

describe('sweeper', () => {
  const prefix = uniquePrefix('sweep-events');
  const redis = new Redis(TEST_REDIS_URL);
  const queues = createQueues(redis, prefix);
  afterAll(async () => {
    await queues.close();
    await deleteKeys(TEST_REDIS_URL, prefix);
    await redis.quit();
  });

  it('trims BullMQ event streams that a burst grew past their cap', async () => {
    // What a burst of promoted delayed jobs leaves: thousands of entries BullMQ did not trim.
    const events = `${prefix}:home:events`;
    const pipeline = redis.pipeline();
    for (let i = 0; i < 3_000; i += 1) pipeline.xadd(events, '*', 'event', 'waiting', 'jobId', `home-${i}`);
    await pipeline.exec();
    expect(await redis.xlen(events)).toBe(3_000);

    const sweep = createSweepProcessor({
      store: createRequestStore(redis, { prefix }),
      queues,
      workQueue: createWorkQueue(queues),
      logger: createLogger({ write: () => undefined }),
      requestTtlMs: 86_400_000,
    });
    const outcome = await sweep();
    // Trimming is approximate (whole stream nodes of 100 entries): at most one node over the cap.
    expect(await redis.xlen(events)).toBeLessThanOrEqual(EVENTS_MAX_LEN + 100);
    expect(outcome.eventsTrimmed).toBeGreaterThanOrEqual(2_800);
    expect(outcome).toMatchObject({ checked: 0, repaired: [] });
  });
});
