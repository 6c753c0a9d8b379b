import { createHash } from 'node:crypto';
import type { RedisClient } from './redis-client.js';

/** A Lua script run with EVALSHA, loaded on first use or after a Redis restart (NOSCRIPT). */
export interface RedisScript {
  run(redis: RedisClient, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown>;
}

/** Wraps Lua source so callers never think about script caching. */
export function defineRedisScript(source: string): RedisScript {
  const sha = createHash('sha1').update(source).digest('hex');
  return {
    async run(redis, keys, args) {
      try {
        return await redis.evalsha(sha, keys.length, ...keys, ...args);
      } catch (error) {
        if (!(error instanceof Error) || !error.message.includes('NOSCRIPT')) throw error;
        return redis.eval(source, keys.length, ...keys, ...args);
      }
    },
  };
}
