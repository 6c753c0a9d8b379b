import type { Job } from 'bullmq';
import { type BundleStepDeps, completeBundleDecision } from './bundle-parts.js';
import type { ProcessorOutcome } from './processor-support.js';
import type { RequestJob } from './queues.js';

/**
 * Expires a request nobody decided on in time; a decided request is left alone, and so is a part of a
 * bundle another part of which was approved (it is approved with that decision: all or nothing).
 */
export function createExpireProcessor(deps: BundleStepDeps) {
  return async (job: Job<RequestJob>): Promise<ProcessorOutcome> => {
    const { requestId } = job.data;
    const part = await deps.store.get(requestId);
    if (part && (await completeBundleDecision(deps, part))) return { done: 'approved with its bundle' };
    const moved = await deps.lifecycle.expire(requestId);
    if (!moved.ok) return { skipped: moved.current.state };
    deps.logger.info('request expired', { requestId });
    return { done: 'expired' };
  };
}
