import type { Membership, Requirements } from '../policy/policy.js';
import type { AccessRequest, Decision } from './model.js';

/** What one Approve click makes of a request's approvals. */
export interface ApprovalCount {
  /** The clicker had approved already (and still counts). */
  readonly mine: boolean;
  /** The approvals that still count, before this click. */
  readonly counted: readonly Decision[];
  /** The approvals after this click. */
  readonly approvals: readonly Decision[];
  /** This click's approval (or the clicker's earlier one): the decision when it completes the request. */
  readonly approval: Decision;
  /** Enough approvals now (or an on-call approver approves alone). */
  readonly complete: boolean;
  /** For the audit entry: approval N of M, on call, approvals no longer counted. */
  readonly detail: string;
}

/**
 * Who still decides a request: neither its requester nor its grantee, and an approver of every item
 * under the policy in force (someone removed from the approvers, or their group, no longer counts).
 */
export function deciderCheck(
  request: Pick<AccessRequest, 'requesterId' | 'granteeId'>,
  needs: Pick<Requirements, 'approverLists'>,
  members: Membership,
): (userId: string) => boolean {
  return (userId) =>
    userId !== request.requesterId &&
    userId !== request.granteeId &&
    needs.approverLists.every((list) => members.includes(list, userId));
}

/**
 * Counts an approval by `actorId` among the approvals of people who still decide (`stillDecides`):
 * complete once there are `needed`, or at once when `alone` says an on-call approver approves alone.
 */
export function countApproval(
  request: Pick<AccessRequest, 'approvals'>,
  actorId: string,
  rule: {
    readonly needed: number;
    readonly stillDecides: (userId: string) => boolean;
    readonly alone: string | null;
  },
  at: number,
): ApprovalCount {
  const counted = request.approvals.filter((a) => rule.stillDecides(a.by));
  const dropped = request.approvals.filter((a) => !rule.stillDecides(a.by)).map((a) => a.by);
  const mine = counted.find((a) => a.by === actorId);
  const approval = mine ?? { by: actorId, at, note: null };
  const approvals = mine ? counted : [...counted, approval];
  const detail = [
    rule.alone ?? '',
    rule.alone === null && rule.needed > 1 ? `approval ${approvals.length} of ${rule.needed}` : '',
    dropped.length > 0 ? `no longer counted (not an approver now): ${dropped.join(', ')}` : '',
  ]
    .filter((part) => part !== '')
    .join('; ');
  return {
    mine: mine !== undefined,
    counted,
    approvals,
    approval,
    complete: rule.alone !== null || approvals.length >= rule.needed,
    detail,
  };
}
