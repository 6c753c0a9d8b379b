import { isAppError } from '../errors.js';
import type { Logger } from '../ops/logger.js';
import type { AccessRequest } from '../requests/model.js';
import type { WorkQueue } from '../requests/ports.js';
import type { Receipt, Receipts } from '../requests/receipts.js';
import type { RequestReader } from '../requests/request-reader.js';
import { decideBy } from '../requests/scheduled-start.js';
import { jobIds } from './job-ids.js';
import { EVENTS_MAX_LEN, type Queues } from './queues.js';
import { ensureJobRuns } from './work-queue.js';

/** A delivery younger than this is left alone even when its process looks gone (a heartbeat lasts 15 s). */
const RECEIPT_GRACE_MS = 5_000;

/** Options for {@link createSweepProcessor}. */
export interface SweepDeps {
  readonly store: RequestReader;
  readonly queues: Queues;
  readonly workQueue: WorkQueue;
  readonly logger: Logger;
  readonly requestTtlMs: number;
  /** What Slack delivered and was acknowledged; those whose process died are answered here. */
  readonly receipts?: Receipts;
  /** Tells the person what became of a delivery whose process died before its work was done. */
  readonly answerOrphaned?: (receipt: Receipt) => Promise<void>;
  /**
   * A request untouched for this long is checked for missing work.
   * @defaultValue 60_000
   */
  readonly graceMs?: number;
  readonly now?: () => number;
}

/**
 * The safety net behind "nothing lost" for requests in flight: finds requests that should be moving
 * but have no live job (a crash between a state change and queuing its job, a job that ended without
 * moving its request) and queues or retries that job. Grants past their end are reconciliation's
 * (reconcile-processor.ts). Every job id is deterministic, so this never duplicates work.
 */
export function createSweepProcessor(deps: SweepDeps) {
  const graceMs = deps.graceMs ?? 60_000;
  const now = deps.now ?? Date.now;

  const repair = (request: AccessRequest, at: number): Promise<boolean> => {
    const { queues, workQueue } = deps;
    switch (request.state) {
      case 'submitted':
        return at >= decideBy(request, deps.requestTtlMs)
          ? ensureJobRuns(queues.expire, jobIds.expire(request.id), () => workQueue.expire(request.id, at))
          : ensureJobRuns(queues.enrich, jobIds.enrich(request.id), () => workQueue.enrich(request.id));
      case 'pending':
        return at >= decideBy(request, deps.requestTtlMs)
          ? ensureJobRuns(queues.expire, jobIds.expire(request.id), () => workQueue.expire(request.id, at))
          : Promise.resolve(false);
      case 'approved':
      case 'applying':
        // A scheduled grant's job waits for its start (one run early defers itself to it).
        return ensureJobRuns(queues.apply, jobIds.apply(request.id, request.attempt), () =>
          workQueue.apply(request.id, request.attempt, request.startsAt ?? undefined),
        );
      case 'revoking':
        return ensureJobRuns(queues.revoke, jobIds.revoke(request.id, request.attempt), () =>
          workQueue.revoke(request.id, request.attempt),
        );
      case 'revoke_failed':
        return ensureJobRuns(queues.revoke, jobIds.revoke(request.id, request.attempt), () =>
          workQueue.revoke(request.id, request.attempt, request.revokeTrouble?.nextTryAt ?? at),
        );
      default:
        return Promise.resolve(false);
    }
  };

  /** Answers deliveries whose process died after acknowledging them; one given back is tried next time. */
  const answerOrphanedReceipts = async (at: number): Promise<number> => {
    const { receipts, answerOrphaned } = deps;
    if (!receipts || !answerOrphaned) return 0;
    const { orphaned, dropped } = await receipts.claimOrphaned(at - RECEIPT_GRACE_MS, 200);
    if (dropped > 0) {
      deps.logger.warn(
        'dropped receipts of a live process older than 15 minutes (only crossing them out failed)',
        {
          dropped,
        },
      );
    }
    let answered = 0;
    for (const receipt of orphaned) {
      try {
        await answerOrphaned(receipt);
        answered += 1;
      } catch (error) {
        // Slack says it never will (the person is gone, a DM refused): give up on this one.
        if (isAppError(error) && !error.retryable) {
          deps.logger.warn('a delivery whose process died cannot be answered; dropped', {
            receiptId: receipt.id,
            error,
          });
          continue;
        }
        deps.logger.warn('could not answer a delivery whose process died; trying again later', {
          receiptId: receipt.id,
          error,
        });
        await receipts.giveBack(receipt);
      }
    }
    if (orphaned.length > 0) {
      deps.logger.warn('answered deliveries whose process died before finishing them', {
        answered,
        kinds: orphaned.map((r) => r.kind),
      });
    }
    return answered;
  };

  return async (): Promise<{
    checked: number;
    repaired: string[];
    answered: number;
    eventsTrimmed: number;
  }> => {
    const at = now();
    const stale = await deps.store.listActive(at - graceMs, 500);
    const repaired: string[] = [];
    for (const request of stale) {
      if (await repair(request, at)) repaired.push(request.id);
    }
    if (repaired.length > 0) deps.logger.warn('sweeper queued missing work', { repaired });
    const answered = await answerOrphanedReceipts(at);
    // BullMQ's event streams grow past their cap in bursts (see EVENTS_MAX_LEN): bring them back.
    const trimmed = await Promise.all(deps.queues.all.map((queue) => queue.trimEvents(EVENTS_MAX_LEN)));
    return {
      checked: stale.length,
      repaired,
      answered,
      eventsTrimmed: trimmed.reduce((sum, n) => sum + n, 0),
    };
  };
}
