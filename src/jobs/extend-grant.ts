import { AppError } from '../errors.js';
import { rolesHeldBy } from '../grants/ledger.js';
import type { AccessRequest } from '../requests/model.js';
import type { ProcessorDeps, ProcessorOutcome } from './processor-support.js';

/**
 * The apply step of an extension request: moves the end of the grant it extends, atomically with
 * that grant's ledger, checked against the latest end its roles may have; then the extension is
 * applied (its own follow-ups are an applied grant's).
 */
export function createExtendGrant(
  deps: Pick<ProcessorDeps, 'store' | 'lifecycle' | 'ledgers' | 'logger' | 'now'>,
  /** Moves the end Atlas keeps itself (a database user's deleteAfterDate) of an extended grant. */
  extendInAtlas?: (grant: AccessRequest, to: number) => Promise<void>,
) {
  const { store, lifecycle, ledgers, logger } = deps;
  const now = deps.now ?? Date.now;
  return async (request: AccessRequest): Promise<ProcessorOutcome> => {
    const originalId = request.extends ?? '';
    let original = await store.require(originalId);
    let extension = original.extensions.find((e) => e.by === request.id);
    for (let round = 0; extension === undefined; round += 1) {
      const end = original.grant?.revokeAt ?? null;
      if (original.state !== 'applied' || end === null || original.endedEarly !== null || round > 3) {
        throw new AppError(
          'EXTENSION_TOO_LATE',
          `${original.id} ${original.endedEarly ? 'was ended early' : original.state === 'applied' ? 'is no longer temporary' : 'had already ended or was being revoked'}, so ${request.id} came too late. Ask for the access again.`,
        );
      }
      const to = end + (request.durationSeconds ?? 0) * 1000;
      // Checked against the end as it stands now, in the same optimistic write that moves it: two
      // extensions approved together cannot both fit under the bound.
      if (request.endsNoLaterThan !== null && to > request.endsNoLaterThan) {
        throw new AppError(
          'DURATION_INVALID',
          `${request.id} would make ${original.id} end at ${new Date(to).toISOString()}, past ${new Date(request.endsNoLaterThan).toISOString()}, the latest its roles may be held (maxDuration from when it was asked${original.extensions.length > 0 ? `; ${original.id} was extended since` : ''}). Ask again for less.`,
        );
      }
      const ledger = await ledgers.read(original.granteeEmail, original.target);
      const candidate = { by: request.id, of: original.id, from: end, to };
      const moved = await lifecycle.extend(original.id, {
        actor: 'system',
        detail: `extended by ${request.id}: now ends ${new Date(to).toISOString()} instead of ${new Date(end).toISOString()}`,
        expect: { grant: original.grant, endedEarly: null },
        patch: {
          grant: original.grant ? { ...original.grant, revokeAt: to } : null,
          extensions: [...original.extensions, candidate],
        },
        ledger: {
          email: original.granteeEmail,
          target: original.target,
          ops: rolesHeldBy(ledger, original.id).map((role) => ({
            op: 'hold' as const,
            role,
            requestId: original.id,
            until: to,
          })),
          ending: { requestId: original.id, at: to },
        },
      });
      original = moved.ok ? moved.request : moved.current;
      if (moved.ok) extension = candidate;
    }
    if (original.database !== null) {
      if (!extendInAtlas)
        throw new AppError(
          'ATLAS_REJECTED',
          `${original.id} is database access, which this Atlas API cannot extend.`,
        );
      // Done again on a retry: it sets the same end.
      await extendInAtlas(original, extension.to);
    }
    const done = await lifecycle.extensionApplied(request, original, extension, {
      actor: 'system',
      detail: `${original.id} now ends ${new Date(extension.to).toISOString()}`,
      patch: {
        extension,
        grant: {
          rolesAfter: original.grant?.rolesAfter ?? [],
          appliedAt: now(),
          revokeAt: null,
          held: [],
          joined: [],
          outside: [],
          addedToProject: false,
        },
      },
    });
    if (!done.ok) return { skipped: done.current.state };
    logger.info('grant extended', {
      requestId: original.id,
      by: request.id,
      from: extension.from,
      to: extension.to,
    });
    return { done: 'extended' };
  };
}
