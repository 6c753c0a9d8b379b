import type { Person } from '../access/actions.js';
import type { PolicyGate } from '../access/policy-gate.js';
import { AppError } from '../errors.js';
import type { Offboarding } from './model.js';
import { OFFBOARDED_MARK_MS, planTargets } from './model.js';
import type { OffboardingStore } from './offboarding-store.js';
import type { OffboardingQueue } from './ports.js';

/** Asking for and deciding offboardings, for the people in Slack. */
export interface OffboardingService {
  /** An offboarder asks to remove `email` from every target; the approvers are asked in the approvals channel. */
  ask(actor: Person, email: string, reason: string): Promise<Offboarding>;
  /**
   * An offboarding approver approves or denies, once; a second decision is REQUEST_STATE_CONFLICT
   * naming who decided. Never the person being removed nor the one who asked.
   */
  decide(id: string, approve: boolean, actor: Person): Promise<Offboarding>;
}

/** Dependencies of {@link createOffboardingService}. */
export interface OffboardingServiceDeps {
  readonly store: OffboardingStore;
  /** The decision point; its `require` records and throws every refusal. */
  readonly gate: PolicyGate;
  readonly offboardingQueue: OffboardingQueue;
  readonly now?: () => number;
}

/** Creates the offboarding service; every method asks the one decision point first. */
export function createOffboardingService(deps: OffboardingServiceDeps): OffboardingService {
  const now = deps.now ?? Date.now;
  // Fail closed: without an email Rolecall cannot tell whether the person is offboarding themselves.
  const own = (actor: Person, email: string) => {
    if (actor.email === null) {
      throw new AppError(
        'SLACK_USER_NO_EMAIL',
        'Slack does not show Rolecall your email address, so it cannot tell whether this offboarding concerns you. Ask another offboarder or approver.',
      );
    }
    return actor.email.toLowerCase() === email;
  };

  return {
    async ask(actor, email, reason) {
      const { policy } = await deps.gate.require('offboard', actor, {
        offboarding: { requesterId: null, own: own(actor, email) },
      });
      const offboarding = await deps.store.create({
        email,
        reason,
        requesterId: actor.id,
        createdAt: now(),
        channelId: policy.approvalsChannel,
      });
      await deps.offboardingQueue.show(offboarding.id);
      return offboarding;
    },

    async decide(id, approve, actor) {
      const current = await deps.store.require(id);
      const { policy } = await deps.gate.require('offboard-decide', actor, {
        offboarding: { id, requesterId: current.requesterId, own: own(actor, current.email) },
      });
      const result = await deps.store.decide(
        id,
        approve ? 'approved' : 'denied',
        { by: actor.id, at: now(), policy: policy.version },
        planTargets(policy.targets),
      );
      if (!result.ok) {
        throw new AppError('REQUEST_STATE_CONFLICT', `${id} was already ${result.offboarding.state}.`, {
          details: result.offboarding.decision ? { decidedBy: result.offboarding.decision.by } : {},
        });
      }
      if (approve) {
        // Before anything else: from now on no grant of theirs can be applied (the worker checks).
        await deps.store.markOffboarded(current.email, id, OFFBOARDED_MARK_MS);
        await deps.offboardingQueue.run(id);
      }
      await deps.offboardingQueue.show(id);
      return result.offboarding;
    },
  };
}
