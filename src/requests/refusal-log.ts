import type { Redis } from 'ioredis';
import type { RedisKeys } from '../lib/redis-keys.js';
import type { Logger } from '../ops/logger.js';
import type { Action } from './authorize.js';

/** One refused action: who tried what, on which request, and why (in the words they were told). */
export interface Refusal {
  readonly action: Action;
  readonly actorId: string;
  readonly requestId: string | null;
  readonly code: string;
  readonly reason: string;
}

/** Keeps every refusal: in the audit stream, counted per action, and in the log. */
export interface RefusalLog {
  record(refusal: Refusal): Promise<void>;
}

/**
 * Appends refusals to the global audit stream (`<prefix>:audit`, `kind=refusal`, so an export sees
 * them beside the state changes) and counts them per action in `<prefix>:stats:refusals`.
 * A Redis failure here is logged, never in the way of the reply.
 */
export function createRefusalLog(
  redis: Redis,
  keys: RedisKeys,
  options: { readonly logger: Logger; readonly auditMaxLength?: number; readonly now?: () => number },
): RefusalLog {
  const now = options.now ?? Date.now;
  return {
    async record(refusal) {
      options.logger.info('refused', { ...refusal });
      await redis
        .multi()
        .xadd(
          keys.audit,
          'MAXLEN',
          '~',
          String(options.auditMaxLength ?? 1_000_000),
          '*',
          'kind',
          'refusal',
          'request',
          refusal.requestId ?? '',
          'action',
          refusal.action,
          'actor',
          refusal.actorId,
          'at',
          String(now()),
          'code',
          refusal.code,
          'detail',
          refusal.reason,
        )
        .hincrby(keys.refusalStats, refusal.action, 1)
        .exec()
        .catch((error: unknown) => options.logger.warn('could not record a refusal', { error }));
    },
  };
}
