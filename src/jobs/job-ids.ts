import type { TargetRef } from '../lib/scope.js';
import type { Delivery, RequestEvent } from '../requests/ports.js';
import { newStartId } from '../reviews/review-starter.js';

/** `-round` when the notice belongs to a numbered round (an extension, an escalation), else nothing. */
function roundPart(round: string | undefined): string {
  return round === undefined ? '' : `-${round}`;
}

/**
 * Every BullMQ job id Rolecall gives, by queue. The same work always gets the same id, so adding it
 * twice is a no-op while the first job is kept (BullMQ ignores an add whose id exists). The ids are
 * stored with the jobs of a running deployment: changing one spelling here re-runs or loses work.
 */
export const jobIds = {
  enrich: (requestId: string) => `enrich-${requestId}`,
  apply: (requestId: string, attempt: number) => `apply-${requestId}-${attempt}`,
  revoke: (requestId: string, attempt: number) => `revoke-${requestId}-${attempt}`,
  expire: (requestId: string) => `expire-${requestId}`,
  remind: (requestId: string, endsAt: number) => `remind-${requestId}-${endsAt}`,
  /** Reminder `round` (1-4) to the approvers of a pending request. */
  approversRemind: (requestId: string, round: number) => `approvers-remind-${requestId}-${round}`,
  /** The escalation of a pending request to its fallback approvers. */
  approversEscalate: (requestId: string) => `approvers-escalate-${requestId}`,
  notify: (requestId: string, attempt: number, event: RequestEvent, delivery: Delivery, round?: string) =>
    `notify-${requestId}-${attempt}-${event}${roundPart(round)}-${delivery}`,
  /** The Home tab fan-out after a request's event. */
  homeFanout: (requestId: string, attempt: number, event: RequestEvent, round?: string) =>
    `home-${requestId}-${attempt}-${event}${roundPart(round)}`,
  /** One person's Home refresh in a one-second bucket (`Math.floor(ms / 1000)`): at most one a second. */
  homeUser: (userId: string, bucket: number) => `home-user-${userId}-${bucket}`,
  /**
   * A review's start: built by the review starter (reviews/review-starter.ts), which claims the
   * target's review slot with it before the job exists; unique per start.
   */
  reviewStart: newStartId,
  reviewRevoke: (reviewId: string, n: number) => `review-revoke-${reviewId}-${n}`,
  reviewDecided: (reviewId: string, n: number) => `review-decided-${reviewId}-${n}`,
  reviewOverdue: (reviewId: string) => `review-overdue-${reviewId}`,
  offboardRun: (offboardingId: string) => `offboard-run-${offboardingId}`,
  offboardTarget: (offboardingId: string, target: Pick<TargetRef, 'kind' | 'id'>) =>
    `offboard-target-${offboardingId}-${target.kind}-${target.id}`,
} as const;

/** What every review job scheduler's id starts with (no other scheduler's does). */
export const REVIEW_SCHEDULER_PREFIX = 'review-';

/** Ids of the BullMQ job schedulers (recurring jobs); like job ids, they are stored in Redis. */
export const schedulerIds = {
  sweep: 'sweep',
  reconcile: 'reconcile',
  /** A target's periodic review, on the review queue. */
  review: (target: Pick<TargetRef, 'kind' | 'id'>) => `${REVIEW_SCHEDULER_PREFIX}${target.kind}-${target.id}`,
} as const;
