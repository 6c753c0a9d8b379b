import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createRefusalLog } from '../../src/access/refusal-log.js';
import { redisKeys } from '../../src/lib/redis-keys.js';
import { createLogger } from '../../src/ops/logger.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

describe('createRefusalLog', () => {
  const redis = new Redis(TEST_REDIS_URL);
  afterAll(async () => {
    await redis.quit();
  });

  it('audits at most auditPerMinute refusals of one person a minute and counts the rest', async () => {
    const keys = redisKeys(uniquePrefix('refusals'));
    let clock = 1_800_000_000_000;
    const log = createRefusalLog(redis, keys, {
      logger: createLogger({ write: () => undefined }),
      auditPerMinute: 3,
      now: () => clock,
    });
    const refusal = (actorId: string) => ({
      action: 'approve' as const,
      actorId,
      requestId: 'AR-0001',
      code: 'NOT_AN_APPROVER',
      reason: 'You can’t approve this.',
    });
    for (let i = 0; i < 10; i += 1) await log.record(refusal('U0MALLORY'));
    await log.record(refusal('U0ALICE'));
    const audited = async (actor: string) =>
      (await redis.xrange(keys.audit, '-', '+'))
        .map(([, fields]) => fields)
        .filter((fields) => fields[fields.indexOf('actor') + 1] === actor)
        .map((fields) => fields[fields.indexOf('detail') + 1]);
    expect(await audited('U0MALLORY')).toEqual([
      'You can’t approve this.',
      'You can’t approve this.',
      'You can’t approve this.',
      "More than 3 refusals of this person in a minute; the rest of this minute's are only counted.",
    ]);
    expect(await audited('U0ALICE')).toEqual(['You can’t approve this.']);
    expect(await redis.hgetall(keys.refusalStats)).toEqual({ approve: '11', suppressed: '7' });
    clock += 60_000;
    await log.record(refusal('U0MALLORY'));
    expect(await audited('U0MALLORY')).toHaveLength(5);
  });
});
