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

/** A lone UTF-16 surrogate: half of a pair, e.g. text cut in the middle of an emoji. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * JSON for a script that decodes it with cjson: like JSON.stringify, with every lone surrogate in a
 * string replaced by U+FFFD, since cjson refuses the `\ud83d` escape JSON.stringify writes for one
 * ("invalid unicode escape code") and the whole write would fail.
 */
export function luaJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    typeof v === 'string' ? v.replace(LONE_SURROGATE, '\uFFFD') : v,
  );
}
