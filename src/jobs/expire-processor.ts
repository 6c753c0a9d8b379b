import type { Job } from 'bullmq';
import type { Logger } from '../ops/logger.js';
import type { Lifecycle } from '../requests/lifecycle.js';
import type { ProcessorOutcome } from './processor-support.js';
import type { RequestJob } from './queues.js';

/** Expires a request nobody decided on in time; a decided request is left alone. */
export function createExpireProcessor(deps: { lifecycle: Lifecycle; logger: Logger }) {
  return async (job: Job<RequestJob>): Promise<ProcessorOutcome> => {
    const { requestId } = job.data;
    const moved = await deps.lifecycle.expire(requestId);
    if (!moved.ok) return { skipped: moved.current.state };
    deps.logger.info('request expired', { requestId });
    return { done: 'expired' };
  };
}
