import { isActive, type Ledger } from '../grants/ledger.js';
import type { TargetRef } from '../lib/scope.js';

/**
 * Access reviews: who holds what on a target, and what no Rolecall grant explains. Pure model and
 * classification; no Redis, no Atlas, no Slack.
 */

/** One standing (person, role) an approver keeps or revokes. */
export interface ReviewLine {
  /** 1-based position in the review. */
  readonly n: number;
  readonly atlasUserId: string;
  /** Their Atlas username (an email), lower case. */
  readonly username: string;
  readonly role: string;
  /** Not one of the roles the policy lets people request on the target. */
  readonly outsidePolicy: boolean;
}

/** What an approver decided on a line, and, for a revocation, how it went. */
export interface LineDecision {
  readonly decision: 'keep' | 'revoke';
  readonly by: string;
  readonly at: number;
  /** The policy version it was decided under. */
  readonly policy: string;
  /** A revocation's result; absent while it runs (and for Keep). */
  readonly outcome?: 'revoked' | 'left' | 'gone' | 'failed';
  /** The outcome in words ("removed from the project: it was their last role"). */
  readonly detail?: string;
}

/** A review as stored. */
export interface AccessReview {
  /** `RV-` and digits. */
  readonly id: string;
  readonly target: TargetRef;
  /** A Slack user id, or `schedule`. */
  readonly startedBy: string;
  readonly createdAt: number;
  readonly policy: string;
  /** People on the target, roles held through active Rolecall grants, and standing roles. */
  readonly counts: { readonly people: number; readonly temporary: number; readonly standing: number };
  readonly lines: readonly ReviewLine[];
  /** The review's messages: the first in the channel, the rest in its thread (a chunk of lines each). */
  readonly messages: readonly { readonly channelId: string; readonly ts: string }[];
  readonly closedAt: number | null;
}

/** A member of the target and their roles there. */
export interface Member {
  readonly userId: string;
  readonly username: string;
  readonly roles: readonly string[];
}

/**
 * Sorts every (person, role) into held through an active Rolecall grant (temporary or permanent,
 * counted) or standing (a line: nothing in the ledger explains it), in a stable order.
 */
export function classifyMembers(
  requestable: readonly string[],
  members: readonly Member[],
  ledgers: ReadonlyMap<string, Ledger>,
  now: number,
): { lines: ReviewLine[]; counts: AccessReview['counts'] } {
  const lines: Omit<ReviewLine, 'n'>[] = [];
  let temporary = 0;
  for (const member of [...members].sort((a, b) => a.username.localeCompare(b.username))) {
    const ledger = ledgers.get(member.username);
    for (const role of [...member.roles].sort()) {
      const granted = ledger?.holders.some((h) => h.role === role && isActive(h, now)) ?? false;
      if (granted) {
        temporary += 1;
        continue;
      }
      lines.push({
        atlasUserId: member.userId,
        username: member.username,
        role,
        outsidePolicy: !requestable.includes(role),
      });
    }
  }
  return {
    lines: lines.map((line, i) => ({ ...line, n: i + 1 })),
    counts: { people: members.length, temporary, standing: lines.length },
  };
}

/** How many lines each review message carries: two blocks a line, within Slack's 50 per message. */
export const LINES_PER_MESSAGE = 20;

/** How many messages show the review: one per LINES_PER_MESSAGE lines, at least one. */
export function messageCountOf(review: Pick<AccessReview, 'lines'>): number {
  return Math.max(1, Math.ceil(review.lines.length / LINES_PER_MESSAGE));
}

/** Which of the review's messages shows line `n` (0 = the first, in the channel). */
export function messageIndexOf(n: number): number {
  return Math.floor((n - 1) / LINES_PER_MESSAGE);
}

/** Kept, revoked and failed lines, and those nobody decided yet. */
export function tally(
  review: AccessReview,
  decisions: ReadonlyMap<number, LineDecision>,
): { kept: number; revoked: number; failed: number; running: number; undecided: number } {
  let kept = 0;
  let revoked = 0;
  let failed = 0;
  let running = 0;
  for (const line of review.lines) {
    const d = decisions.get(line.n);
    if (!d) continue;
    if (d.decision === 'keep') kept += 1;
    else if (d.outcome === 'failed') failed += 1;
    else if (d.outcome === undefined) running += 1;
    else revoked += 1;
  }
  return { kept, revoked, failed, running, undecided: review.lines.length - decisions.size };
}

/** How close to now a scheduled run counts as due: a period change keeps it when it is. */
export const DUE_MARGIN_MS = 60_000;

/**
 * When a target's next scheduled review runs after its `review:` period changed from `previousEvery`
 * to `every` (ms): the last run plus the new period (the last run being `next - previousEvery`), or
 * now if that is already past. A run that is due (or nearly) stays due: changing the period neither
 * adds a review nor postpones one that is about to start.
 */
export function retimedNextRun(
  scheduled: { readonly next: number; readonly previousEvery: number },
  every: number,
  now: number,
): number {
  if (scheduled.next <= now + DUE_MARGIN_MS) return Math.max(scheduled.next, now);
  return Math.max(scheduled.next - scheduled.previousEvery + every, now);
}
