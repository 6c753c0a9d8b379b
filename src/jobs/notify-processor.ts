import { DelayedError, type Job, UnrecoverableError } from 'bullmq';
import { isAppError } from '../errors.js';
import type { Logger } from '../ops/logger.js';
import type { AccessRequest } from '../requests/model.js';
import type { RequestEvent } from '../requests/request-service.js';
import type { RequestStore } from '../requests/request-store.js';
import type { Delivery, NotifyJob } from './queues.js';

/**
 * Posts one notice to Slack (implemented in slack/notifier.ts). Throws AppError: `retryable` false for
 * errors a retry cannot fix, `details.retryAfterMs` when Slack asked to wait.
 */
export interface Notifier {
  deliver(request: AccessRequest, event: RequestEvent, delivery: Delivery): Promise<void>;
}

/**
 * Delivers notices. A Slack failure retries this job only, never the Atlas change behind it; a 429
 * waits exactly Slack's Retry-After without using up an attempt.
 */
export function createNotifyProcessor(deps: { store: RequestStore; notifier: Notifier; logger: Logger }) {
  return async (job: Job<NotifyJob>, token?: string): Promise<{ done: string } | { skipped: string }> => {
    const { requestId, event, delivery } = job.data;
    const request = await deps.store.get(requestId);
    if (!request) return { skipped: 'request no longer stored' };
    try {
      await deps.notifier.deliver(request, event, delivery);
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
        throw new UnrecoverableError(error.message);
      }
      throw error;
    }
    deps.logger.debug('notice delivered', { requestId, event, delivery });
    return { done: `${event}:${delivery}` };
  };
}
