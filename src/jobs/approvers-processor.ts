import { DelayedError, type Job } from 'bullmq';
import { formatDuration } from '../lib/duration.js';
import type { Logger } from '../ops/logger.js';
import { escalationDueAt, isEscalated, MAX_APPROVER_REMINDERS } from '../policy/approver-chase.js';
import { type Policy, requirementsOf, targetOf } from '../policy/policy.js';
import { approversToTell, escalatedToTell } from '../requests/approver-chase.js';
import type { Lifecycle } from '../requests/lifecycle.js';
import { approverDelivery } from '../requests/ports.js';
import type { RequestReader } from '../requests/request-reader.js';
import type { ProcessorOutcome } from './processor-support.js';
import type { ApproversJob } from './queues.js';

/**
 * Reminds the approvers of a request nobody has decided, or escalates it to its fallback approvers:
 * each job reads the request and the policy in force again and does nothing unless it still waits
 * (a decision, an expiry or a withdrawal stops them), then audits it and tells the thread and, by DM,
 * each approver who is a user id. An escalation that a policy reload put later waits, same job, for
 * its new time.
 */
export function createApproversProcessor(deps: {
  store: Pick<RequestReader, 'get'>;
  lifecycle: Lifecycle;
  policy: () => Policy;
  logger: Logger;
  now?: () => number;
}) {
  const now = deps.now ?? Date.now;
  return async (job: Job<ApproversJob>, token?: string): Promise<ProcessorOutcome> => {
    const data = job.data;
    const request = await deps.store.get(data.requestId);
    if (!request) return { skipped: 'request no longer stored' };
    if (request.state !== 'pending') return { skipped: `decided already (${request.state})` };
    const policy = deps.policy();
    const target = targetOf(policy, request.target);
    if (!target) return { skipped: 'its target left the policy' };
    const needs = requirementsOf(target, request.roles);
    const at = now();
    if (data.kind === 'remind') {
      const told = approversToTell(policy, request, at);
      if (needs.remindApproversSeconds === undefined || told === null) {
        return { skipped: 'the policy no longer reminds its approvers' };
      }
      const result = await deps.lifecycle.chased(
        request.id,
        {
          actor: 'system',
          detail: `reminded the approvers (reminder ${data.round} of ${MAX_APPROVER_REMINDERS}): ${told.deciders.join(', ')}`,
        },
        'approvers-reminded',
        String(data.round),
        told.userIds.map(approverDelivery),
      );
      if (!result.ok) return { skipped: `decided meanwhile (${result.current.state})` };
      deps.logger.info('approvers reminded', { requestId: request.id, round: data.round });
      return { done: `reminded ${data.round}` };
    }
    const escalation = needs.escalation;
    const due = escalationDueAt(request.createdAt, escalation);
    if (due !== undefined && at < due && token !== undefined) {
      // A reload made `after` longer since it was queued: the same job waits for the new time.
      deps.logger.info('escalation deferred: the policy escalates it later now', {
        requestId: request.id,
        due,
      });
      await job.moveToDelayed(due, token);
      throw new DelayedError();
    }
    if (escalation === undefined || !isEscalated(request, escalation, at)) {
      return { skipped: 'the policy does not escalate it now' };
    }
    const result = await deps.lifecycle.chased(
      request.id,
      {
        actor: 'system',
        detail: `escalated to ${escalation.to.join(', ')} after ${formatDuration(escalation.afterSeconds)} without a decision`,
      },
      'escalated',
      '1',
      escalatedToTell(policy, request, escalation.to).map(approverDelivery),
    );
    if (!result.ok) return { skipped: `decided meanwhile (${result.current.state})` };
    deps.logger.info('request escalated', { requestId: request.id });
    return { done: 'escalated' };
  };
}
