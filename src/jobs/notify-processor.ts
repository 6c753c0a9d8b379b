import { DelayedError, type Job, UnrecoverableError } from 'bullmq';
import { isAppError } from '../errors.js';
import type { Logger } from '../ops/logger.js';
import type { Lifecycle } from '../requests/lifecycle.js';
import type { AccessRequest } from '../requests/model.js';
import type { Notifier } from '../requests/ports.js';
import type { RequestReader } from '../requests/request-reader.js';
import type { NotifyJob } from './queues.js';

/**
 * Delivers notices. A Slack failure retries this job only, never the Atlas change behind it; a 429
 * waits exactly Slack's Retry-After without using up an attempt. The approval message is posted by the
 * `pending` notice and recorded on the request; when Slack will never take it (the bot is not in the
 * channel), the request is withdrawn and the requester told why. A crash between posting and recording
 * can post it twice (Slack has no idempotency key for chat.postMessage).
 */
export function createNotifyProcessor(deps: {
  store: Pick<RequestReader, 'get'>;
  lifecycle: Lifecycle;
  notifier: Notifier;
  logger: Logger;
}) {
  const withdraw = async (request: AccessRequest, why: string): Promise<void> => {
    await deps.lifecycle.withdrawn(request.id, ['pending'], why);
  };

  return async (job: Job<NotifyJob>, token?: string): Promise<{ done: string } | { skipped: string }> => {
    const { requestId, event, delivery, round } = job.data;
    const request = await deps.store.get(requestId);
    if (!request) return { skipped: 'request no longer stored' };
    try {
      const posted = await deps.notifier.deliver(request, event, delivery, round);
      if (posted) await deps.lifecycle.messagePosted(requestId, posted);
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
