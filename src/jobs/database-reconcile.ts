import type { AtlasDatabaseAccessApi } from '../atlas/database-access-api.js';
import { parseId } from '../lib/ids.js';
import type { Logger } from '../ops/logger.js';
import type { Policy } from '../policy/policy.js';
import type { AccessRequest } from '../requests/model.js';
import type { RequestReader } from '../requests/request-reader.js';

/** States in which a database grant may still hold its database user. */
const HOLDING = ['approved', 'applying', 'applied', 'revoking', 'revoke_failed'];

/** What {@link reconcileDatabaseUsers} reads and deletes with. */
export interface DatabaseReconcileDeps {
  readonly database: AtlasDatabaseAccessApi;
  readonly policy: () => Policy;
  readonly store: Pick<RequestReader, 'get'>;
  readonly logger: Logger;
}

/** What one pass found: database users of Rolecall's grants that outlived them, and those deleted. */
export interface DatabaseReconcileFindings {
  readonly outlived: number;
  readonly deleted: readonly string[];
}

/**
 * The safety net for database access: every database user Rolecall made (its description names the
 * grant: `Rolecall AR-…`) on the projects that offer database access must belong to a grant that may
 * still hold it, and not be past that grant's end by more than `graceMs`. One that outlived its grant
 * (a lost request record, a revocation that never ran) is deleted now; Atlas's deleteAfterDate would
 * have deleted it at the latest a week after it was made.
 */
export async function reconcileDatabaseUsers(
  deps: DatabaseReconcileDeps,
  at: number,
  graceMs: number,
): Promise<DatabaseReconcileFindings> {
  const deleted: string[] = [];
  let outlived = 0;
  for (const target of deps.policy().targets) {
    if (target.kind !== 'project' || !target.database) continue;
    const users = await deps.database.listUsers(target.id);
    for (const user of users) {
      const requestId = parseId('AR', /^Rolecall (AR-[0-9A-Z]+)/.exec(user.description ?? '')?.[1]);
      if (requestId === undefined) continue;
      const request = await deps.store.get(requestId);
      if (holdsStill(request, at - graceMs)) continue;
      outlived += 1;
      const gone = await deps.database.deleteUser(target.id, user.auth, user.username);
      if (gone.deleted) deleted.push(user.username);
      deps.logger.warn('a database user outlived its grant; deleted', {
        requestId,
        project: target.name,
        username: user.username,
        state: request?.state ?? 'not stored',
      });
    }
  }
  return { outlived, deleted };
}

/** Whether a request may still hold its database user at `cutoff`: a grant in force, or on its way. */
function holdsStill(request: AccessRequest | undefined, cutoff: number): boolean {
  if (!request || !HOLDING.includes(request.state)) return false;
  const end = request.endedEarly?.at ?? request.grant?.revokeAt ?? null;
  // Past its end, a revocation (or the reconciliation of grants) is on it: the user may wait for it.
  return end === null || end > cutoff || request.state !== 'applied';
}
