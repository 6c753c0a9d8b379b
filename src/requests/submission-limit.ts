import { AppError } from '../errors.js';
import type { RedisClient } from '../lib/redis-client.js';
import type { RedisKeys } from '../lib/redis-keys.js';
import { defineRedisScript } from '../lib/redis-script.js';

/** Limits how fast one person can file requests. */
export interface SubmissionLimit {
  /**
   * Counts one submission and holds a slot among the person's open requests until `release` is
   * called (once the request is stored, or was not); throws AppError RATE_LIMITED, in words, when the
   * person has too many requests waiting (submitted or pending) or filed too many in the last minute.
   * Concurrent submissions cannot all slip through: the count and the hold are one script.
   */
  take(userId: string): Promise<{ release(): Promise<void> }>;
}

/** Options for {@link createSubmissionLimit}. */
export interface SubmissionLimitOptions {
  /**
   * Submissions one person may make in a minute.
   * @defaultValue 10
   */
  readonly perMinute?: number;
  /**
   * Requests one person may have waiting (submitted or pending) at once.
   * @defaultValue 20
   */
  readonly maxOpen?: number;
  readonly now?: () => number;
}

// KEYS: the person's submission times (zset), their open requests (set, kept by the request store),
// their held slots (counter: submissions counted but not stored yet; expires in case a process dies).
// ARGV: now ms, window ms, per-window limit, most open requests.
// Returns {open count, 0} when counted, {open count, -1} when too many are open, else {open count,
// ms until the oldest submission leaves the window}. One round trip per submission.
const TAKE = defineRedisScript(`
local open = redis.call('SCARD', KEYS[2]) + tonumber(redis.call('GET', KEYS[3]) or '0')
if open >= tonumber(ARGV[4]) then return {open, -1} end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {open, math.max(1, tonumber(oldest[2]) + tonumber(ARGV[2]) - tonumber(ARGV[1]))}
end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[1] .. '-' .. redis.call('ZCARD', KEYS[1]))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('INCR', KEYS[3])
redis.call('PEXPIRE', KEYS[3], 30000)
return {open, 0}
`);

// The counter goes once nothing is held, instead of staying as '0' until it expires.
const RELEASE = defineRedisScript(`
if tonumber(redis.call('GET', KEYS[1]) or '0') > 1 then return redis.call('DECR', KEYS[1]) end
redis.call('DEL', KEYS[1])
return 0
`);

/** A sliding one-minute window per person in Redis, shared by every bot process. */
export function createSubmissionLimit(
  redis: RedisClient,
  keys: RedisKeys,
  options: SubmissionLimitOptions = {},
): SubmissionLimit {
  const perMinute = options.perMinute ?? 10;
  const maxOpen = options.maxOpen ?? 20;
  const now = options.now ?? Date.now;
  return {
    async take(userId) {
      const held = keys.submitHeld(userId);
      const [open, wait] = (await TAKE.run(
        redis,
        [keys.submitLimit(userId), keys.openIndex(userId), held],
        [now(), 60_000, perMinute, maxOpen],
      )) as [number, number];
      if (wait < 0) {
        throw new AppError(
          'RATE_LIMITED',
          `You have ${open} requests waiting for a decision, the most Rolecall takes from one person. Cancel some (/atlas-access list) or wait for the approvers.`,
        );
      }
      if (wait > 0) {
        throw new AppError(
          'RATE_LIMITED',
          `You have filed ${perMinute} requests in the last minute, the most Rolecall takes; try again in ${Math.ceil(wait / 1000)} s.`,
        );
      }
      return {
        async release() {
          await RELEASE.run(redis, [held], []);
        },
      };
    },
  };
}
