import { AppError } from '../errors.js';
import type { RedisClient } from '../lib/redis-client.js';
import { redisKeys } from '../lib/redis-keys.js';
import { loadRedisScript } from '../lib/redis-script.js';

/** Proof that the holder still owns the lock; checked right before every Atlas write. */
export interface Fence {
  /** The monotonic fencing token of this hold. */
  readonly token: number;
  /** Throws a retryable AppError when the lock was lost (expired while the holder stalled). */
  check(): Promise<void>;
}

/** Serializes the read-modify-write of one user's roles in one org or project, across processes. */
export interface UserLock {
  run<T>(key: string, work: (fence: Fence) => Promise<T>): Promise<T>;
}

/** Options for {@link createUserLock}. */
export interface UserLockOptions {
  readonly prefix: string;
  /**
   * How long a hold lasts without renewal; renewed every third of it while the work runs.
   * @defaultValue 30_000
   */
  readonly ttlMs?: number;
  /**
   * How long to wait for a busy lock before giving up with a retryable error.
   * @defaultValue 60_000
   */
  readonly waitMs?: number;
}

/** A Redis lock (SET NX PX) with a fencing token from INCR, renewal while held and compare-and-delete. */
export function createUserLock(redis: RedisClient, options: UserLockOptions): UserLock {
  const ttlMs = options.ttlMs ?? 30_000;
  const waitMs = options.waitMs ?? 60_000;
  const keys = redisKeys(options.prefix);
  const extend = loadRedisScript(import.meta.url, 'extend-lock');
  const release = loadRedisScript(import.meta.url, 'release-lock');
  return {
    async run(key, work) {
      const lockKey = keys.lock(key);
      const token = await redis.incr(keys.lockFence);
      const deadline = Date.now() + waitMs;
      for (let pause = 20; ; pause = Math.min(pause * 2, 500)) {
        if ((await redis.set(lockKey, String(token), 'PX', ttlMs, 'NX')) === 'OK') break;
        if (Date.now() > deadline) {
          throw new AppError(
            'ATLAS_UNAVAILABLE',
            'Another change to the same person’s roles is still running; trying again later.',
            {
              retryable: true,
            },
          );
        }
        await new Promise((resolve) => setTimeout(resolve, pause + Math.floor(Math.random() * pause)));
      }
      const renew = setInterval(
        () => {
          extend.run(redis, [lockKey], [String(token), ttlMs]).catch(() => undefined);
        },
        Math.max(100, Math.floor(ttlMs / 3)),
      );
      const fence: Fence = {
        token,
        async check() {
          if (Number(await extend.run(redis, [lockKey], [String(token), ttlMs])) !== 1) {
            throw new AppError(
              'ATLAS_UNAVAILABLE',
              'Rolecall lost its lock on this change; it will be retried.',
              {
                retryable: true,
              },
            );
          }
        },
      };
      try {
        return await work(fence);
      } finally {
        clearInterval(renew);
        await release.run(redis, [lockKey], [String(token)]).catch(() => undefined);
      }
    },
  };
}
