import type { AtlasRolesApi } from '../atlas/roles-api.js';
import { trimAuditTrail } from '../audit/audit-trail.js';
import { rolesHeldBy } from '../grants/ledger.js';
import type { LedgerStore } from '../grants/ledger-store.js';
import type { RedisClient } from '../lib/redis-client.js';
import type { RedisKeys } from '../lib/redis-keys.js';
import type { Logger } from '../ops/logger.js';
import type { WorkQueue } from '../requests/ports.js';
import type { RequestReader } from '../requests/request-reader.js';
import { isFinal } from '../requests/state-machine.js';
import { type DatabaseReconcileDeps, reconcileDatabaseUsers } from './database-reconcile.js';
import { jobIds } from './job-ids.js';
import type { Queues } from './queues.js';
import { ensureJobRuns } from './work-queue.js';

/** Dependencies of {@link createReconcileProcessor}. */
export interface ReconcileDeps {
  readonly store: RequestReader;
  readonly ledgers: LedgerStore;
  readonly atlas: AtlasRolesApi;
  readonly queues: Queues;
  readonly workQueue: WorkQueue;
  readonly redis: RedisClient;
  readonly keys: RedisKeys;
  readonly logger: Logger;
  /** Database users (Atlas v2) and the policy's projects that offer them: none may outlive its grant. */
  readonly database?: Omit<DatabaseReconcileDeps, 'store' | 'logger'>;
  /**
   * A grant this long past its end, with no revocation running, counts as missed.
   * @defaultValue 60_000
   */
  readonly graceMs?: number;
  /**
   * Global audit entries older than this are trimmed on every run (AUDIT_RETENTION), in ms.
   * @defaultValue 400 days
   */
  readonly auditRetentionMs?: number;
  readonly now?: () => number;
}

/** What one reconciliation found; the same figures are added up in Redis (`stats:reconcile`). */
export interface ReconcileFindings {
  /** Holders past their end that were looked at. */
  readonly overdue: number;
  /** Of those, roles Atlas still has: access outliving its end. */
  readonly stillHeld: number;
  /** Revocations that had to be queued again. */
  readonly requeued: readonly string[];
  /** Index entries of requests that hold nothing any more, dropped. */
  readonly stale: number;
  /** Audit entries older than the retention, trimmed. */
  readonly auditTrimmed: number;
  /** Database users of Rolecall's grants found past their grant (and deleted). */
  readonly outlivedDatabaseUsers: number;
}

/**
 * The safety net for time-boxed access: compares every ledger holder past its end with Atlas and
 * queues the revocations that went missing (a deleted or lost job, a crash between steps). Findings
 * are logged and counted. It also trims the audit trail to its retention.
 */
export function createReconcileProcessor(deps: ReconcileDeps) {
  const graceMs = deps.graceMs ?? 60_000;
  const now = deps.now ?? Date.now;

  return async (): Promise<ReconcileFindings> => {
    const at = now();
    const ended = await deps.ledgers.listEnded(at - graceMs, 500);
    let stillHeld = 0;
    let stale = 0;
    const requeued: string[] = [];
    for (const { requestId, until } of ended) {
      const request = await deps.store.get(requestId);
      if (!request || isFinal(request.state)) {
        await deps.redis.zrem(deps.keys.grantsEnding, requestId);
        stale += 1;
        continue;
      }
      // A database grant's user is checked below, with every other database user Rolecall made.
      if (request.state === 'applied' && request.database === null) {
        const roles = rolesHeldBy(await deps.ledgers.read(request.granteeEmail, request.target), requestId);
        const current = await deps.atlas
          .readUser(request.granteeEmail, request.target)
          .then((user) => user.roles)
          .catch((error: unknown) => {
            deps.logger.warn('reconciliation could not read Atlas; queuing the revocation anyway', {
              requestId,
              error,
            });
            return roles;
          });
        const held = roles.filter((role) => current.includes(role));
        stillHeld += held.length;
        if (held.length > 0) {
          deps.logger.warn('grant past its end still held in Atlas', {
            requestId,
            roles: held,
            overdueMs: at - until,
          });
        }
      }
      // An applied grant past its end must be revoking by now; a failing revocation keeps its own schedule.
      const repaired = await ensureJobRuns(
        deps.queues.revoke,
        jobIds.revoke(request.id, request.attempt),
        () => deps.workQueue.revoke(request.id, request.attempt),
        { promoteDelayed: request.state === 'applied' },
      );
      if (repaired) requeued.push(requestId);
    }
    const auditTrimmed = await trimAuditTrail(
      deps.redis,
      deps.keys,
      deps.auditRetentionMs ?? 400 * 24 * 3600 * 1000,
      at,
    );
    const databaseUsers = deps.database
      ? await reconcileDatabaseUsers(
          { ...deps.database, store: deps.store, logger: deps.logger },
          at,
          graceMs,
        )
      : { outlived: 0, deleted: [] };
    const findings: ReconcileFindings = {
      overdue: ended.length,
      stillHeld,
      requeued,
      stale,
      auditTrimmed,
      outlivedDatabaseUsers: databaseUsers.outlived,
    };
    await deps.redis
      .multi()
      .hincrby(deps.keys.reconcileStats, 'runs', 1)
      .hincrby(deps.keys.reconcileStats, 'overdue', findings.overdue)
      .hincrby(deps.keys.reconcileStats, 'stillHeld', stillHeld)
      .hincrby(deps.keys.reconcileStats, 'requeued', requeued.length)
      .hincrby(deps.keys.reconcileStats, 'stale', stale)
      .exec();
    if (requeued.length > 0 || stale > 0 || databaseUsers.outlived > 0)
      deps.logger.warn('reconciliation repaired grants past their end', { ...findings });
    else deps.logger.debug('reconciliation found nothing to repair', { ...findings });
    return findings;
  };
}
