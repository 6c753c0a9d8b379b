import type { TargetRef } from '../lib/scope.js';

/**
 * Offboarding: removing a leaving person from every target of the policy with one approved request.
 * Pure model; no Redis, no Atlas, no Slack.
 */

/** Where an offboarding is: waiting for a decision, denied, or approved and then done. */
export type OffboardingState = 'pending' | 'denied' | 'approved' | 'done';

/** What happened on one target. */
export interface TargetOutcome {
  readonly target: TargetRef;
  /** Their roles there before removal; null when they were not a member. */
  readonly before: readonly string[] | null;
  readonly outcome: 'removed' | 'not a member' | 'refused' | 'failed';
  /** In words ("the organization's last owner: Atlas refuses to remove them"). */
  readonly detail: string;
}

/** A decision on an offboarding. */
export interface OffboardingDecision {
  readonly by: string;
  readonly at: number;
  readonly policy: string;
}

/** An offboarding as stored. */
export interface Offboarding {
  /** `OB-` and digits. */
  readonly id: string;
  /** The Atlas username (an email), lower case. */
  readonly email: string;
  readonly reason: string;
  readonly requesterId: string;
  readonly createdAt: number;
  readonly state: OffboardingState;
  readonly decision: OffboardingDecision | null;
  /** The approvals channel its message is in, and the message once posted. */
  readonly channelId: string;
  readonly message: { readonly channelId: string; readonly ts: string } | null;
  /** The targets it covers, fixed at approval (organizations first), and what happened on each. */
  readonly targets: readonly TargetRef[];
  readonly outcomes: readonly TargetOutcome[];
  /** Requests it cancelled and grants it ended. */
  readonly cancelled: readonly string[];
  readonly ended: readonly string[];
}

/**
 * How long an approved offboarding keeps the person from being granted anything, in ms: as long as
 * an old request of theirs can still be retried (requests are kept 90 days after they end).
 */
export const OFFBOARDED_MARK_MS = 90 * 24 * 3600 * 1000;

/** The targets to remove someone from: organizations first (a project of one goes with it), then projects. */
export function planTargets(targets: readonly TargetRef[]): TargetRef[] {
  return [...targets.filter((t) => t.kind === 'org'), ...targets.filter((t) => t.kind === 'project')].map(
    (t) => ({ name: t.name, kind: t.kind, id: t.id }),
  );
}
