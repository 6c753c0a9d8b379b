import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import {
  formatId,
  ID_EPOCH_MS,
  ID_TICK_MS,
  issuedNoLaterThan,
  issueId,
  kindOf,
  missingRecordError,
  parseId,
} from '../../src/lib/ids.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

describe('ids', () => {
  const redis = new Redis(TEST_REDIS_URL);
  afterAll(async () => {
    await redis.quit();
  });

  it('issues ids that are never below the Redis clock and always above the last one', async () => {
    const key = `${uniquePrefix('ids')}:request:seq`;
    const before = Date.now();
    const ids = [];
    for (let i = 0; i < 50; i += 1) ids.push(await issueId(redis, 'AR', key));
    expect(new Set(ids).size).toBe(50);
    expect([...ids].sort()).toEqual(ids);
    for (const id of ids) {
      expect(id).toMatch(/^AR-[0-9A-HJKMNP-TV-Z]{7}$/);
      // The number encodes a time no earlier than the call (the clocks of Redis and this process agree here).
      expect(issuedNoLaterThan(id)).toBeGreaterThan(before - 1_000);
    }
    await redis.del(key);
  });

  it('starts past every earlier id when the counter is lost, as after a Redis that kept nothing', async () => {
    const key = `${uniquePrefix('ids')}:request:seq`;
    const earlier = await issueId(redis, 'AR', key);
    await redis.del(key);
    await new Promise((resolve) => setTimeout(resolve, 2 * ID_TICK_MS));
    const later = await issueId(redis, 'AR', key);
    expect(later > earlier).toBe(true);
    await redis.del(key);
  });

  it('keeps counting from a legacy counter without reusing its numbers', async () => {
    const key = `${uniquePrefix('ids')}:review:seq`;
    await redis.set(key, '41');
    const id = await issueId(redis, 'RV', key);
    expect(id).not.toBe('RV-0042');
    expect(issuedNoLaterThan(id)).toBeGreaterThan(Date.now() - 60_000);
    await redis.del(key);
  });

  it('reads ids as people type them and refuses anything else', () => {
    const id = formatId('AR', 3_000_000_000);
    expect(parseId('AR', id.toLowerCase())).toBe(id);
    expect(parseId('AR', ` ${id} `)).toBe(id);
    expect(parseId('AR', 'ar-7')).toBe('AR-0007');
    expect(parseId('AR', 'AR-0042')).toBe('AR-0042');
    expect(parseId('RV', 'rv-2')).toBe('RV-0002');
    // Crockford: I and L are 1, O is 0; U is never a digit.
    expect(parseId('AR', 'AR-2Q8ZKIO')).toBe('AR-2Q8ZK10');
    expect(parseId('AR', 'AR-2Q8ZKUU')).toBeUndefined();
    expect(parseId('AR', 'RV-2Q8ZK4M')).toBeUndefined();
    expect(parseId('AR', 'AR-0')).toBeUndefined();
    expect(parseId('AR', 'AR-2Q8ZK4M:1')).toBeUndefined();
    expect(parseId('AR', '../AR-1')).toBeUndefined();
    expect(parseId('AR', undefined)).toBeUndefined();
  });

  it('tells the kind and the latest issue time of an id', () => {
    const n = Math.floor((Date.UTC(2026, 11, 7) - ID_EPOCH_MS) / ID_TICK_MS);
    const id = formatId('OB', n);
    expect(kindOf(id)).toBe('OB');
    expect(kindOf('XX-1234567')).toBeUndefined();
    expect(issuedNoLaterThan(id)).toBe(Date.UTC(2026, 11, 7) + ID_TICK_MS);
    expect(issuedNoLaterThan('AR-0042')).toBeUndefined();
  });

  it('names the missing record in words, with its id for the edge', () => {
    const error = missingRecordError('RV-0003');
    expect(error.message).toBe('There is no review RV-0003.');
    expect(error.details).toEqual({ id: 'RV-0003' });
  });
});
