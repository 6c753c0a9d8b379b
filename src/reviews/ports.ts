import type { TargetRef } from '../lib/scope.js';
import type { Principal } from '../policy/policy.js';
import type { AccessReview, LineDecision } from './model.js';

/** Where reviews are shown (implemented over the Slack Web API in slack/review-notifier.ts). */
export interface ReviewNotifier {
  /**
   * Posts message `index` of the review: the first in the target's approvals channel, the others in
   * its thread (`review.messages[0]`). @returns where it was posted.
   */
  post(
    review: AccessReview,
    decisions: ReadonlyMap<number, LineDecision>,
    index: number,
  ): Promise<AccessReview['messages'][number]>;
  /** Shows the decisions again on message `index` of the review. */
  update(review: AccessReview, decisions: ReadonlyMap<number, LineDecision>, index: number): Promise<void>;
  /** A reply in the review's thread; `approvers` are mentioned. */
  thread(review: AccessReview, text: string, approvers?: readonly Principal[]): Promise<void>;
  /** A direct message to the person whose access a line is, found by email; nothing if Slack does not know them. */
  tellPerson(email: string, text: string): Promise<void>;
  /** Says in the target's approvals channel that a review could not be started or posted. */
  startFailed(target: TargetRef, text: string): Promise<void>;
}

/** Background work of reviews (implemented with BullMQ in jobs/). */
export interface ReviewQueue {
  /**
   * Queues a start (job id `startId`, else a new one): it reads the target's members from Atlas and
   * posts the review. The worker claims the target's review slot under that id, so a start queued
   * while a review of the target is open or starting is skipped there; {@link ReviewStarter} claims
   * it before queuing, to tell the person asking which happened.
   */
  start(target: TargetRef, startedBy: string, startId?: string): Promise<void>;
  /** Whether the start `startId` is still queued or running (false once it finished, failed or vanished). */
  isStarting(startId: string): Promise<boolean>;
  /** Removes a line's role in Atlas (lock, plan, audit, outcome in the thread, DM to the person). */
  revokeLine(reviewId: string, n: number): Promise<void>;
  /** Shows a line's decision on the review message, and closes the review once everything is decided. */
  decided(reviewId: string, n: number): Promise<void>;
  /** When the target's next scheduled review runs (ms since epoch); null when it has no `review:`. */
  nextDue(target: TargetRef): Promise<number | null>;
}
