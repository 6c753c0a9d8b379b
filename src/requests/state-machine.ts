import { AppError } from '../errors.js';
import type { AccessRequest, RequestState } from './model.js';

/**
 * The only moves a request can make. Every write to a request's state is a lifecycle move
 * (lifecycle.ts), one atomic script of the request writer that checks the current state against this table.
 *
 * | from          | to                                                        |
 * |---------------|-----------------------------------------------------------|
 * | submitted     | pending, refused, expired, cancelled                      |
 * | pending       | approved, denied, expired, cancelled                      |
 * | approved      | applying, cancelled (before its scheduled start)          |
 * | applying      | applied, failed, cancelled (the grantee was offboarded)   |
 * | applied       | revoking                                                  |
 * | revoking      | revoked, revoke_failed                                    |
 * | failed        | approved (an approver pressed Retry), cancelled (offboarded) |
 * | revoke_failed | revoking (the next try, or Retry)                         |
 *
 * `submitted`: stored by the Slack-facing process, waiting for a worker to read the grantee's Atlas
 * access; `refused`: that reading showed the request cannot go ahead (not a member, nothing to add).
 */
export const TRANSITIONS: Readonly<Record<RequestState, readonly RequestState[]>> = {
  submitted: ['pending', 'refused', 'expired', 'cancelled'],
  pending: ['approved', 'denied', 'expired', 'cancelled'],
  approved: ['applying', 'cancelled'],
  applying: ['applied', 'failed', 'cancelled'],
  applied: ['revoking'],
  revoking: ['revoked', 'revoke_failed'],
  failed: ['approved', 'cancelled'],
  revoke_failed: ['revoking'],
  revoked: [],
  denied: [],
  expired: [],
  cancelled: [],
  refused: [],
};

/** True when a request in `state` will not change any more. */
export function isFinal(state: RequestState): boolean {
  return TRANSITIONS[state].length === 0;
}

/** True when the table allows `from` -> `to`. */
export function canTransition(from: RequestState, to: RequestState): boolean {
  return TRANSITIONS[from].includes(to);
}

/** How each state reads: `label` in a message's status line, `after` following a request id in a refusal. */
export const STATE_WORDS: Readonly<Record<RequestState, { readonly label: string; readonly after: string }>> =
  {
    submitted: { label: 'being checked', after: 'is still being checked' },
    pending: { label: 'waiting for approval', after: 'is still pending' },
    approved: { label: 'approved, being applied', after: 'was already approved' },
    applying: { label: 'approved, being applied', after: 'was already approved and is being applied' },
    applied: { label: 'active', after: 'was already approved and applied' },
    revoking: { label: 'ending', after: 'was approved and is being revoked' },
    revoked: { label: 'ended', after: 'was approved and has since been revoked' },
    denied: { label: 'denied', after: 'was already denied' },
    expired: { label: 'expired', after: 'has expired' },
    cancelled: { label: 'cancelled', after: 'was cancelled' },
    refused: { label: 'refused', after: 'was refused' },
    failed: { label: 'failed', after: 'was approved but failed to apply' },
    revoke_failed: { label: 'ending, retrying', after: 'was approved; its revocation failed' },
  };

/** Explains why a request can no longer be decided on; `details.decidedBy` names who decided, if anyone. */
export function conflictError(request: AccessRequest): AppError {
  const aboutTheDecision = ['approved', 'applying', 'applied', 'denied'].includes(request.state);
  return new AppError('REQUEST_STATE_CONFLICT', `${request.id} ${STATE_WORDS[request.state].after}.`, {
    details: {
      state: request.state,
      ...(request.decision && aboutTheDecision ? { decidedBy: request.decision.by } : {}),
    },
  });
}
