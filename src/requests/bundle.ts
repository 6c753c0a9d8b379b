import type { AccessRequest, RequestState } from './model.js';

/** States of a part that was approved as the bundle's decision (whatever became of its grant since). */
export const DECIDED_APPROVED: readonly RequestState[] = [
  'approved',
  'applying',
  'applied',
  'failed',
  'revoking',
  'revoked',
  'revoke_failed',
];

/** States of a part that stopped the bundle before any decision to approve it: the rest cannot go ahead. */
export const STOPPED_BEFORE_DECISION: readonly RequestState[] = ['denied', 'cancelled', 'expired', 'refused'];

/**
 * When every part of a temporary bundle ends: the instant the bundle was decided plus its duration,
 * the same for every part however late each is applied (or retried); null for anything else.
 */
export function bundleEndOf(
  request: Pick<AccessRequest, 'bundle' | 'decision' | 'durationSeconds'>,
): number | null {
  if (request.bundle === null || request.decision === null || request.durationSeconds === null) return null;
  return request.decision.at + request.durationSeconds * 1000;
}

/** The other parts' ids of the bundle `request` belongs to ([] for a request of its own). */
export function siblingIdsOf(request: Pick<AccessRequest, 'id' | 'bundle'>): string[] {
  return (request.bundle?.parts ?? []).map((p) => p.id).filter((id) => id !== request.id);
}
