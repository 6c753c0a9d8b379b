import {
  type Membership,
  type Policy,
  type PolicyTarget,
  type Principal,
  requirementsOf,
} from '../policy/policy.js';
import { type Action, type Actor, refuse, type Subject, type Verdict } from './actions.js';
import { authorizeBreakGlass, authorizeDraft } from './draft-rules.js';
import { refuseStanding } from './identity.js';
import { authorizeOffboarding } from './offboarding-rules.js';
import { authorizeRequest } from './request-rules.js';
import { authorizeReview } from './review-rules.js';

/**
 * The people lists `authorize` consults for an action on some roles of a target, so a caller resolves
 * only the Slack user groups that matter (usergroups.users.list is rate-limited).
 */
export function principalsFor(action: Action, target: PolicyTarget, roles: readonly string[]): Principal[] {
  const needs = requirementsOf(target, roles);
  // With the fallback approvers (escalate:), whose user groups an escalated decision needs resolved.
  const approvers = [...needs.approverLists.flat(), ...(needs.escalation?.to ?? [])];
  switch (action) {
    case 'request':
      return [...(target.requesters ?? []), ...(target.onBehalf ?? target.approvers)];
    case 'break-glass':
      return needs.breakGlassLists.flat();
    case 'approve':
    case 'retry':
    case 'extend':
      // The grantee is checked against `requesters` again before anything grants access.
      return [...approvers, ...(target.requesters ?? [])];
    default:
      return approvers;
  }
}

/**
 * The one decision point for who may do what, under the policy in force now and with Slack user
 * groups already resolved (`members`). Every Slack handler, the request service and the status and
 * list views ask it; it never looks at Redis, Atlas or Slack itself, so it is table-tested
 * exhaustively in milliseconds. Request states are not its business.
 *
 * - Full members of the bot's own workspace act; guests only where `requesters` names them by their
 *   own id (and only for their own requests); deactivated accounts, bots, people of other workspaces
 *   and people Slack could not be asked about never (identity.ts).
 * - `request`: a known target, roles it offers, a duration within what its rules allow; the person
 *   in `requesters` (default: every full member); for someone else, the asker in `onBehalf`
 *   (default: the approvers) and the grantee allowed to ask there too (draft-rules.ts).
 * - `break-glass`: the person in the `breakGlass` list of every requested role, with a duration.
 * - `approve`, `deny`, `retry`: an approver of every requested role (its rule's `approvers`, else
 *   the target's), never the requester or the grantee; `approve` and a `retry` of a failed grant
 *   re-check roles and duration. `acknowledge`: an approver of the target (request-rules.ts).
 * - `cancel`: the requester or the grantee ("Not me"). `end`: the grantee or an approver.
 *   `extend`: the grantee or the requester, within the current policy. `status`: the requester, the
 *   grantee or an approver. `view-roles`: the grantee or an approver. `list`: any member.
 * - `review`, `review-decide` (review-rules.ts); `offboard`, `offboard-decide` (offboarding-rules.ts).
 */
export function authorize(
  action: Action,
  actor: Actor,
  subject: Subject,
  policy: Policy,
  members: Membership,
): Verdict {
  const notAPerson = refuseStanding(action, actor);
  if (notAPerson) return notAPerson;
  if (subject === null) {
    return action === 'list'
      ? { allowed: true, target: null }
      : refuse('INTERNAL', `${action} needs a request.`);
  }
  if ('review' in subject) return authorizeReview(action, actor, subject, policy, members);
  if ('offboarding' in subject)
    return authorizeOffboarding(action, actor, subject.offboarding, policy, members);
  if ('draft' in subject) {
    if (action === 'request') return authorizeDraft(actor, subject.draft, subject.grantee, policy, members);
    if (action === 'break-glass') return authorizeBreakGlass(actor, subject.draft, policy, members);
    return refuse('INTERNAL', `${action} needs an existing request.`);
  }
  return authorizeRequest(action, actor, subject, policy, members);
}
