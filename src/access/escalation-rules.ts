import { formatDuration } from '../lib/duration.js';
import { escalationDueAt } from '../policy/approver-chase.js';
import type { Membership, Requirements } from '../policy/policy.js';
import type { AccessRequest } from '../requests/model.js';
import { type Refused, refuse } from './actions.js';

/**
 * A fallback approver (`escalate.to`) who clicks before the escalation: refused in words, with when
 * they may decide. Undefined when the actor is not one of them, or the request is escalated already.
 */
export function refuseBeforeEscalation(
  request: AccessRequest,
  requirements: Requirements,
  members: Membership,
  actorId: string,
  at: number,
): Refused | undefined {
  const escalation = requirements.escalation;
  const due = escalationDueAt(request.createdAt, escalation);
  if (escalation === undefined || due === undefined || at >= due || request.state !== 'pending') {
    return undefined;
  }
  if (!members.includes(escalation.to, actorId)) return undefined;
  return refuse(
    'NOT_AN_APPROVER',
    `You can’t decide on ${request.id} yet: it is escalated to you only if nobody decides it within ${formatDuration(escalation.afterSeconds)} of being asked, in ${formatDuration(Math.max(1, Math.ceil((due - at) / 1000)))}. Until then only the approvers of ${request.roles.join(', ')} on ${request.target.name} can.`,
  );
}
