import type { Job } from 'bullmq';
import type { Logger } from '../ops/logger.js';
import type { AccessRequest } from '../requests/model.js';
import type { RequestEvent } from '../requests/request-service.js';
import type { RequestStore } from '../requests/request-store.js';
import type { Delivery, NotifyJob } from './queues.js';

/** Posts one notice to Slack (implemented in slack/notifier.ts). Throws to ask for a retry. */
export interface Notifier {
  deliver(request: AccessRequest, event: RequestEvent, delivery: Delivery): Promise<void>;
}

/** Delivers notices; a Slack failure retries this job only, never the Atlas change behind it. */
export function createNotifyProcessor(deps: { store: RequestStore; notifier: Notifier; logger: Logger }) {
  return async (job: Job<NotifyJob>): Promise<{ done: string } | { skipped: string }> => {
    const { requestId, event, delivery } = job.data;
    const request = await deps.store.get(requestId);
    if (!request) return { skipped: 'request no longer stored' };
    await deps.notifier.deliver(request, event, delivery);
    deps.logger.debug('notice delivered', { requestId, event, delivery });
    return { done: `${event}:${delivery}` };
  };
}
