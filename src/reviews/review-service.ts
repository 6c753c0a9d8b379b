import type { Actor, Person } from '../access/actions.js';
import type { PolicyGate } from '../access/policy-gate.js';
import type { RefusalLog } from '../access/refusal-log.js';
import { refuseUnknownTarget } from '../access/request-line.js';
import { AppError } from '../errors.js';
import { findTarget, type Policy, type PolicyTarget } from '../policy/policy.js';
import { type AccessReview, type LineDecision, offeredItem, type ReviewLine } from './model.js';
import type { ReviewQueue } from './ports.js';
import { createReviewStarter, type ReviewStartOutcome } from './review-starter.js';
import type { ReviewStore } from './review-store.js';

/** Starting reviews and deciding their lines, for the people in Slack. */
export interface ReviewService {
  /**
   * An approver of the target asks for a review now: started (it appears in the approvals channel),
   * or the review of it that is already open or being started.
   */
  start(actor: Actor, targetName: string): Promise<ReviewStartOutcome<PolicyTarget>>;
  /**
   * `review all`: a review of every target the actor approves, each started or pointing to the one
   * already open; `refused` are the targets they may not review. Refused when there is none they may.
   */
  startAll(actor: Actor): Promise<{ outcomes: ReviewStartOutcome<PolicyTarget>[]; refused: PolicyTarget[] }>;
  /**
   * Keeps or revokes one line, once: a second click (or another approver's) gets the first decision
   * back with `status: 'taken'`. Throws the refusal in words (not an approver of the role, your own
   * access), or REQUEST_STATE_CONFLICT when the review is closed.
   */
  decide(
    reviewId: string,
    n: number,
    decision: LineDecision['decision'],
    actor: Person,
  ): Promise<{ readonly line: ReviewLine; readonly decision: LineDecision; readonly status: 'ok' | 'taken' }>;
  /** The target's latest reviews and the next scheduled one, for an approver. */
  status(
    actor: Actor,
    targetName: string,
  ): Promise<{ target: PolicyTarget; reviews: AccessReview[]; nextDue: number | null }>;
}

/** Dependencies of {@link createReviewService}. */
export interface ReviewServiceDeps {
  readonly store: ReviewStore;
  /** The decision point; its `require` records and throws every refusal of a review action. */
  readonly gate: PolicyGate;
  /** For the one refusal the gate does not make: `review all` by someone who approves no target. */
  readonly refusals: RefusalLog;
  readonly reviewQueue: ReviewQueue;
  readonly now?: () => number;
}

/** Creates the review service; every method asks the one decision point first. */
export function createReviewService(deps: ReviewServiceDeps): ReviewService {
  const now = deps.now ?? Date.now;
  const starter = createReviewStarter({ store: deps.store, reviewQueue: deps.reviewQueue, now });

  const targetNamed = (policy: Policy, name: string) => {
    const target = findTarget(policy, name);
    if (!target) {
      const unknown = refuseUnknownTarget(policy, name);
      throw new AppError(unknown.code, unknown.reason);
    }
    return target;
  };

  /**
   * Revoking a role held through a team takes the person out of the team, which changes their access
   * across the organization: only where the policy's org target offers the team, and only by someone
   * who also approves that team there (refused through the gate, so it is recorded).
   */
  const requireTeamRemoval = async (
    policy: Policy,
    team: NonNullable<ReviewLine['team']>,
    actor: Person,
    own: boolean,
  ): Promise<void> => {
    const org = policy.targets.find((t) => t.kind === 'org' && t.id === team.orgId);
    const offered = offeredItem(org, team.item);
    if (!org || offered === undefined) {
      throw new AppError(
        'NOT_ALLOWED',
        `${team.item} is not offered on an organization target of the policy, so Rolecall does not change who is in it: ask an organization owner to remove the person from the team, and keep the line here.`,
      );
    }
    await deps.gate.require('review-decide', actor, { review: org, role: offered, own });
  };

  return {
    async start(actor, targetName) {
      const { policy } = await deps.gate.ask('list', actor, null);
      const target = targetNamed(policy, targetName);
      await deps.gate.require('review', actor, { review: target });
      return starter.start(target, actor.id);
    },

    async startAll(actor) {
      const { policy } = await deps.gate.ask('list', actor, null);
      const allowed: PolicyTarget[] = [];
      const refused: PolicyTarget[] = [];
      for (const target of policy.targets) {
        const { verdict } = await deps.gate.ask('review', actor, { review: target });
        (verdict.allowed ? allowed : refused).push(target);
      }
      if (allowed.length === 0) {
        const reason =
          'Only a target’s approvers can review its access, and you approve none of the targets.';
        await deps.refusals.record({
          action: 'review',
          actorId: actor.id,
          requestId: null,
          code: 'NOT_AN_APPROVER',
          reason,
        });
        throw new AppError('NOT_AN_APPROVER', reason, { details: { refused: 'review' } });
      }
      return { outcomes: await starter.startAll(allowed, actor.id), refused };
    },

    async decide(reviewId, n, decision, actor) {
      const review = await deps.store.require(reviewId);
      const line = review.lines.find((l) => l.n === n);
      if (!line) throw new AppError('REQUEST_NOT_FOUND', `${reviewId} has no line ${n}.`);
      if (actor.email === null) {
        // Fail closed: without an email Rolecall cannot tell whether the line is the actor's own access.
        throw new AppError(
          'SLACK_USER_NO_EMAIL',
          'Slack does not show Rolecall your email address, so it cannot tell whether this line is your own access. Ask another approver to decide it.',
        );
      }
      const own = actor.email.toLowerCase() === line.username;
      const { policy } = await deps.gate.require('review-decide', actor, {
        review: review.target,
        role: line.role,
        own,
      });
      if (line.team && decision === 'revoke') await requireTeamRemoval(policy, line.team, actor, own);
      const result = await deps.store.decide(reviewId, n, {
        decision,
        by: actor.id,
        at: now(),
        policy: policy.version,
      });
      if (!('decision' in result)) {
        throw new AppError(
          'REQUEST_STATE_CONFLICT',
          `${reviewId} is closed; its lines can no longer be decided.`,
        );
      }
      if (result.status === 'ok') {
        if (decision === 'revoke') await deps.reviewQueue.revokeLine(reviewId, n);
        await deps.reviewQueue.decided(reviewId, n);
      }
      return { line, decision: result.decision, status: result.status };
    },

    async status(actor, targetName) {
      const { policy } = await deps.gate.ask('list', actor, null);
      const target = targetNamed(policy, targetName);
      await deps.gate.require('review', actor, { review: target });
      return {
        target,
        reviews: await deps.store.listFor(target, 3),
        nextDue: await deps.reviewQueue.nextDue(target),
      };
    },
  };
}
