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

// KEYS: review hash. ARGV: at, closer. Closes the review once and remembers who closed it, so the
// closer's retry knows it still owes the closing messages.
const CLOSE = defineRedisScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('HSETNX', KEYS[1], 'closedAt', ARGV[1]) == 1 then redis.call('HSET', KEYS[1], 'closedBy', ARGV[2]) end
if redis.call('HGET', KEYS[1], 'closedBy') == ARGV[2] then return 1 end
return 0
`);

/** What deciding a line did. */
export type DecideResult =
  | { readonly status: 'ok' | 'taken'; readonly decision: LineDecision }
  | { readonly status: 'closed' | 'missing' };

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
      return Number(await CLOSE.run(redis, [keys.review(id)], [String(at), closer])) === 1;
    },
    async discard(id) {
      const review = await get(id);
      if (!review) return;
      await redis
        .multi()
        .del(keys.review(id), keys.reviewDecisions(id))
        .zrem(keys.reviewsOf(review.target.kind, review.target.id), id)
        .exec();
    },
    async listFor(target, limit) {
      const ids = await redis.zrevrange(keys.reviewsOf(target.kind, target.id), 0, limit - 1);
      const found = await Promise.all(ids.map(get));
      return found.filter((r): r is AccessReview => r !== undefined);
    },
  };
}
