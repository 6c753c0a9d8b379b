import type { RedisClient } from '../lib/redis-client.js';
import type { RedisKeys } from '../lib/redis-keys.js';

/** One nudge per request (`/atlas-access nudge`): the first claim wins, every later one is refused. */
export interface NudgeClaims {
  /** True when this is the request's first nudge (and takes it); false when it was nudged before. */
  claim(requestId: string): Promise<boolean>;
}

/** Claims in Redis (SET NX), kept `keepMs` (past REQUEST_TTL: a request is pending no longer than that). */
export function createNudgeClaims(redis: RedisClient, keys: RedisKeys, keepMs: number): NudgeClaims {
  return {
    async claim(requestId) {
      return (await redis.set(keys.nudge(requestId), String(Date.now()), 'PX', keepMs, 'NX')) === 'OK';
    },
  };
}
