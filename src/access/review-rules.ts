import { decidersOf, type Membership, type Policy, requirementsOf, targetOf } from '../policy/policy.js';
import { type Action, type Actor, type ReviewSubject, refuse, type Verdict } from './actions.js';

/**
 * Reviews: a member who approves the target (its approvers or any rule's) may start one; a line is
 * decided by an approver of its role (the target's approvers for a role outside the policy), never by
 * the person whose access it is.
 */
export function authorizeReview(
  action: Action,
  actor: Actor,
  subject: ReviewSubject,
  policy: Policy,
  members: Membership,
): Verdict {
  const target = targetOf(policy, subject.review);
  if (!target) {
    return refuse('TARGET_UNKNOWN', `${subject.review.name} is no longer in the policy; its review is over.`);
  }
  const allowed: Verdict = { allowed: true, target };
  if (action === 'review') {
    const approves =
      members.includes(target.approvers, actor.id) ||
      target.rules.some((rule) => rule.approvers !== undefined && members.includes(rule.approvers, actor.id));
    return approves
      ? allowed
      : refuse(
          'NOT_AN_APPROVER',
          `Only the approvers of ${target.name} can review its access.`,
          target.approvers,
        );
  }
  if (action !== 'review-decide' || subject.role === undefined) {
    return refuse('INTERNAL', `${action} is not about a review line.`);
  }
  if (subject.own) {
    return refuse(
      'SELF_APPROVAL',
      `You can’t decide on your own access; another approver has to. If ${target.name} has no other, add one to its approvers in the policy: the review closes only when every line is decided.`,
    );
  }
  const lists = target.roles.includes(subject.role)
    ? requirementsOf(target, [subject.role]).approverLists
    : [target.approvers];
  return lists.every((list) => members.includes(list, actor.id))
    ? allowed
    : refuse(
        'NOT_AN_APPROVER',
        `Only the approvers of ${subject.role} on ${target.name} can keep or revoke it.`,
        decidersOf(policy, lists),
      );
}
