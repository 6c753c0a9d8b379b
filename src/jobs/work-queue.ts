import type { AccessRequest } from '../requests/model.js';
import type { RequestEvent, WorkQueue } from '../requests/request-service.js';
import type { Delivery, Queues } from './queues.js';

/** The request workflow's queue port, plus what the worker itself schedules. */
export interface JobScheduler extends WorkQueue {
  /** Schedules the revocation of a temporary grant at `at` (ms since epoch). */
  revokeAt(requestId: string, at: number): Promise<void>;
}

/** Where each event is told. The approval message always shows the latest state. */
export function deliveriesFor(
  event: RequestEvent,
  request: Pick<AccessRequest, 'requesterId' | 'granteeId'>,
): Delivery[] {
  const people: Delivery[] =
    request.granteeId === request.requesterId ? ['requester'] : ['requester', 'grantee'];
  switch (event) {
    case 'approved':
      return ['approval-message'];
    case 'expired':
    case 'cancelled':
      return ['approval-message', 'requester'];
    default:
      return ['approval-message', 'thread', ...people];
  }
}

/**
 * Job ids derive from the request id, so adding the same work twice is a no-op while the first
 * job is kept (30 days after completion).
 */
export function createJobScheduler(
  queues: Queues,
  readRequest: (id: string) => Promise<AccessRequest>,
): JobScheduler {
  return {
    async apply(requestId) {
      await queues.apply.add('apply', { requestId }, { jobId: `apply-${requestId}` });
    },
    async revokeAt(requestId, at) {
      await queues.revoke.add(
        'revoke',
        { requestId },
        { jobId: `revoke-${requestId}`, delay: Math.max(0, at - Date.now()) },
      );
    },
    async notify(requestId, event) {
      const request = await readRequest(requestId);
      await queues.notify.addBulk(
        deliveriesFor(event, request).map((delivery) => ({
          name: event,
          data: { requestId, event, delivery },
          opts: { jobId: `notify-${requestId}-${event}-${delivery}` },
        })),
      );
    },
  };
}
