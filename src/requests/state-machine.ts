import type { RequestState } from './model.js';

/**
 * The only moves a request can make. Every write to a request's state goes through the store's atomic
 * transition, which checks the current state against this table.
 *
 * | from          | to                                                        |
 * |---------------|-----------------------------------------------------------|
 * | submitted     | pending, refused, expired, cancelled                      |
 * | pending       | approved, denied, expired, cancelled                      |
 * | approved      | applying                                                  |
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
  approved: ['applying'],
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
