import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitUntil } from '../../dev/http-util.js';
import { deleteKeys } from '../../dev/sandbox.js';
import { createUserLock, type Fence } from '../../src/jobs/user-lock.js';
import { redisKeys } from '../../src/lib/redis-keys.js';
import { appErrorOf } from '../support/errors.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

const LOST = 'Rolecall lost its lock on this change; it will be retried.';
const BUSY = 'Another change to the same person’s roles is still running; trying again later.';

/** A promise and the function that settles it: work that lasts until the test lets it end. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

/** Keeps the event loop busy for `ms`: a holder that stalls (a long GC pause), so no timer renews its lease. */
function stall(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // Spinning on purpose: timers, the renewal among them, cannot run meanwhile.
  }
}

describe('user lock', () => {
  const prefix = uniquePrefix('user-lock');
  const keys = redisKeys(prefix);
  let redis: Redis;
  let n = 0;
  /** A lock name no other test uses. */
  const fresh = () => {
    n += 1;
    return `alice@example.com:project:${n}`;
  };

  beforeAll(() => {
    redis = new Redis(TEST_REDIS_URL);
  });

  afterAll(async () => {
    await redis.quit();
    await deleteKeys(TEST_REDIS_URL, prefix);
  });

  it('runs the work holding the key under its token, a token above every earlier one, and releases it after', async () => {
    const lock = createUserLock(redis, { prefix });
    const name = fresh();
    const seen: { token: number; held: string | null }[] = [];
    for (let i = 0; i < 3; i += 1) {
      const result = await lock.run(name, async (fence) => {
        seen.push({ token: fence.token, held: await redis.get(keys.lock(name)) });
        return i * 10;
      });
      expect(result).toBe(i * 10);
    }
    expect(seen.map((s) => s.held)).toEqual(seen.map((s) => String(s.token)));
    const tokens = seen.map((s) => s.token);
    expect([...tokens].sort((a, b) => a - b)).toEqual(tokens);
    expect(new Set(tokens).size).toBe(3);
    expect(await redis.exists(keys.lock(name))).toBe(0);
  });

  it('releases the lock when the work throws, and passes the error on', async () => {
    const lock = createUserLock(redis, { prefix });
    const name = fresh();
    await expect(
      lock.run(name, async () => {
        throw new Error('Atlas said no');
      }),
    ).rejects.toThrow('Atlas said no');
    expect(await redis.exists(keys.lock(name))).toBe(0);
  });

  it('runs two holds of one key one after the other, and holds of two keys side by side', async () => {
    const lock = createUserLock(redis, { prefix });
    const name = fresh();
    const other = fresh();
    const first = gate();
    const timeline: string[] = [];
    const firstRun = lock.run(name, async (fence) => {
      timeline.push(`first starts ${fence.token}`);
      await first.opened;
      timeline.push('first ends');
    });
    await waitUntil(() => (timeline.length === 1 ? true : undefined), 5_000, 'the first hold');
    const before = Number(await redis.get(keys.lockFence));
    const secondRun = lock.run(name, async () => {
      timeline.push('second starts');
    });
    // The second hold has taken its token (INCR comes first), so it is waiting for the key now.
    await waitUntil(
      async () => (Number(await redis.get(keys.lockFence)) > before ? true : undefined),
      5_000,
      'the second hold to take its token',
    );
    // Another person's key is not held up by it.
    await lock.run(other, async () => {
      timeline.push('other key');
    });
    // Read what is stored, not how long it was quiet: the key is still the first holder's.
    const firstToken = Number(timeline[0]?.split(' ')[2]);
    expect(await redis.get(keys.lock(name))).toBe(String(firstToken));
    expect(timeline).toEqual([`first starts ${firstToken}`, 'other key']);
    first.open();
    await Promise.all([firstRun, secondRun]);
    expect(timeline).toEqual([`first starts ${firstToken}`, 'other key', 'first ends', 'second starts']);
    expect(await redis.exists(keys.lock(name))).toBe(0);
  });

  it('gives up on a key another holder keeps, with a retryable error, without running the work', async () => {
    const lock = createUserLock(redis, { prefix, waitMs: 150 });
    const name = fresh();
    await redis.set(keys.lock(name), 'another-process', 'PX', 60_000);
    let ran = false;
    const error = await appErrorOf(() =>
      lock.run(name, async () => {
        ran = true;
      }),
    );
    expect(error).toMatchObject({ code: 'ATLAS_UNAVAILABLE', retryable: true, message: BUSY });
    expect(ran).toBe(false);
    // Giving up leaves the other holder's key alone.
    expect(await redis.get(keys.lock(name))).toBe('another-process');
  });

  it('passes the check while the lock is held, and the check renews the lease', async () => {
    const lock = createUserLock(redis, { prefix, ttlMs: 20_000 });
    const name = fresh();
    await lock.run(name, async (fence) => {
      await redis.pexpire(keys.lock(name), 500);
      await fence.check();
      expect(await redis.get(keys.lock(name))).toBe(String(fence.token));
      expect(await redis.pttl(keys.lock(name))).toBeGreaterThan(10_000);
    });
  });

  it('fails the check once the lease lapsed while the holder stalled, with a retryable error', async () => {
    const lock = createUserLock(redis, { prefix, ttlMs: 100 });
    const name = fresh();
    const error = await lock.run(name, async (fence) => {
      stall(300);
      return appErrorOf(() => fence.check());
    });
    expect(error).toMatchObject({ code: 'ATLAS_UNAVAILABLE', retryable: true, message: LOST });
    // A lapsed lease is not brought back by the check, nor by a renewal that ran late.
    expect(await redis.exists(keys.lock(name))).toBe(0);
  });

  it('fails the check of a holder whose key another holder took, and its release leaves that holder’s key alone', async () => {
    const lock = createUserLock(redis, { prefix });
    const name = fresh();
    const second = gate();
    let secondFence: Fence | undefined;
    let secondRun: Promise<void> | undefined;
    const error = await lock.run(name, async (fence) => {
      // The first lease lapsed (as if it stalled past its TTL) and a second holder took the key.
      await redis.del(keys.lock(name));
      secondRun = lock.run(name, async (f) => {
        secondFence = f;
        await second.opened;
      });
      await waitUntil(() => secondFence, 5_000, 'the second holder');
      return appErrorOf(() => fence.check());
    });
    expect(error).toMatchObject({ code: 'ATLAS_UNAVAILABLE', retryable: true, message: LOST });
    // The first holder has finished and released: the key is still the second holder's, whose check passes.
    expect(await redis.get(keys.lock(name))).toBe(String(secondFence?.token));
    await expect(secondFence?.check()).resolves.toBeUndefined();
    second.open();
    await secondRun;
    expect(await redis.exists(keys.lock(name))).toBe(0);
  });

  it('keeps the lease of slow work by renewing it in the background', async () => {
    const ttlMs = 300;
    const lock = createUserLock(redis, { prefix, ttlMs });
    const name = fresh();
    const held: (string | null)[] = [];
    await lock.run(name, async (fence) => {
      const until = Date.now() + 4 * ttlMs;
      // Work that takes four TTLs without stalling the process: the key never lapses meanwhile.
      await waitUntil(
        async () => {
          held.push(await redis.get(keys.lock(name)));
          return Date.now() > until ? true : undefined;
        },
        10_000,
        'four TTLs',
      );
      await fence.check();
      expect(held.length).toBeGreaterThan(10);
      expect(new Set(held)).toEqual(new Set([String(fence.token)]));
    });
    expect(await redis.exists(keys.lock(name))).toBe(0);
  });
});
