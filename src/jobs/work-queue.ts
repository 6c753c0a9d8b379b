import type { AccessRequest } from '../requests/model.js';
import type { RequestEvent, WorkQueue } from '../requests/request-service.js';
import type { Delivery, Queues } from './queues.js';

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
    case 'cancelled':
      return ['approval-message', 'thread'];
    case 'expired':
      return ['approval-message', 'thread', 'requester'];
    default:
      return ['approval-message', 'thread', ...people];
  }
}

/** Job ids of a request's work; the same work always gets the same id. */
export const jobIds = {
  apply: (requestId: string, attempt: number) => `apply-${requestId}-${attempt}`,
  revoke: (requestId: string, attempt: number) => `revoke-${requestId}-${attempt}`,
  expire: (requestId: string) => `expire-${requestId}`,
  notify: (requestId: string, attempt: number, event: RequestEvent, delivery: Delivery) =>
    `notify-${requestId}-${attempt}-${event}-${delivery}`,
};

/**
 * The request workflow's queue port on BullMQ. Job ids derive from the request id and attempt, so
 * adding the same work twice is a no-op while the first job is kept.
 */
export function createJobScheduler(queues: Queues): WorkQueue {
  return {
    async apply(requestId, attempt) {
      await queues.apply.add('apply', { requestId }, { jobId: jobIds.apply(requestId, attempt) });
    },
    async revoke(requestId, attempt, at) {
      await queues.revoke.add(
        'revoke',
        { requestId },
        { jobId: jobIds.revoke(requestId, attempt), delay: Math.max(0, (at ?? 0) - Date.now()) },
      );
    },
    async expire(requestId, at) {
      await queues.expire.add(
        'expire',
        { requestId },
        { jobId: jobIds.expire(requestId), delay: Math.max(0, at - Date.now()) },
      );
    },
    async notify(request, event) {
      await queues.notify.addBulk(
        deliveriesFor(event, request).map((delivery) => ({
          name: event,
          data: { requestId: request.id, event, delivery },
          opts: { jobId: jobIds.notify(request.id, request.attempt, event, delivery) },
        })),
      );
    },
  };
}
