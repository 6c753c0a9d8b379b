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
