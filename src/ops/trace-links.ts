import type { RedisClient } from '../lib/redis-client.js';
import type { RedisKeys } from '../lib/redis-keys.js';
import type { TraceLinks } from './tracing-types.js';

/**
 * Keeps each request's trace context in Redis (`trace:<id>`) for `ttlMs` (REQUEST_TTL: a decision
 * comes before it expires), so the Slack request deciding it continues the trace that filed it.
 * Made only when tracing is on.
 */
export function createTraceLinks(
  redis: RedisClient,
  keys: Pick<RedisKeys, 'traceLink'>,
  ttlMs: number,
): TraceLinks {
  return {
    read: async (requestId) => (await redis.get(keys.traceLink(requestId))) ?? undefined,
    keep: async (requestId, carrier) => {
      await redis.set(keys.traceLink(requestId), carrier, 'PX', ttlMs);
    },
  };
}
