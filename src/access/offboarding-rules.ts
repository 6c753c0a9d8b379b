import type { Membership, Policy, Principal } from '../policy/policy.js';
import { type Action, type Actor, type OffboardingSubject, refuse, type Verdict } from './actions.js';

/** Everyone who approves some target: who decides an offboarding when the policy names nobody. */
function allApprovers(policy: Policy): Principal[] {
  return [
    ...new Set(
      policy.targets.flatMap((t) => [...t.approvers, ...t.rules.flatMap((rule) => rule.approvers ?? [])]),
    ),
  ];
}

/** Who may ask to offboard someone (`offboarders`), and who decides (`offboardApprovers`). */
export function authorizeOffboarding(
  action: Action,
  actor: Actor,
  subject: OffboardingSubject['offboarding'],
  policy: Policy,
  members: Membership,
): Verdict {
  const allowed: Verdict = { allowed: true, target: null };
  if (action === 'offboard') {
    if (subject.own) return refuse('SELF_APPROVAL', 'You can’t offboard yourself.');
    return members.includes(policy.offboarders, actor.id)
      ? allowed
      : refuse(
          'NOT_ALLOWED',
          'Only the people the policy names under offboarders: can offboard someone.',
          policy.offboarders,
        );
  }
  if (action !== 'offboard-decide') return refuse('INTERNAL', `${action} is not about an offboarding.`);
  if (subject.own || actor.id === subject.requesterId) {
    return refuse(
      'SELF_APPROVAL',
      'You can’t decide on an offboarding that you asked for or that removes you.',
    );
  }
  const deciders = policy.offboardApprovers ?? allApprovers(policy);
  return members.includes(deciders, actor.id)
    ? allowed
    : refuse('NOT_AN_APPROVER', 'Only the offboarding approvers can decide on it.', deciders);
}
