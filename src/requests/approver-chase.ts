import { decidersOf, expandGroups, type Policy, requirementsAt, targetOf } from '../policy/policy.js';
import type { AccessRequest } from './model.js';

/** Who a reminder or a nudge of a pending request reaches, under the policy in force at `at`. */
export interface ApproversToTell {
  /** Who may decide it now (users, user groups), mentioned in its thread. */
  readonly deciders: readonly string[];
  /** The user ids among them, told by DM: never the requester, the grantee or someone who approved it. */
  readonly userIds: readonly string[];
}

/** User ids (`U…`, `W…`) among principals, without the request's parties and its approvers so far. */
function directlyTold(request: AccessRequest, principals: readonly string[]): string[] {
  const approved = new Set(request.approvals.map((a) => a.by));
  return [
    ...new Set(
      principals.filter(
        (p) => /^[UW]/.test(p) && p !== request.requesterId && p !== request.granteeId && !approved.has(p),
      ),
    ),
  ];
}

/**
 * The approvers a reminder or a nudge reaches: who may decide every requested role now (with the
 * fallback approvers once it is escalated); null when its target left the policy.
 */
export function approversToTell(policy: Policy, request: AccessRequest, at: number): ApproversToTell | null {
  const target = targetOf(policy, request.target);
  if (!target) return null;
  const deciders = decidersOf(policy, requirementsAt(target, request, at).approverLists);
  return { deciders, userIds: directlyTold(request, deciders) };
}

/** The fallback approvers an escalation reaches by DM (user ids, group names expanded). */
export function escalatedToTell(policy: Policy, request: AccessRequest, to: readonly string[]): string[] {
  return directlyTold(request, expandGroups(policy, to));
}
