import { DelayedError, type Job, UnrecoverableError } from 'bullmq';
import { isAppError } from '../errors.js';
import type { Logger } from '../ops/logger.js';
import type { AccessRequest, MessageRef, RequestState } from '../requests/model.js';
import type { RequestEvent, WorkQueue } from '../requests/request-service.js';
import type { RequestStore } from '../requests/request-store.js';
import type { Delivery, NotifyJob } from './queues.js';

/**
 * Posts one notice to Slack (implemented in slack/notifier.ts). Throws AppError: `retryable` false for
 * errors a retry cannot fix, `details.retryAfterMs` when Slack asked to wait.
 */
export interface Notifier {
  /** Posts or updates; returns the approval message when it was posted just now (event `pending`). */
  deliver(request: AccessRequest, event: RequestEvent, delivery: Delivery): Promise<MessageRef | undefined>;
}

/** Every state a request can be in while its approval message matters. */
const SHOWN: readonly RequestState[] = [
  'pending',
  'approved',
  'applying',
  'applied',
  'denied',
  'expired',
  'cancelled',
];

/**
 * Delivers notices. A Slack failure retries this job only, never the Atlas change behind it; a 429
 * waits exactly Slack's Retry-After without using up an attempt. The approval message is posted by the
 * `pending` notice and recorded on the request; when Slack will never take it (the bot is not in the
 * channel), the request is withdrawn and the requester told why. A crash between posting and recording
 * can post it twice (Slack has no idempotency key for chat.postMessage).
 */
export function createNotifyProcessor(deps: {
  store: RequestStore;
  notifier: Notifier;
  workQueue: WorkQueue;
  logger: Logger;
}) {
  const withdraw = async (request: AccessRequest, why: string): Promise<void> => {
    const moved = await deps.store.transition(request.id, {
      from: 'pending',
      to: 'cancelled',
      actor: 'system',
      detail: why,
      patch: { decision: { by: 'system', at: Date.now(), note: why } },
    });
    if (moved.ok) await deps.workQueue.notify(moved.request, 'cancelled');
  };

  return async (job: Job<NotifyJob>, token?: string): Promise<{ done: string } | { skipped: string }> => {
    const { requestId, event, delivery } = job.data;
    const request = await deps.store.get(requestId);
    if (!request) return { skipped: 'request no longer stored' };
    try {
      const posted = await deps.notifier.deliver(request, event, delivery);
      if (posted) await deps.store.patch(requestId, SHOWN, { approvalMessage: posted });
    } catch (error) {
      if (!isAppError(error)) throw error;
      const wait = error.details.retryAfterMs;
      if (typeof wait === 'number' && token !== undefined) {
        deps.logger.info('slack rate limited a notice; waiting', { requestId, event, delivery, wait });
        await job.moveToDelayed(Date.now() + wait, token);
        throw new DelayedError();
      }
      if (!error.retryable) {
        deps.logger.error('notice cannot be delivered', { requestId, event, delivery, error: error.message });
        if (event === 'pending' && delivery === 'approval-message' && request.approvalMessage === null) {
          const reason =
            typeof error.details.slackError === 'string' ? error.details.slackError : 'Slack error';
          await withdraw(
            request,
            `Rolecall could not post it in the approvals channel (${reason}); invite the Rolecall bot to that channel, or ask an admin to check the policy`,
          );
        }
        throw new UnrecoverableError(error.message);
      }
      throw error;
    }
    deps.logger.debug('notice delivered', { requestId, event, delivery });
    return { done: `${event}:${delivery}` };
  };
}
