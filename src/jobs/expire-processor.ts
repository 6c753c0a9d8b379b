import type { Job } from 'bullmq';
import type { Logger } from '../ops/logger.js';
import type { WorkQueue } from '../requests/request-service.js';
import type { RequestStore } from '../requests/request-store.js';
import type { ProcessorOutcome } from './processor-support.js';
import type { RequestJob } from './queues.js';

/** Expires a request nobody decided on in time; a decided request is left alone. */
export function createExpireProcessor(deps: { store: RequestStore; workQueue: WorkQueue; logger: Logger }) {
  return async (job: Job<RequestJob>): Promise<ProcessorOutcome> => {
    const { requestId } = job.data;
    const moved = await deps.store.transition(requestId, {
      from: ['pending', 'submitted'],
      to: 'expired',
      actor: 'system',
      detail: 'nobody decided in time',
    });
    if (!moved.ok) {
      if (moved.current.state === 'expired') await deps.workQueue.notify(moved.current, 'expired');
      return { skipped: moved.current.state };
    }
    await deps.workQueue.notify(moved.request, 'expired');
    deps.logger.info('request expired', { requestId });
    return { done: 'expired' };
  };
}
