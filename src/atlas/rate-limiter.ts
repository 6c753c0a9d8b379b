import { randomBytes } from 'node:crypto';
import type { RedisClient } from '../lib/redis-client.js';
import { redisKeys } from '../lib/redis-keys.js';
import { loadRedisScript } from '../lib/redis-script.js';
import type { AtlasErrorBody } from './atlas-error.js';
import type { BucketConfig } from './atlas-options.js';
import { currentCallPriority } from './call-priority.js';

/** Which Atlas endpoint set and scope a call counts against (Atlas rate limits, token bucket per set x scope). */
export interface RateKey {
  /** e.g. `users-org:5f1a…`, `users-group:5f1a…`, `orgs-org:5f1a…`, `users-user`. */
  readonly key: string;
  readonly bucket: 'org' | 'project' | 'user';
}

/**
 * What Atlas said about the bucket an exchange counted against (NOTES.md section 9). Each field is
 * there only when Atlas said it.
 */
export interface AtlasRateWord {
  /** The bucket's capacity: `RateLimit-Limit`, or a 429's `capacity` parameter. */
  readonly limit?: number;
  /** Tokens left: `RateLimit-Remaining`. */
  readonly remaining?: number;
  /** A 429's `refillRate` tokens every `refillDurationSeconds`. */
  readonly refill?: { readonly tokens: number; readonly perSeconds: number };
  /** A 429 RATE_LIMITED_TOKEN_BUCKET: Atlas's bucket is empty. */
  readonly empty?: boolean;
}

/** Takes tokens before calls so a burst never exceeds the configured bucket. */
export interface RateLimiter {
  /**
   * Resolves when one token of `key` has been taken (waiting for the refill if needed), scheduled by
   * the caller's call priority (call-priority.ts) when tokens are short.
   */
  take(key: RateKey): Promise<void>;
  /** Sets the bucket of `key` from what Atlas said about its own after an exchange. */
  correct?(key: RateKey, word: AtlasRateWord): Promise<void>;
}

const ID = '[a-f0-9]{24}|[^/]+';

/**
 * Maps a path of any flavor (v2, v1.0, public v1.0) to its endpoint set and scope: the Teams set
 * (`/orgs/{id}/teams…`, `:addUser` / `:removeUser` included) per org (NOTES.md section 9: Teams,
 * ORGANIZATION scope) and a project's teams (`/groups/{id}/teams`) per project, org users endpoints
 * per org, project users endpoints per project, the organization and project themselves per org and
 * project, user endpoints per API principal. Each key is one bucket of Atlas's,
 * so what Atlas says about a call's bucket (its headers) is said about that key.
 */
export function rateKeyOf(path: string): RateKey {
  const orgTeams = new RegExp(`/orgs/(${ID})/teams`).exec(path);
  if (orgTeams) return { key: `teams-org:${orgTeams[1]}`, bucket: 'org' };
  const groupTeams = new RegExp(`/groups/(${ID})/teams`).exec(path);
  if (groupTeams) return { key: `teams-group:${groupTeams[1]}`, bucket: 'project' };
  const org = new RegExp(`/orgs/(${ID})/users`).exec(path);
  if (org) return { key: `users-org:${org[1]}`, bucket: 'org' };
  // Database users and the project IP access list: one bucket each per project (GROUP scope, like the
  // project sets of NOTES.md section 9, whose table does not list these two sets).
  const access = new RegExp(`/groups/(${ID})/(databaseUsers|accessList)`).exec(path);
  if (access) return { key: `${access[2]}-group:${access[1]}`, bucket: 'project' };
  const group = new RegExp(`/groups/(${ID})/users`).exec(path);
  if (group) return { key: `users-group:${group[1]}`, bucket: 'project' };
  const project = new RegExp(`/groups/(${ID})$`).exec(path);
  if (project) return { key: `projects-group:${project[1]}`, bucket: 'project' };
  const organization = new RegExp(`/orgs/(${ID})$`).exec(path);
  if (organization) return { key: `orgs-org:${organization[1]}`, bucket: 'org' };
  return { key: 'users-user', bucket: 'user' };
}

/** A whole number of tokens from a header (`100`, or the first item of a list such as `100, 100;w=60`). */
function countIn(header: string | string[] | undefined): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  const match = value === undefined ? null : /^\s*(\d+)\s*(?:[,;]|$)/.exec(value);
  return match ? Number(match[1]) : undefined;
}

function positive(value: unknown): number | undefined {
  const number = typeof value === 'string' && /^\d+(\.\d+)?$/.test(value) ? Number(value) : value;
  return typeof number === 'number' && Number.isFinite(number) && number > 0 ? number : undefined;
}

/**
 * What one exchange says about Atlas's bucket: `RateLimit-Limit` / `RateLimit-Remaining` when
 * present, and a 429 RATE_LIMITED_TOKEN_BUCKET's parameters `[path, retryAfterSeconds, capacity,
 * refillRate, refillDurationSeconds]`. Undefined when it said nothing (Atlas may leave the headers out).
 */
export function rateWordOf(
  status: number,
  headers: Readonly<Record<string, string | string[] | undefined>>,
  text: string,
): AtlasRateWord | undefined {
  let limit = countIn(headers['ratelimit-limit']);
  const remaining = countIn(headers['ratelimit-remaining']);
  let refill: AtlasRateWord['refill'];
  let empty = false;
  if (status === 429 && text !== '') {
    let body: AtlasErrorBody | undefined;
    try {
      body = JSON.parse(text) as AtlasErrorBody;
    } catch {
      body = undefined;
    }
    if (body?.errorCode === 'RATE_LIMITED_TOKEN_BUCKET') {
      empty = true;
      const [, , capacity, tokens, perSeconds] = body.parameters ?? [];
      const told = positive(capacity);
      if (told !== undefined) limit = Math.floor(told);
      const rate = positive(tokens);
      const duration = positive(perSeconds);
      if (rate !== undefined && duration !== undefined) refill = { tokens: rate, perSeconds: duration };
    }
  }
  if (limit === 0) limit = undefined;
  if (limit === undefined && remaining === undefined && refill === undefined && !empty) return undefined;
  return {
    ...(limit === undefined ? {} : { limit }),
    ...(remaining === undefined ? {} : { remaining }),
    ...(refill === undefined ? {} : { refill }),
    ...(empty ? { empty } : {}),
  };
}

/** Options of {@link createRedisRateLimiter}. */
export interface RateLimiterOptions {
  readonly buckets: {
    readonly org: BucketConfig;
    readonly project: BucketConfig;
    readonly user: BucketConfig;
  };
  /**
   * Share of capacity and refill kept unused, so network jitter between taking a token here and the
   * request reaching Atlas cannot empty Atlas's own bucket. Kept from what Atlas says too: its
   * `RateLimit-Remaining` minus this share of its `RateLimit-Limit`.
   * @defaultValue 0.1
   */
  readonly headroom?: number;
  /**
   * How long a normal call (call-priority.ts) may be put behind calls with an earlier deadline, from
   * its first try: its deadline. Revocations due before it still go first.
   * @defaultValue 20_000
   */
  readonly maxDeferMs?: number;
  /**
   * How long a waiter counts after its last try: a process that died while waiting blocks others
   * no longer than this. Waiters try again at least every third of it.
   * @defaultValue 5_000
   */
  readonly waiterTtlMs?: number;
  /**
   * A call's `onWait` (call-priority.ts) is told when it is about to wait longer than this for a token.
   * @defaultValue 2_000
   */
  readonly waitNoticeMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** The bucket actually enforced: the configured one minus the headroom. */
function effective(config: BucketConfig, headroom: number): { capacity: number; perMs: number } {
  return {
    capacity: Math.max(1, Math.floor(config.capacity * (1 - headroom))),
    perMs: (config.refillPerMinute * (1 - headroom)) / 60_000,
  };
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The script's answer: `[wait, deadline, name]`. */
function answerOf(reply: unknown): { wait: number; deadline: number; name: string } {
  const [wait, deadline, name] = Array.isArray(reply) ? reply : [];
  return { wait: Number(wait), deadline: Number(deadline), name: String(name) };
}

/**
 * A token bucket in Redis, shared by every worker process on the same prefix. When tokens are short,
 * callers take by earliest deadline (take-token.lua): a revocation's is its `due`, a normal call's its
 * first try plus `maxDeferMs`; so revocations past their end go first, earliest end first, and a
 * normal call waits about `maxDeferMs` plus the revocations due before its deadline at most.
 */
export function createRedisRateLimiter(
  redis: RedisClient,
  prefix: string,
  options: RateLimiterOptions,
): RateLimiter {
  const sleep = options.sleep ?? defaultSleep;
  const headroom = options.headroom ?? 0.1;
  const maxDeferMs = options.maxDeferMs ?? 20_000;
  const waiterTtlMs = options.waiterTtlMs ?? 5_000;
  const waitNoticeMs = options.waitNoticeMs ?? 2_000;
  const keys = redisKeys(prefix);
  const takeToken = loadRedisScript(import.meta.url, 'take-token');
  const leaveQueue = loadRedisScript(import.meta.url, 'leave-queue');
  const correctBucket = loadRedisScript(import.meta.url, 'correct-bucket');
  return {
    async take({ key, bucket }) {
      const { capacity, perMs } = effective(options.buckets[bucket], headroom);
      const priority = currentCallPriority();
      const bucketKeys = [keys.atlasRate(key), keys.atlasRateWaiters(key)];
      let name = randomBytes(8).toString('hex');
      let deadline: number | '' =
        priority.kind === 'revocation' && Number.isFinite(priority.due) ? Math.round(priority.due) : '';
      let waited = 0;
      let told = false;
      try {
        for (;;) {
          const answer = answerOf(
            await takeToken.run(redis, bucketKeys, [
              capacity,
              perMs,
              name,
              deadline,
              maxDeferMs,
              waiterTtlMs,
            ]),
          );
          if (!(answer.wait > 0)) return;
          deadline = answer.deadline;
          name = answer.name;
          if (!told && waited + answer.wait > waitNoticeMs) {
            told = true;
            try {
              priority.onWait?.(waited + answer.wait);
            } catch {
              // The notice is advice for the caller's logs and metrics: it must never fail the call.
            }
          }
          const pause = Math.min(answer.wait, Math.floor(waiterTtlMs / 3)) + Math.floor(Math.random() * 20);
          await sleep(pause);
          waited += pause;
        }
      } catch (error) {
        // Stop counting as a waiter now rather than blocking others until the expiry.
        await leaveQueue.run(redis, bucketKeys, [name]).catch(() => undefined);
        throw error;
      }
    },
    async correct({ key, bucket }, word) {
      const configured = options.buckets[bucket];
      const { capacity, perMs } = effective(configured, headroom);
      const told = word.limit === undefined ? '' : Math.max(1, Math.floor(word.limit * (1 - headroom)));
      const rate =
        word.refill === undefined
          ? ''
          : (word.refill.tokens * (1 - headroom)) / (word.refill.perSeconds * 1000);
      const reserve = headroom * (word.limit ?? configured.capacity);
      const tokens = word.empty
        ? 0
        : word.remaining === undefined
          ? ''
          : Math.max(0, word.remaining - reserve);
      await correctBucket.run(
        redis,
        [keys.atlasRate(key)],
        [capacity, perMs, told, rate, tokens, 2 * waiterTtlMs],
      );
    },
  };
}
