import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { deleteKeys } from '../../dev/sandbox.js';
import { type CallPriority, currentCallPriority, withCallPriority } from '../../src/atlas/call-priority.js';
import { createRedisRateLimiter, type RateKey, type RateLimiter } from '../../src/atlas/rate-limiter.js';
import { redisKeys } from '../../src/lib/redis-keys.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

const QUIET = { capacity: 1_000, refillPerMinute: 60_000 };

/** A bucket of one token refilled every `everyMs`, and nothing kept back, so the schedule shows plainly. */
function oneTokenEvery(everyMs: number) {
  return { org: QUIET, project: { capacity: 1, refillPerMinute: 60_000 / everyMs }, user: QUIET };
}

/** When each caller took its token, in the order they took. */
interface Take {
  readonly name: string;
  readonly at: number;
}

describe('rate bucket priority', () => {
  const prefix = uniquePrefix('rate-priority');
  const keys = redisKeys(prefix);
  let redis: Redis;

  beforeAll(() => {
    redis = new Redis(TEST_REDIS_URL);
  });

  afterAll(async () => {
    await deleteKeys(TEST_REDIS_URL, prefix);
    await redis.quit();
  });

  /** Runs one take under `priority` (none: a normal call) and writes down when it came through. */
  const takeAs = (
    limiter: RateLimiter,
    key: RateKey,
    name: string,
    taken: Take[],
    priority?: CallPriority,
  ) => {
    const take = () => limiter.take(key).then(() => void taken.push({ name, at: Date.now() }));
    return priority === undefined ? take() : withCallPriority(priority, take);
  };

  const waiting = (key: RateKey) => redis.zcard(keys.atlasRateWaiters(key.key));

  it('treats calls outside any context as normal, and the innermost context wins', async () => {
    expect(currentCallPriority()).toEqual({ kind: 'normal' });
    const seen = await withCallPriority({ kind: 'revocation', due: 5 }, async () => {
      const outer = currentCallPriority();
      await Promise.resolve();
      const inner = await withCallPriority({ kind: 'normal' }, async () => currentCallPriority());
      return [outer, inner, currentCallPriority()];
    });
    expect(seen).toEqual([
      { kind: 'revocation', due: 5 },
      { kind: 'normal' },
      { kind: 'revocation', due: 5 },
    ]);
  });

  it('lets revocations that came later take before the normal calls queued, earliest end first', async () => {
    const key = { key: 'users-group:order', bucket: 'project' } as const;
    const limiter = createRedisRateLimiter(redis, prefix, { buckets: oneTokenEvery(60), headroom: 0 });
    // A waiter with the earliest deadline there can be, held by the test: while it waits, nobody
    // behind it can take the one token, so the queue below forms before anything moves.
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let holding = true;
    const holder = createRedisRateLimiter(redis, prefix, {
      buckets: oneTokenEvery(60),
      headroom: 0,
      sleep: async (ms) => {
        if (holding) await held;
        else await new Promise((resolve) => setTimeout(resolve, ms));
      },
    });
    const taken: Take[] = [];
    await limiter.take(key); // the bucket is empty now
    const all: Promise<void>[] = [takeAs(holder, key, 'holder', taken, { kind: 'revocation', due: 1 })];
    await vi.waitFor(async () => expect(await waiting(key)).toBe(1), { interval: 5 });

    for (let i = 1; i <= 4; i += 1) {
      all.push(takeAs(limiter, key, `normal-${i}`, taken));
      await vi.waitFor(async () => expect(await waiting(key)).toBe(1 + i), { interval: 5 });
    }
    const now = Date.now();
    const ends = { 'revocation-b': now - 1_000, 'revocation-a': now - 3_000, 'revocation-c': now - 2_000 };
    for (const [name, due] of Object.entries(ends)) {
      all.push(takeAs(limiter, key, name, taken, { kind: 'revocation', due }));
    }
    await vi.waitFor(async () => expect(await waiting(key)).toBe(8), { interval: 5 });
    expect(taken).toEqual([]);
    const releasedAt = Date.now();
    holding = false;
    release();
    await Promise.all(all);

    expect(taken.map((t) => t.name)).toEqual([
      'holder',
      'revocation-a',
      'revocation-c',
      'revocation-b',
      'normal-1',
      'normal-2',
      'normal-3',
      'normal-4',
    ]);
    // The timeline: nothing before the release, then one token every 60 ms, never two at once (the
    // times are when each caller heard, a few ms after Redis handed the token out).
    const times = taken.map((t) => t.at);
    expect(Math.min(...times)).toBeGreaterThanOrEqual(releasedAt);
    for (let i = 1; i < times.length; i += 1) {
      expect((times[i] ?? 0) - (times[i - 1] ?? 0)).toBeGreaterThanOrEqual(60 - 30);
    }
    expect((times[7] ?? 0) - (times[0] ?? 0)).toBeGreaterThanOrEqual(7 * 60 - 30);
    expect(await waiting(key)).toBe(0);
  });

  it('gives a normal call its token within its bound while revocations keep coming', async () => {
    const key = { key: 'users-group:starve', bucket: 'project' } as const;
    const maxDeferMs = 600;
    const everyMs = 100;
    const limiter = createRedisRateLimiter(redis, prefix, {
      buckets: oneTokenEvery(everyMs),
      headroom: 0,
      maxDeferMs,
    });
    await limiter.take(key);
    const taken: Take[] = [];
    const dues = new Map<string, number>();
    const revocations: Promise<void>[] = [];
    let normal: Promise<void> | undefined;
    let normalStarted = 0;
    const streamStarted = Date.now();
    // Two revocations due now for every token: on their own they would keep the bucket forever.
    for (let i = 0; Date.now() - streamStarted < 2_500; i += 1) {
      const name = `revocation-${i}`;
      const due = Date.now();
      dues.set(name, due);
      revocations.push(takeAs(limiter, key, name, taken, { kind: 'revocation', due }));
      if (normal === undefined && Date.now() - streamStarted >= 300) {
        normalStarted = Date.now();
        normal = takeAs(limiter, key, 'normal', taken);
      }
      await new Promise((resolve) => setTimeout(resolve, everyMs / 2));
    }
    await normal;
    const normalAt = taken.find((t) => t.name === 'normal')?.at ?? Number.NaN;
    const deadline = normalStarted + maxDeferMs;
    await Promise.all(revocations);

    const before = taken.slice(
      0,
      taken.findIndex((t) => t.name === 'normal'),
    );
    const after = taken.slice(before.length + 1);
    // Only revocations due before its deadline went first; the revocations still arriving came later.
    // Its deadline is its first try on Redis's clock, which a loaded run reaches some ms after
    // `normalStarted`: up to one token's time of slack.
    const slack = everyMs;
    expect(before.every((t) => (dues.get(t.name) ?? Number.NaN) <= deadline + slack)).toBe(true);
    expect(after.filter((t) => (dues.get(t.name) ?? 0) > deadline + slack).length).toBeGreaterThan(5);
    // Its wait: the deadline, then the revocations due before it that were still waiting then (a
    // fifth more per token for the pollers' lateness: a one-token bucket loses what a late taker misses).
    const dueBefore = [...dues.values()].filter((due) => due <= deadline).length;
    const takenByDeadline = taken.filter((t) => t.at <= deadline && t.name !== 'normal').length;
    const bound = deadline + (dueBefore - takenByDeadline + 1) * everyMs * 1.2 + 200;
    expect(normalAt).toBeGreaterThanOrEqual(normalStarted);
    expect(normalAt).toBeLessThanOrEqual(bound);
    expect(normalAt).toBeLessThan(streamStarted + 2_500);
  }, 30_000);

  it('stops counting a waiter whose process vanished once its expiry passes', async () => {
    const key = { key: 'users-group:vanished', bucket: 'project' } as const;
    const waiterTtlMs = 600;
    const options = { buckets: oneTokenEvery(50), headroom: 0, waiterTtlMs };
    const limiter = createRedisRateLimiter(redis, prefix, options);
    await limiter.take(key);
    let vanishedAt = 0;
    // A process that registered as the first waiter, then never came back (no sleep ever ends).
    const vanished = createRedisRateLimiter(redis, prefix, {
      ...options,
      sleep: () => {
        vanishedAt = Date.now();
        return new Promise<void>(() => {});
      },
    });
    void withCallPriority({ kind: 'revocation', due: 1 }, () => vanished.take(key));
    await vi.waitFor(() => expect(vanishedAt).toBeGreaterThan(0), { interval: 5 });
    expect(await waiting(key)).toBe(1);

    const taken: Take[] = [];
    await takeAs(limiter, key, 'normal', taken);
    const at = taken[0]?.at ?? Number.NaN;
    // A token was there 50 ms in; the vanished waiter held it until its expiry, and no longer.
    expect(at).toBeGreaterThanOrEqual(vanishedAt + waiterTtlMs - 5);
    expect(at).toBeLessThanOrEqual(vanishedAt + waiterTtlMs + waiterTtlMs / 3 + 150);
    expect(await waiting(key)).toBe(0);
    expect((await redis.hkeys(keys.atlasRate(key.key))).sort()).toEqual(['at', 'tokens']);
  });

  it("tells a call's onWait once when it is about to wait longer than the notice threshold", async () => {
    const key = { key: 'users-group:notice', bucket: 'project' } as const;
    let tries = 0;
    const limiter = createRedisRateLimiter(redis, prefix, {
      buckets: oneTokenEvery(1_000),
      headroom: 0,
      waitNoticeMs: 300,
      sleep: async () => {
        tries += 1;
        if (tries === 4) throw new Error('stop: enough tries');
      },
    });
    await limiter.take(key);
    const told: number[] = [];
    const onWait = (ms: number) => void told.push(ms);
    await expect(
      withCallPriority({ kind: 'revocation', due: Date.now(), onWait }, () => limiter.take(key)),
    ).rejects.toThrow('stop: enough tries');
    expect(tries).toBe(4);
    expect(told).toHaveLength(1);
    expect(told[0]).toBeGreaterThan(900);
    expect(told[0]).toBeLessThanOrEqual(1_000);
    // A wait under the threshold is not told.
    const quick = createRedisRateLimiter(redis, prefix, {
      buckets: oneTokenEvery(100),
      headroom: 0,
      waitNoticeMs: 300,
    });
    const other = { key: 'users-group:notice-quick', bucket: 'project' } as const;
    await quick.take(other);
    await withCallPriority({ kind: 'normal', onWait }, () => quick.take(other));
    expect(told).toHaveLength(1);
    expect(await waiting(key)).toBe(0);
  });
});
