import type { AuditSink } from '../audit/audit-trail.js';
import type { RedisClient } from '../lib/redis-client.js';
import type { RedisKeys } from '../lib/redis-keys.js';
import type { Logger } from '../ops/logger.js';
import type { Action } from './actions.js';

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

/** Options for {@link createRefusalLog}. */
export interface RefusalLogOptions {
  readonly logger: Logger;
  /** Told every refusal that reaches the audit stream, with its fields. */
  readonly onAudit?: AuditSink;
  /**
   * Refusals of one person per minute that reach the audit stream; beyond, they are only counted
   * (`suppressed`) and logged, so a script clicking forged buttons cannot flood the audit.
   * @defaultValue 30
   */
  readonly auditPerMinute?: number;
  readonly now?: () => number;
}

/**
 * Appends refusals to the global audit stream (`<prefix>:audit`, `kind=refusal`, so an export sees
 * them beside the state changes), at most `auditPerMinute` per person per minute, and counts every
 * one per action in `<prefix>:stats:refusals`. A Redis failure here is logged, never in the way of
 * the reply.
 */
export function createRefusalLog(
  redis: RedisClient,
  keys: RedisKeys,
  options: RefusalLogOptions,
): RefusalLog {
  const now = options.now ?? Date.now;
  const cap = options.auditPerMinute ?? 30;
  const audit = async (refusal: Refusal, at: number, detail: string) => {
    const entry = {
      kind: 'refusal',
      request: refusal.requestId ?? '',
      action: refusal.action,
      actor: refusal.actorId,
      at: String(at),
      code: refusal.code,
      detail,
    };
    await redis.xadd(keys.audit, '*', ...Object.entries(entry).flat());
    options.onAudit?.(entry);
  };
  return {
    async record(refusal) {
      options.logger.info('refused', { ...refusal });
      const at = now();
      const counter = keys.refusalCount(refusal.actorId, Math.floor(at / 60_000));
      try {
        const replies = await redis
          .multi()
          .incr(counter)
          .expire(counter, 120)
          .hincrby(keys.refusalStats, refusal.action, 1)
          .exec();
        const count = Number(replies?.[0]?.[1] ?? 0);
        if (count <= cap) {
          await audit(refusal, at, refusal.reason);
        } else {
          if (count === cap + 1) {
            await audit(
              refusal,
              at,
              `More than ${cap} refusals of this person in a minute; the rest of this minute's are only counted.`,
            );
          }
          await redis.hincrby(keys.refusalStats, 'suppressed', 1);
        }
      } catch (error) {
        options.logger.warn('could not record a refusal', { error });
      }
    },
  };
}
