import type { Job } from 'bullmq';
import type { Logger } from '../ops/logger.js';
import type { Lifecycle } from '../requests/lifecycle.js';
import type { RequestReader } from '../requests/request-reader.js';
import type { ProcessorOutcome } from './processor-support.js';
import type { RemindJob } from './queues.js';

/**
 * Sends the grantee a reminder before a grant ends, with Extend and End now. A reminder for an end
 * that no longer holds (the grant was extended, ended early or is gone) is dropped.
 */
export function createRemindProcessor(deps: {
  store: Pick<RequestReader, 'get'>;
  lifecycle: Lifecycle;
  logger: Logger;
}) {
  return async (job: Job<RemindJob>): Promise<ProcessorOutcome> => {
    const { requestId, endsAt } = job.data;
    const request = await deps.store.get(requestId);
    if (!request) return { skipped: 'request no longer stored' };
    if (request.state !== 'applied' || request.endedEarly !== null || request.grant?.revokeAt !== endsAt) {
      return { skipped: `the grant no longer ends then (${request.state})` };
    }
    await deps.lifecycle.remind(request, endsAt);
    deps.logger.info('reminder sent', { requestId, endsAt });
    return { done: 'reminded' };
  };
}
