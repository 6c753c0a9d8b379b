import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { AppError } from '../errors.js';
import type { RedisClient } from './redis-client.js';

/** A Lua script run with EVALSHA, loaded on first use or after a Redis restart (NOSCRIPT). */
export interface RedisScript {
  run(
    redis: RedisClient,
    keys: readonly string[],
    args: readonly (string | number | Buffer)[],
  ): Promise<unknown>;
}

/**
 * Reads the Lua script `lua/<name>.lua` next to the module at `moduleUrl` (its `import.meta.url`), so
 * callers never think about script caching. Call it when the store that runs the script is created,
 * never at import time. The file is found in src/ (tsx, tests) as in dist/: the build copies every
 * `.lua` file under src/ to the same place under dist/ (package.json, `build`). Each file starts with
 * a header saying its KEYS, ARGV and result; its text is sent to Redis as it is.
 */
export function loadRedisScript(moduleUrl: string, name: string): RedisScript {
  const file = new URL(`lua/${name}.lua`, moduleUrl);
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new AppError(
      'INTERNAL',
      `Rolecall cannot find its Redis script ${fileURLToPath(file)}: the build did not copy it. Run npm run build again.`,
      { cause },
    );
  }
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
