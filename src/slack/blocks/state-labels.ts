import type { RequestState } from '../../requests/model.js';

/** A request's state in the words every message uses. */
export const STATE_LABELS: Record<RequestState, string> = {
  submitted: 'being checked',
  pending: 'waiting for approval',
  approved: 'approved, being applied',
  applying: 'approved, being applied',
  applied: 'active',
  revoking: 'ending',
  revoked: 'ended',
  denied: 'denied',
  expired: 'expired',
  cancelled: 'cancelled',
  refused: 'refused',
  failed: 'failed',
  revoke_failed: 'ending, retrying',
};
