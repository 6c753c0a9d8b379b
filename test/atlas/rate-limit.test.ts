import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAtlasSimulator } from '../../dev/atlas-simulator.js';
import { deleteKeys } from '../../dev/sandbox.js';
import type { AtlasConfig } from '../../src/atlas/atlas-options.js';
import { createAtlasClient } from '../../src/atlas/create-atlas-client.js';
import { createAtlasHttp } from '../../src/atlas/http-client.js';
import {
  type AtlasRateWord,
  createRedisRateLimiter,
  type RateKey,
  type RateLimiter,
  rateKeyOf,
  rateWordOf,
} from '../../src/atlas/rate-limiter.js';
import { redisKeys } from '../../src/lib/redis-keys.js';
import {
  AUTHS,
  createCapturingLogger,
  FIXTURE,
  fixtureConfig,
  startFixtureSimulator,
} from '../support/atlas-fixture.js';
import { appErrorOf } from '../support/errors.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

const BUCKET = { capacity: 100, refillPerMinute: 30_000 };
const LIMITS = { org: BUCKET, project: BUCKET, user: BUCKET };
const SLOW_BUCKET = { capacity: 100, refillPerMinute: 600 };
// For the burst: the capacity/refill ratio is 2 s (Atlas's own is 120 s), so the 10 % headroom
// absorbs 200 ms of delivery jitter even when CI runs other suites on the same 2 cores.
const BURST_BUCKET = { capacity: 1_000, refillPerMinute: 30_000 };
const BURST_LIMITS = { org: BURST_BUCKET, project: BURST_BUCKET, user: BURST_BUCKET };
const QUIET = { capacity: 10_000, refillPerMinute: 600_000 };

/** The most tokens taken in any window, minus what the bucket allows in it; <= 0 means never exceeded. */
function worstExcess(
  times: readonly number[],
  bucket: { capacity: number; refillPerMinute: number },
): number {
  const perMs = bucket.refillPerMinute / 60_000;
  let worst = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < times.length; i += 1) {
    for (let j = i; j < times.length; j += 1) {
      const allowed = bucket.capacity + perMs * ((times[j] ?? 0) - (times[i] ?? 0));
      worst = Math.max(worst, j - i + 1 - allowed);
    }
  }
  return worst;
}

async function pool<T>(
  items: readonly T[],
  concurrency: number,
  run: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) {
        const item = items[next] as T;
        next += 1;
        await run(item);
      }
    }),
  );
}

describe('rate limiting', () => {
  const prefix = uniquePrefix('rate');
  let redis: Redis;

  beforeAll(() => {
    redis = new Redis(TEST_REDIS_URL);
  });

  afterAll(async () => {
    await deleteKeys(TEST_REDIS_URL, prefix);
    await redis.quit();
  });

  it('files each path under its endpoint set and scope', () => {
    expect(rateKeyOf(`/api/atlas/v2/orgs/${FIXTURE.org}/users/${FIXTURE.alice.id}/roles`)).toEqual({
      key: `users-org:${FIXTURE.org}`,
      bucket: 'org',
    });
    expect(rateKeyOf(`/api/atlas/v2/orgs/${FIXTURE.org}/users/${FIXTURE.alice.id}:addRole`).bucket).toBe(
      'org',
    );
    expect(rateKeyOf(`/api/public/v1.0/groups/${FIXTURE.project}/users/${FIXTURE.alice.id}/roles`)).toEqual({
      key: `users-group:${FIXTURE.project}`,
      bucket: 'project',
    });
    expect(rateKeyOf(`/api/atlas/v2/groups/${FIXTURE.project}`).key).toBe(
      `projects-group:${FIXTURE.project}`,
    );
    expect(rateKeyOf(`/api/atlas/v2/orgs/${FIXTURE.org}`)).toEqual({
      key: `orgs-org:${FIXTURE.org}`,
      bucket: 'org',
    });
    expect(rateKeyOf('/api/atlas/v2/users/byName/a%40b.c')).toEqual({ key: 'users-user', bucket: 'user' });
  });

  it('files the members calls (list and remove, every flavor) under the users sets of that org or project', () => {
    const org = { key: `users-org:${FIXTURE.org}`, bucket: 'org' };
    const project = { key: `users-group:${FIXTURE.project}`, bucket: 'project' };
    // NOTES.md section 9: MongoDB Cloud Users, ORGANIZATION (500, 250 / 60 s) and GROUP (1200, 500 / 60 s).
    for (const base of ['/api/atlas/v2', '/api/atlas/v1.0', '/api/public/v1.0']) {
      expect(rateKeyOf(`${base}/orgs/${FIXTURE.org}/users`)).toEqual(org);
      expect(rateKeyOf(`${base}/groups/${FIXTURE.project}/users`)).toEqual(project);
      expect(rateKeyOf(`${base}/groups/${FIXTURE.project}/users/${FIXTURE.alice.id}`)).toEqual(project);
    }
    expect(rateKeyOf(`/api/atlas/v2/orgs/${FIXTURE.org}/users/${FIXTURE.alice.id}`)).toEqual(org);
  });

  it('grants the capacity at once, then makes callers wait for the refill (shared through Redis)', async () => {
    const waits: number[] = [];
    const buckets = { ...LIMITS, org: { capacity: 3, refillPerMinute: 60 } };
    const first = createRedisRateLimiter(redis, prefix, {
      buckets,
      headroom: 0,
      sleep: async (ms) => void waits.push(ms),
    });
    const second = createRedisRateLimiter(redis, prefix, {
      buckets,
      headroom: 0,
      sleep: async () => {
        throw new Error('stop: the bucket is empty');
      },
    });
    const key = { key: 'users-org:shared', bucket: 'org' } as const;
    for (let i = 0; i < 3; i += 1) await first.take(key);
    expect(waits).toEqual([]);
    await expect(second.take(key)).rejects.toThrow('stop: the bucket is empty');
  });

  it('keeps 10% of the bucket unused by default, for network jitter', async () => {
    const waits: number[] = [];
    const limiter = createRedisRateLimiter(redis, prefix, {
      buckets: { ...LIMITS, user: { capacity: 10, refillPerMinute: 6 } },
      waiterTtlMs: 60_000,
      sleep: async (ms) => {
        waits.push(ms);
        throw new Error('stop: the bucket is empty');
      },
    });
    const key = { key: 'users-user-headroom', bucket: 'user' } as const;
    for (let i = 0; i < 9; i += 1) await limiter.take(key);
    expect(waits).toEqual([]);
    await expect(limiter.take(key)).rejects.toThrow('stop: the bucket is empty');
    // 5.4 a minute refill a token in 11.1 s (6 would in 10 s), less what came in while taking the 9,
    // plus up to 19 ms of jitter.
    expect(waits).toHaveLength(1);
    expect(waits[0]).toBeGreaterThan(10_500);
    expect(waits[0]).toBeLessThanOrEqual(11_112 + 19);
    expect(await redis.zcard(redisKeys(prefix).atlasRateWaiters(key.key))).toBe(0);
  });

  it('runs a burst of 1,000 role changes against one org without exceeding the bucket or a 429', async () => {
    const users = Array.from({ length: 1_000 }, (_, i) => ({
      id: `6d${i.toString(16).padStart(22, '0')}`,
      username: `user${i}@example.com`,
      orgRoles: { [FIXTURE.org]: ['ORG_MEMBER'] },
    }));
    const simulator = await startAtlasSimulator({
      apiKeys: [FIXTURE.apiKey],
      orgs: [{ id: FIXTURE.org, name: 'acme' }],
      projects: [],
      users,
      rateLimits: BURST_LIMITS,
    });
    const config: AtlasConfig = {
      api: 'atlas-v2',
      baseUrl: simulator.url,
      auth: AUTHS.digest,
      // Generous: a timeout under a loaded CI would retry a call and spend a token the count below expects.
      timeoutMs: 30_000,
      maxRetries: 4,
      pageSize: 500,
      dryRun: false,
      rateLimits: BURST_LIMITS,
    };
    const limiter = createRedisRateLimiter(redis, `${prefix}-burst`, { buckets: BURST_LIMITS });
    const taken = new Map<string, number[]>();
    const client = createAtlasClient(config, {
      logger: createCapturingLogger().logger,
      rateLimiter: {
        async take(key) {
          await limiter.take(key);
          taken.set(key.key, [...(taken.get(key.key) ?? []), Date.now()]);
        },
      },
    });
    const scope = { kind: 'org', id: FIXTURE.org } as const;
    const failures: unknown[] = [];
    await pool(users, 64, async (user) => {
      try {
        const current = await client.roles.readUser(user.username, scope);
        await client.roles.setRoles(scope, current.userId, current.roles, [
          ...current.roles,
          'ORG_READ_ONLY',
        ]);
      } catch (error) {
        failures.push(error);
      }
    });
    await client.close();
    await deleteKeys(TEST_REDIS_URL, `${prefix}-burst`);

    expect(failures).toEqual([]);
    expect([...taken.keys()].sort()).toEqual([`users-org:${FIXTURE.org}`, 'users-user']);
    // One Digest challenge (the first read's, on the users bucket), then one signed exchange per call:
    // still more than the 900 tokens the limiter lets through at once, so it had to hold calls back.
    expect(taken.get('users-user')).toHaveLength(1_000 + 1);
    expect(taken.get(`users-org:${FIXTURE.org}`)).toHaveLength(1_000);
    for (const times of taken.values()) {
      expect(worstExcess(times, BURST_BUCKET)).toBeLessThanOrEqual(0);
    }
    expect(simulator.calls.filter((c) => c.status === 401)).toHaveLength(1);
    expect(simulator.calls.filter((c) => c.status === 429)).toHaveLength(0);
    expect(simulator.authenticatedCalls().filter((c) => c.method === 'PUT' && c.status === 200)).toHaveLength(
      1_000,
    );
    expect(users.every((u) => simulator.rolesOf(u.username, scope).includes('ORG_READ_ONLY'))).toBe(true);
    await simulator.close();
  }, 60_000);

  it('does meet 429s in the same burst without the limiter, so the test above has teeth', async () => {
    const simulator = await startAtlasSimulator({
      apiKeys: [FIXTURE.apiKey],
      orgs: [{ id: FIXTURE.org, name: 'acme' }],
      projects: [],
      users: [
        { id: FIXTURE.alice.id, username: FIXTURE.alice.email, orgRoles: { [FIXTURE.org]: ['ORG_MEMBER'] } },
      ],
      // Refilled slowly (10 a second), so however slow the run, 400 reads overrun it.
      rateLimits: { org: SLOW_BUCKET, project: SLOW_BUCKET, user: SLOW_BUCKET },
    });
    const client = createAtlasClient(
      {
        api: 'atlas-v2',
        baseUrl: simulator.url,
        auth: AUTHS.digest,
        timeoutMs: 5_000,
        maxRetries: 0,
        pageSize: 500,
        dryRun: false,
        rateLimits: LIMITS,
      },
      { logger: createCapturingLogger().logger },
    );
    const scope = { kind: 'org', id: FIXTURE.org } as const;
    // 400 reads: 401 exchanges with Digest's one challenge, four times the bucket.
    await pool(Array.from({ length: 400 }), 64, async () => {
      await client.roles.readUser(FIXTURE.alice.email, scope).catch(() => undefined);
    });
    await client.close();
    expect(simulator.calls.filter((c) => c.status === 429).length).toBeGreaterThan(0);
    await simulator.close();
  });
});

/** How many tokens `limiter` (whose sleep throws) hands out before it would wait. */
async function takesBeforeWaiting(limiter: RateLimiter, key: RateKey, most = 200): Promise<number> {
  for (let i = 0; i < most; i += 1) {
    try {
      await limiter.take(key);
    } catch {
      return i;
    }
  }
  return most;
}

/** A 429 as Atlas sends it when a token bucket is empty (NOTES.md section 9). */
function tokenBucket429(retryAfter: number, capacity: number, refillRate: number, refillSeconds: number) {
  return JSON.stringify({
    detail: `Rate limit exceeded for api/atlas/v2/groups. Please retry after ${retryAfter} seconds.`,
    error: 429,
    errorCode: 'RATE_LIMITED_TOKEN_BUCKET',
    parameters: ['api/atlas/v2/groups', retryAfter, capacity, refillRate, refillSeconds],
    reason: 'Too Many Requests',
  });
}

describe('rate bucket corrected from Atlas', () => {
  const prefix = uniquePrefix('rate-word');
  const keys = redisKeys(prefix);
  const SLOW = { capacity: 100, refillPerMinute: 60 };
  const SLOW_LIMITS = { org: SLOW, project: SLOW, user: SLOW };
  let redis: Redis;
  const waits: number[] = [];
  /** The bucket the tests correct: 100 tokens, 1 a second, 10 % kept back; a wait throws. */
  const limiter = (headroom = 0.1) =>
    createRedisRateLimiter(redis, prefix, {
      buckets: SLOW_LIMITS,
      headroom,
      sleep: async (ms) => {
        waits.push(ms);
        throw new Error('stop: the bucket is empty');
      },
    });

  beforeAll(() => {
    redis = new Redis(TEST_REDIS_URL);
  });

  afterAll(async () => {
    await deleteKeys(TEST_REDIS_URL, prefix);
    await redis.quit();
  });

  it("reads Atlas's word from its headers and a 429's token bucket parameters, and nothing when it said nothing", () => {
    expect(rateWordOf(200, {}, '{}')).toBeUndefined();
    expect(rateWordOf(200, { 'ratelimit-limit': '1200', 'ratelimit-remaining': '37' }, '')).toEqual({
      limit: 1200,
      remaining: 37,
    });
    expect(
      rateWordOf(200, { 'ratelimit-limit': '100, 100;w=60', 'ratelimit-remaining': 'soon' }, ''),
    ).toEqual({
      limit: 100,
    });
    expect(rateWordOf(429, { 'retry-after': '55' }, tokenBucket429(55, 10, 5, 60))).toEqual({
      limit: 10,
      refill: { tokens: 5, perSeconds: 60 },
      empty: true,
    });
    // Cloud Manager's RATE_LIMITED is a quota, not Atlas's bucket: nothing to correct from.
    const quota = JSON.stringify({ error: 429, errorCode: 'RATE_LIMITED', parameters: ['/x', 100, 1] });
    expect(rateWordOf(429, {}, quota)).toBeUndefined();
    expect(rateWordOf(429, {}, 'not json')).toBeUndefined();
  });

  it("lowers and raises the bucket's tokens from RateLimit-Remaining, keeping the headroom of RateLimit-Limit", async () => {
    const bucket = limiter();
    const key = { key: 'users-group:headers', bucket: 'project' } as const;
    // Remaining 15 of 100, 10 kept back: 5 tokens, where the configured bucket still had 90.
    await bucket.correct?.(key, { limit: 100, remaining: 15 });
    expect(await takesBeforeWaiting(bucket, key)).toBe(5);
    await bucket.correct?.(key, { limit: 100, remaining: 50 });
    expect(await takesBeforeWaiting(bucket, key)).toBe(40);
    await bucket.correct?.(key, { limit: 20, remaining: 20 });
    expect(await redis.hget(keys.atlasRate(key.key), 'capacity')).toBe('18');
    expect(await takesBeforeWaiting(bucket, key)).toBe(18);
    await bucket.correct?.(key, { limit: 100, remaining: 5 });
    expect(await takesBeforeWaiting(bucket, key)).toBe(0);
    expect(await redis.zcard(keys.atlasRateWaiters(key.key))).toBe(0);
  });

  it("sets capacity and refill from a 429's parameters and empties the bucket", async () => {
    const bucket = limiter(0);
    const key = { key: 'users-group:429', bucket: 'project' } as const;
    const word = rateWordOf(429, {}, tokenBucket429(1, 3, 3, 1)) as AtlasRateWord;
    waits.length = 0;
    await bucket.correct?.(key, word);
    expect(await takesBeforeWaiting(bucket, key)).toBe(0);
    // The next token in a third of a second (3 a second), not in the configured one second.
    expect(waits[0]).toBeGreaterThan(200);
    expect(waits[0]).toBeLessThan(334 + 20);
    const emptiedAt = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    // 1.2 s later: full at Atlas's capacity of 3 (the configured refill would have given one token).
    expect(await takesBeforeWaiting(bucket, key)).toBe(3);
    expect(Date.now() - emptiedAt).toBeLessThan(1_200 + 300);
  });

  it('corrects the bucket after each exchange whose answer carries the headers, and leaves it alone when not', async () => {
    const answers: { status: number; headers: Record<string, string>; body: string }[] = [
      { status: 200, headers: { 'RateLimit-Limit': '100', 'RateLimit-Remaining': '12' }, body: '[]' },
      { status: 200, headers: {}, body: '[]' },
      { status: 429, headers: { 'Retry-After': '30' }, body: tokenBucket429(30, 5, 5, 60) },
    ];
    const seen: IncomingHttpHeaders[] = [];
    const server: Server = createServer((req, res) => {
      seen.push(req.headers);
      const answer = answers.shift() ?? { status: 500, headers: {}, body: '' };
      res
        .writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers })
        .end(answer.body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const bucket = limiter();
    const words: AtlasRateWord[] = [];
    const http = createAtlasHttp({
      baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      auth: AUTHS.digest,
      logger: createCapturingLogger().logger,
      maxRetries: 0,
      rateLimiter: {
        take: (key) => bucket.take(key),
        async correct(key, word) {
          words.push(word);
          await bucket.correct?.(key, word);
        },
      },
    });
    const first = `/api/atlas/v2/groups/${FIXTURE.project}/users`;
    const other = '/api/atlas/v2/groups/6b0000000000000000000002/users';
    const call = (path: string) =>
      http.send({ method: 'GET', path, mediaType: 'application/json', operation: 'listing members' });
    await call(first);
    await call(first);
    const refused = await appErrorOf(() => call(other));
    await http.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));

    expect(seen).toHaveLength(3);
    expect(words).toEqual([
      { limit: 100, remaining: 12 },
      { limit: 5, refill: { tokens: 5, perSeconds: 60 }, empty: true },
    ]);
    // 12 left, 10 kept back: 2 tokens, of which the second exchange (no headers) took one.
    const key = rateKeyOf(first);
    expect(await takesBeforeWaiting(bucket, key)).toBe(1);
    expect(refused.code).toBe('ATLAS_UNAVAILABLE');
    expect(await takesBeforeWaiting(bucket, rateKeyOf(other))).toBe(0);
  });

  /**
   * Reads Alice's org roles 40 times, 8 at once, through a client whose bucket matches the
   * simulator's (100, 10 a second) after another client of the same key spent 85 of its tokens;
   * `corrected: false` hides Atlas's word from the limiter. Returns the simulator's 429s and the
   * failed reads.
   */
  const readAfterTheBucketWasSpent = async (corrected: boolean) => {
    const bucket = { capacity: 100, refillPerMinute: 600 };
    const simulator = await startFixtureSimulator({
      rateLimits: { org: bucket, project: QUIET, user: QUIET },
    });
    const scope = { kind: 'org', id: FIXTURE.org } as const;
    const real = createRedisRateLimiter(redis, `${prefix}-${corrected ? 'corrected' : 'blind'}`, {
      buckets: { org: bucket, project: QUIET, user: QUIET },
    });
    const client = createAtlasClient(
      { ...fixtureConfig(simulator, 'atlas-v2-2025', AUTHS.digest), maxRetries: 0 },
      {
        logger: createCapturingLogger().logger,
        rateLimiter: corrected ? real : { take: (key) => real.take(key) },
      },
    );
    await client.roles.readUser(FIXTURE.alice.email, scope);
    simulator.setBucketTokens(`/api/atlas/v2/orgs/${FIXTURE.org}/users`, 15);
    const failures: unknown[] = [];
    await pool(Array.from({ length: 40 }), 8, async () => {
      await client.roles.readUser(FIXTURE.alice.email, scope).catch((error: unknown) => failures.push(error));
    });
    await client.close();
    await simulator.close();
    const limited = simulator.calls.filter((c) => c.status === 429);
    const answered = simulator.calls.filter((c) => c.status === 200);
    return { limited, answered, failures };
  };

  it("follows the simulator's bucket lowered behind the client's back, from its headers, without a 429", async () => {
    const { limited, answered, failures } = await readAfterTheBucketWasSpent(true);
    expect(limited).toEqual([]);
    expect(failures).toEqual([]);
    expect(answered).toHaveLength(41);
    // 41 reads where 15 tokens were left and 10 come a second: the reads past the first 15 or so
    // waited for Atlas's refill (the client keeps 10 of 100 back, so about 3.5 s).
    const span = (answered.at(-1)?.at ?? 0) - (answered[1]?.at ?? 0);
    expect(span).toBeGreaterThan(2_500);
  }, 30_000);

  it('does meet 429s in the same reads when the limiter does not hear Atlas, so the test above has teeth', async () => {
    const { limited, failures } = await readAfterTheBucketWasSpent(false);
    expect(limited.length).toBeGreaterThan(5);
    expect(failures.length).toBe(limited.length);
  }, 30_000);
});
