import { randomBytes } from 'node:crypto';
import { AppError } from '../errors.js';
import type { TargetRef } from '../lib/scope.js';
import type { AccessReview } from './model.js';
import type { ReviewQueue } from './ports.js';
import type { ReviewClaim, ReviewStore } from './review-store.js';

/**
 * What asking for a review of a target did: `started` (queued; it appears in the approvals channel),
 * `open` (a review of it is posted and not closed: that one is to be decided), or `starting` (another
 * start is under way, by `startedBy` since `since`; its review appears soon).
 */
export type ReviewStartOutcome<T extends TargetRef = TargetRef> =
  | { readonly status: 'started'; readonly target: T }
  | { readonly status: 'open'; readonly target: T; readonly review: AccessReview }
  | { readonly status: 'starting'; readonly target: T; readonly startedBy: string; readonly since: number };

/** What claiming a target's review slot for one start gave: go ahead, or the review in the way. */
export type ReviewClaimOutcome =
  | { readonly status: 'claimed' }
  | Exclude<ReviewStartOutcome, { status: 'started' }>;

/** Starts reviews so that a target never has two open or starting at once, whoever asks. */
export interface ReviewStarter {
  /**
   * Claims the target's review slot for the start `token` (a job id), atomically. A holder whose
   * start died (its job gone or failed, or its review closed or lost) is taken over. Used by the
   * review worker for every start it runs, the scheduled ones included.
   */
  claim(target: TargetRef, startedBy: string, token: string): Promise<ReviewClaimOutcome>;
  /** Starts a review of the target unless one is open or starting; says which happened. */
  start<T extends TargetRef>(target: T, startedBy: string): Promise<ReviewStartOutcome<T>>;
  /**
   * {@link start} for each target, one after another: for people (`review all`) and for Rolecall
   * itself (`startedBy: 'system'`, e.g. after it noticed it lost data).
   */
  startAll<T extends TargetRef>(targets: readonly T[], startedBy: string): Promise<ReviewStartOutcome<T>[]>;
}

/** Dependencies of {@link createReviewStarter}. */
export interface ReviewStarterDeps {
  readonly store: ReviewStore;
  readonly reviewQueue: ReviewQueue;
  readonly now?: () => number;
  /**
   * How long a fresh claim counts as under way before its job must exist (a claim is taken just
   * before its job is queued). @defaultValue 60 s
   */
  readonly graceMs?: number;
}

/** A start's id (its job id): unique per start, readable in BullMQ. */
export function newStartId(target: TargetRef, at: number): string {
  return `review-start-${target.kind}-${target.id}-${at}-${randomBytes(3).toString('hex')}`;
}

/** A review the approvers can work on now: posted (its first message exists) and not closed. */
export function isOpenReview(review: AccessReview | undefined): boolean {
  return review !== undefined && review.closedAt === null && review.messages.length > 0;
}

/** The review starter over the store's per-target slot and the review queue. */
export function createReviewStarter(deps: ReviewStarterDeps): ReviewStarter {
  const now = deps.now ?? Date.now;
  const graceMs = deps.graceMs ?? 60_000;

  /** The holder in words, or null when its start died and the slot may be taken over. */
  const judge = async (
    holder: ReviewClaim,
  ): Promise<
    | { readonly status: 'open'; readonly review: AccessReview }
    | { readonly status: 'starting'; readonly startedBy: string; readonly since: number }
    | null
  > => {
    const review = holder.reviewId === null ? undefined : await deps.store.get(holder.reviewId);
    if (review && isOpenReview(review)) return { status: 'open', review };
    // Its review closed or was lost (a closing review frees the slot itself; this is what is left
    // after lost data): nothing is under way.
    if (holder.reviewId !== null && (review === undefined || review.closedAt !== null)) return null;
    const alive = now() - holder.at < graceMs || (await deps.reviewQueue.isStarting(holder.token));
    return alive ? { status: 'starting', startedBy: holder.startedBy, since: holder.at } : null;
  };

  /** A review posted before the slot existed (an upgrade) or whose slot was lost: it holds the target. */
  const openWithoutClaim = async (target: TargetRef): Promise<AccessReview | undefined> =>
    (await deps.store.listFor(target, 5)).find(isOpenReview);

  const claim: ReviewStarter['claim'] = async (target, startedBy, token) => {
    let replacing: string | undefined;
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const result = await deps.store.claim(target, { token, startedBy, at: now() }, replacing);
      if (result.status === 'ours') return { status: 'claimed' };
      if (result.status !== 'held') {
        const open = await openWithoutClaim(target);
        if (!open) return { status: 'claimed' };
        await deps.store.attachClaim(target, token, open.id);
        return { status: 'open', target, review: open };
      }
      const held = await judge(result.holder);
      if (held) return { ...held, target };
      replacing = result.holder.token;
    }
    throw new AppError(
      'REQUEST_STATE_CONFLICT',
      `Several reviews of ${target.name} were being started at once; ask again in a moment.`,
      { retryable: true },
    );
  };

  const start = async <T extends TargetRef>(target: T, startedBy: string): Promise<ReviewStartOutcome<T>> => {
    const ref = { name: target.name, kind: target.kind, id: target.id };
    const token = newStartId(ref, now());
    const claimed = await claim(ref, startedBy, token);
    if (claimed.status !== 'claimed') return { ...claimed, target };
    try {
      await deps.reviewQueue.start(ref, startedBy, token);
    } catch (error) {
      await deps.store.releaseClaim(ref, token).catch(() => undefined);
      throw error;
    }
    return { status: 'started', target };
  };

  return {
    claim,
    start,
    async startAll(targets, startedBy) {
      const outcomes = [];
      for (const target of targets) outcomes.push(await start(target, startedBy));
      return outcomes;
    },
  };
}
