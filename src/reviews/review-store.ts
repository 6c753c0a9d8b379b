import type { AuditSink } from '../audit/audit-trail.js';
import { issueId, missingRecordError } from '../lib/ids.js';
import type { RedisClient } from '../lib/redis-client.js';
import type { RedisKeys } from '../lib/redis-keys.js';
import { defineRedisScript, luaJson } from '../lib/redis-script.js';
import type { AccessReview, LineDecision } from './model.js';

// KEYS: review hash, decisions hash, global audit stream. ARGV: line number, decision JSON, actor,
// decision word, policy version, at, review id. Records a decision once per line while
// the review is open, with its audit entry, in one step; a second click gets the first decision.
const DECIDE = defineRedisScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return {'missing', ''} end
if redis.call('HEXISTS', KEYS[1], 'closedAt') == 1 then return {'closed', ''} end
local existing = redis.call('HGET', KEYS[2], ARGV[1])
if existing then return {'taken', existing} end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('XADD', KEYS[3], '*', 'kind', 'review', 'review', ARGV[7], 'line', ARGV[1], 'actor', ARGV[3], 'at', ARGV[6], 'detail', ARGV[4], 'policy', ARGV[5])
return {'ok', ARGV[2]}
`);

// KEYS: decisions hash, global audit stream. ARGV: line, outcome JSON fields, review id, at.
// Sets a revocation's outcome once.
const OUTCOME = defineRedisScript(`
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return 0 end
local decision = cjson.decode(raw)
if decision.outcome then return 0 end
local outcome = cjson.decode(ARGV[2])
decision.outcome = outcome.outcome
decision.detail = outcome.detail
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(decision))
redis.call('XADD', KEYS[2], '*', 'kind', 'review', 'review', ARGV[3], 'line', ARGV[1], 'actor', 'system', 'at', ARGV[4], 'detail', outcome.outcome .. ': ' .. outcome.detail, 'policy', '')
return 1
`);

// KEYS: review hash, the target's open-review hash. ARGV: at, closer, review id. Closes the review
// once and remembers who closed it, so the closer's retry knows it still owes the closing messages;
// the target is free for its next review from the same moment.
const CLOSE = defineRedisScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('HSETNX', KEYS[1], 'closedAt', ARGV[1]) == 1 then redis.call('HSET', KEYS[1], 'closedBy', ARGV[2]) end
if redis.call('HGET', KEYS[2], 'review') == ARGV[3] then redis.call('DEL', KEYS[2]) end
if redis.call('HGET', KEYS[1], 'closedBy') == ARGV[2] then return 1 end
return 0
`);

// KEYS: the target's open-review hash. ARGV: token, startedBy, at, a stale token it may replace ('').
// One review per target at a time: the first claim wins, the same token again is its own (a retry),
// anyone else gets the holder back.
const CLAIM = defineRedisScript(`
local current = redis.call('HGET', KEYS[1], 'token')
if current == ARGV[1] then return {'ours'} end
if current and current ~= ARGV[4] then return {'held', unpack(redis.call('HGETALL', KEYS[1]))} end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'token', ARGV[1], 'startedBy', ARGV[2], 'at', ARGV[3])
return {'new'}
`);

// KEYS: the target's open-review hash. ARGV: token, review id, retention ms. The claim now names its review.
const ATTACH = defineRedisScript(`
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'review', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`);

// KEYS: the target's open-review hash. ARGV: field (token or review), value. Frees the target if
// the claim is still that one.
const RELEASE = defineRedisScript(`
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('DEL', KEYS[1]) end
return 0
`);

/** What deciding a line did. */
export type DecideResult =
  | { readonly status: 'ok' | 'taken'; readonly decision: LineDecision }
  | { readonly status: 'closed' | 'missing' };

/** Who holds a target's one review slot: a start under way (`reviewId` null until made) or an open review. */
export interface ReviewClaim {
  /** The start's id (its job id): a retry of the same start holds the same claim. */
  readonly token: string;
  readonly startedBy: string;
  readonly at: number;
  readonly reviewId: string | null;
}

/** What claiming a target's review slot did: `new` or `ours` (a retry) may go ahead. */
export type ClaimResult =
  | { readonly status: 'new' | 'ours' }
  | { readonly status: 'held'; readonly holder: ReviewClaim };

/** Access reviews in Redis: the review, one decision per line (written once), audit entries. */
export interface ReviewStore {
  /** Stores a new review and returns it with its id (`RV-0001`). */
  create(draft: Omit<AccessReview, 'id' | 'messages' | 'closedAt'>): Promise<AccessReview>;
  get(id: string): Promise<AccessReview | undefined>;
  /** Like get; a missing review is REQUEST_NOT_FOUND in words. */
  require(id: string): Promise<AccessReview>;
  decisions(id: string): Promise<Map<number, LineDecision>>;
  /** Records the first decision on a line while the review is open (audited); a later one gets it back. */
  decide(id: string, n: number, decision: LineDecision): Promise<DecideResult>;
  /** Sets a revocation's outcome, once. @returns false when it was set already. */
  recordOutcome(id: string, n: number, outcome: Pick<LineDecision, 'outcome' | 'detail'>): Promise<boolean>;
  setMessages(id: string, messages: AccessReview['messages']): Promise<void>;
  /**
   * Closes the review once. @returns true for `closer` (a job id) when it closed it, also on its
   * retries, so the closing messages are sent by exactly one job.
   */
  close(id: string, at: number, closer: string): Promise<boolean>;
  /** Forgets a review that never reached Slack (its first message could not be posted). */
  discard(id: string): Promise<void>;
  /** A target's most recent reviews, newest first. */
  listFor(target: AccessReview['target'], limit: number): Promise<AccessReview[]>;
  /**
   * Claims the target's one review slot for a start (atomic: of two claims at once, one wins). The
   * slot stays taken until the review closes, is discarded or the start releases it. `replacing`: a
   * holder's token the caller found stale (its start died), taken over only if it still holds it.
   */
  claim(
    target: AccessReview['target'],
    claim: Omit<ReviewClaim, 'reviewId'>,
    replacing?: string,
  ): Promise<ClaimResult>;
  /** Records which review the start holding the slot made (nothing if `token` no longer holds it). */
  attachClaim(target: AccessReview['target'], token: string, reviewId: string): Promise<void>;
  /** Frees the slot if `token` still holds it (a start that ended without an open review). */
  releaseClaim(target: AccessReview['target'], token: string): Promise<void>;
}

/** Reviews under one QUEUE_PREFIX; kept `retentionMs` (default 400 days: a year's audit and some). */
export function createReviewStore(
  redis: RedisClient,
  keys: RedisKeys,
  options: { readonly retentionMs?: number; readonly onAudit?: AuditSink } = {},
): ReviewStore {
  const retention = options.retentionMs ?? 400 * 24 * 3600 * 1000;
  // A hash: `data` (the review as made, JSON), `messages` (JSON), `closedAt` (ms, once closed).
  const get = async (id: string): Promise<AccessReview | undefined> => {
    const hash = await redis.hgetall(keys.review(id));
    if (hash.data === undefined) return undefined;
    return {
      ...(JSON.parse(hash.data) as Omit<AccessReview, 'messages' | 'closedAt'>),
      messages: hash.messages === undefined ? [] : (JSON.parse(hash.messages) as AccessReview['messages']),
      closedAt: hash.closedAt === undefined ? null : Number(hash.closedAt),
    };
  };
  return {
    async create(draft) {
      const id = await issueId(redis, 'RV', keys.reviewSeq);
      const review: AccessReview = { ...draft, id, messages: [], closedAt: null };
      await redis
        .multi()
        .hset(keys.review(id), 'data', JSON.stringify({ ...draft, id }))
        .pexpire(keys.review(id), retention)
        .zadd(keys.reviewsOf(draft.target.kind, draft.target.id), draft.createdAt, id)
        .exec();
      return review;
    },
    get,
    async require(id) {
      const review = await get(id);
      if (!review) throw missingRecordError(id);
      return review;
    },
    async decisions(id) {
      const all = await redis.hgetall(keys.reviewDecisions(id));
      return new Map(Object.entries(all).map(([n, raw]) => [Number(n), JSON.parse(raw) as LineDecision]));
    },
    async decide(id, n, decision) {
      const [status, raw] = (await DECIDE.run(
        redis,
        [keys.review(id), keys.reviewDecisions(id), keys.audit],
        [
          String(n),
          luaJson(decision),
          decision.by,
          decision.decision,
          decision.policy,
          String(decision.at),
          id,
        ],
      )) as [string, string];
      if (status === 'missing' || status === 'closed') return { status };
      if (status === 'ok') {
        await redis.pexpire(keys.reviewDecisions(id), retention);
        options.onAudit?.({
          kind: 'review',
          review: id,
          line: String(n),
          actor: decision.by,
          at: String(decision.at),
          detail: decision.decision,
          policy: decision.policy,
        });
      }
      return { status: status as 'ok' | 'taken', decision: JSON.parse(raw) as LineDecision };
    },
    async recordOutcome(id, n, outcome) {
      const at = String(Date.now());
      const done = await OUTCOME.run(
        redis,
        [keys.reviewDecisions(id), keys.audit],
        [String(n), luaJson(outcome), id, at],
      );
      if (Number(done) !== 1) return false;
      options.onAudit?.({
        kind: 'review',
        review: id,
        line: String(n),
        actor: 'system',
        at,
        detail: `${outcome.outcome}: ${outcome.detail}`,
        policy: '',
      });
      return true;
    },
    async setMessages(id, messages) {
      await redis.hset(keys.review(id), 'messages', JSON.stringify(messages));
    },
    async close(id, at, closer) {
      const review = await get(id);
      if (!review) return false;
      const open = keys.reviewOpen(review.target.kind, review.target.id);
      return Number(await CLOSE.run(redis, [keys.review(id), open], [String(at), closer, id])) === 1;
    },
    async discard(id) {
      const review = await get(id);
      if (!review) return;
      await redis
        .multi()
        .del(keys.review(id), keys.reviewDecisions(id))
        .zrem(keys.reviewsOf(review.target.kind, review.target.id), id)
        .exec();
      await RELEASE.run(redis, [keys.reviewOpen(review.target.kind, review.target.id)], ['review', id]);
    },
    async listFor(target, limit) {
      const ids = await redis.zrevrange(keys.reviewsOf(target.kind, target.id), 0, limit - 1);
      const found = await Promise.all(ids.map(get));
      return found.filter((r): r is AccessReview => r !== undefined);
    },
    async claim(target, claim, replacing) {
      const [status, ...fields] = (await CLAIM.run(
        redis,
        [keys.reviewOpen(target.kind, target.id)],
        [claim.token, claim.startedBy, String(claim.at), replacing ?? ''],
      )) as string[];
      if (status !== 'held') return { status: status === 'ours' ? 'ours' : 'new' };
      const hash = Object.fromEntries(
        Array.from({ length: fields.length / 2 }, (_, i) => [fields[2 * i], fields[2 * i + 1]]),
      ) as Record<string, string | undefined>;
      return {
        status: 'held',
        holder: {
          token: hash.token ?? '',
          startedBy: hash.startedBy ?? '',
          at: Number(hash.at ?? 0),
          reviewId: hash.review ?? null,
        },
      };
    },
    async attachClaim(target, token, reviewId) {
      await ATTACH.run(redis, [keys.reviewOpen(target.kind, target.id)], [token, reviewId, retention]);
    },
    async releaseClaim(target, token) {
      await RELEASE.run(redis, [keys.reviewOpen(target.kind, target.id)], ['token', token]);
    },
  };
}
