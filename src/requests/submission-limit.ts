import { AppError } from '../errors.js';
import type { RedisClient } from '../lib/redis-client.js';
import type { RedisKeys } from '../lib/redis-keys.js';
import { loadRedisScript } from '../lib/redis-script.js';

/** Limits how fast one person can file requests. */
export interface SubmissionLimit {
  /**
   * Counts one submission and holds a slot among the person's open requests until `release` is
   * called (once the request is stored, or was not); throws AppError RATE_LIMITED, in words, when the
   * person has too many requests waiting (submitted or pending) or filed too many in the last minute.
   * Concurrent submissions cannot all slip through: the count and the hold are one script. A
   * submission that files several requests (a bundle's parts) holds `slots` of them.
   */
  take(userId: string, slots?: number): Promise<{ release(): Promise<void> }>;
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

/** A sliding one-minute window per person in Redis, shared by every bot process. */
export function createSubmissionLimit(
  redis: RedisClient,
  keys: RedisKeys,
  options: SubmissionLimitOptions = {},
): SubmissionLimit {
  const perMinute = options.perMinute ?? 10;
  const maxOpen = options.maxOpen ?? 20;
  const now = options.now ?? Date.now;
  const takeSubmission = loadRedisScript(import.meta.url, 'take-submission');
  const releaseSubmission = loadRedisScript(import.meta.url, 'release-submission');
  return {
    async take(userId, slots = 1) {
      const held = keys.submitHeld(userId);
      const [open, wait] = (await takeSubmission.run(
        redis,
        [keys.submitLimit(userId), keys.openIndex(userId), held],
        [now(), 60_000, perMinute, maxOpen, slots],
      )) as [number, number];
      if (wait < 0) {
        throw new AppError(
          'RATE_LIMITED',
          slots > 1
            ? `You have ${open} requests waiting for a decision and this files ${slots} more; Rolecall takes at most ${maxOpen} from one person. Cancel some (/atlas-access list) or wait for the approvers.`
            : `You have ${open} requests waiting for a decision, the most Rolecall takes from one person. Cancel some (/atlas-access list) or wait for the approvers.`,
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
          await releaseSubmission.run(redis, [held], [slots]);
        },
      };
    },
  };
}
