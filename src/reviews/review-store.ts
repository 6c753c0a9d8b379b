import type { AuditSink } from '../audit/audit-trail.js';
import { createIdIssuer, missingRecordError } from '../lib/ids.js';
import type { RedisClient } from '../lib/redis-client.js';
import type { RedisKeys } from '../lib/redis-keys.js';
import { loadRedisScript, luaJson } from '../lib/redis-script.js';
import type { AccessReview, LineDecision } from './model.js';

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
  const issueId = createIdIssuer(redis);
  const decideLine = loadRedisScript(import.meta.url, 'decide-line');
  const recordOutcome = loadRedisScript(import.meta.url, 'record-outcome');
  const closeReview = loadRedisScript(import.meta.url, 'close-review');
  const claimReview = loadRedisScript(import.meta.url, 'claim-review');
  const attachClaim = loadRedisScript(import.meta.url, 'attach-claim');
  const releaseClaim = loadRedisScript(import.meta.url, 'release-claim');
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
      const id = await issueId('RV', keys.reviewSeq);
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
      const [status, raw] = (await decideLine.run(
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
      const done = await recordOutcome.run(
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
      return Number(await closeReview.run(redis, [keys.review(id), open], [String(at), closer, id])) === 1;
    },
    async discard(id) {
      const review = await get(id);
      if (!review) return;
      await redis
        .multi()
        .del(keys.review(id), keys.reviewDecisions(id))
        .zrem(keys.reviewsOf(review.target.kind, review.target.id), id)
        .exec();
      await releaseClaim.run(redis, [keys.reviewOpen(review.target.kind, review.target.id)], ['review', id]);
    },
    async listFor(target, limit) {
      const ids = await redis.zrevrange(keys.reviewsOf(target.kind, target.id), 0, limit - 1);
      const found = await Promise.all(ids.map(get));
      return found.filter((r): r is AccessReview => r !== undefined);
    },
    async claim(target, claim, replacing) {
      const [status, ...fields] = (await claimReview.run(
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
      await attachClaim.run(redis, [keys.reviewOpen(target.kind, target.id)], [token, reviewId, retention]);
    },
    async releaseClaim(target, token) {
      await releaseClaim.run(redis, [keys.reviewOpen(target.kind, target.id)], ['token', token]);
    },
  };
}
