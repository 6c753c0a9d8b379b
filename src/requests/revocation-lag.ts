import type { AccessRequest } from './model.js';

/**
 * How long after its end a grant's roles were removed, in ms: `removedAt` (taken right after Atlas
 * answered) minus the end (an early end's time, else the grant's end); undefined for a grant that
 * had no end. Negative would mean removed early.
 */
export function revocationLagOf(
  request: Pick<AccessRequest, 'endedEarly' | 'grant'>,
  removedAt: number,
): number | undefined {
  const end = request.endedEarly?.at ?? request.grant?.revokeAt ?? null;
  return end === null ? undefined : removedAt - end;
}
