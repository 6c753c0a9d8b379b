import type { BundleRef } from './bundle-ref.js';
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

/** "bundle incident-responder (AR-1 GROUP_READ_ONLY on payments-prod; AR-2 ORG_READ_ONLY on acme)". */
export function describeBundle(bundle: BundleRef): string {
  const parts = bundle.parts.map((p) => `${p.id} ${p.items.join(', ')} on ${p.target}`);
  return `bundle ${bundle.name} (${parts.join('; ')})`;
}

/** The other parts' ids of the bundle `request` belongs to ([] for a request of its own). */
export function siblingIdsOf(request: Pick<AccessRequest, 'id' | 'bundle'>): string[] {
  return (request.bundle?.parts ?? []).map((p) => p.id).filter((id) => id !== request.id);
}
