import type { RedisClient } from '../lib/redis-client.js';
import { redisKeys } from '../lib/redis-keys.js';
import { loadRedisScript } from '../lib/redis-script.js';
import type { BucketConfig } from './atlas-options.js';

/** Which Atlas endpoint set and scope a call counts against (Atlas rate limits, token bucket per set x scope). */
export interface RateKey {
  /** e.g. `users-org:5f1a…`, `users-group:5f1a…`, `users-user`. */
  readonly key: string;
  readonly bucket: 'org' | 'project' | 'user';
}

/** Takes tokens before calls so a burst never exceeds the configured bucket. */
export interface RateLimiter {
  /** Resolves when one token of `key` has been taken (waiting for the refill if needed). */
  take(key: RateKey): Promise<void>;
}

const ID = '[a-f0-9]{24}|[^/]+';

/**
 * Maps a path of any flavor (v2, v1.0, public v1.0) to its endpoint set and scope:
 * org users endpoints per org, project users endpoints per project, user endpoints per API principal.
 */
export function rateKeyOf(path: string): RateKey {
  const org = new RegExp(`/orgs/(${ID})/users`).exec(path);
  if (org) return { key: `users-org:${org[1]}`, bucket: 'org' };
  const group = new RegExp(`/groups/(${ID})/users`).exec(path);
  if (group) return { key: `users-group:${group[1]}`, bucket: 'project' };
  const project = new RegExp(`/groups/(${ID})$`).exec(path);
  if (project) return { key: `projects-group:${project[1]}`, bucket: 'project' };
  return { key: 'users-user', bucket: 'user' };
}

/** Options shared by the limiters. */
export interface RateLimiterOptions {
  readonly buckets: {
    readonly org: BucketConfig;
    readonly project: BucketConfig;
    readonly user: BucketConfig;
  };
  /**
   * Share of capacity and refill kept unused, so network jitter between taking a token here and the
   * request reaching Atlas cannot empty Atlas's own bucket.
   * @defaultValue 0.1
   */
  readonly headroom?: number;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** The bucket actually enforced: the configured one minus the headroom. */
function effective(config: BucketConfig, headroom: number): { capacity: number; perMs: number } {
  return {
    capacity: Math.max(1, Math.floor(config.capacity * (1 - headroom))),
    perMs: (config.refillPerMinute * (1 - headroom)) / 60_000,
  };
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A token bucket in Redis, shared by every worker process on the same prefix. */
export function createRedisRateLimiter(
  redis: RedisClient,
  prefix: string,
  options: RateLimiterOptions,
): RateLimiter {
  const sleep = options.sleep ?? defaultSleep;
  const keys = redisKeys(prefix);
  const takeToken = loadRedisScript(import.meta.url, 'take-token');
  return {
    async take({ key, bucket }) {
      const { capacity, perMs } = effective(options.buckets[bucket], options.headroom ?? 0.1);
      for (;;) {
        const wait = Number(await takeToken.run(redis, [keys.atlasRate(key)], [capacity, perMs]));
        if (wait <= 0) return;
        await sleep(wait + Math.floor(Math.random() * 20));
      }
    },
  };
}

/** The same bucket in memory, for a single process (benchmarks, tools). */
export function createMemoryRateLimiter(options: RateLimiterOptions & { now?: () => number }): RateLimiter {
  const sleep = options.sleep ?? defaultSleep;
  const now = options.now ?? Date.now;
  const state = new Map<string, { tokens: number; at: number }>();
  return {
    async take({ key, bucket }) {
      const { capacity, perMs: rate } = effective(options.buckets[bucket], options.headroom ?? 0.1);
      for (;;) {
        const current = state.get(key) ?? { tokens: capacity, at: now() };
        const t = now();
        const tokens = Math.min(capacity, current.tokens + Math.max(0, t - current.at) * rate);
        if (tokens >= 1) {
          state.set(key, { tokens: tokens - 1, at: t });
          return;
        }
        state.set(key, { tokens, at: t });
        await sleep(Math.ceil((1 - tokens) / rate));
      }
    },
  };
}
