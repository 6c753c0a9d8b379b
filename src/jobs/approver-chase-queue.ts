import type { Queue } from 'bullmq';
import { reminderSchedule } from '../policy/approver-chase.js';
import { type Policy, requirementsOf, targetOf } from '../policy/policy.js';
import type { ApproverChaseQueue } from '../requests/ports.js';
import { jobIds } from './job-ids.js';
import type { ApproversJob } from './queues.js';
import { removeIfDelayed } from './work-queue.js';

/**
 * The adapter of ApproverChaseQueue (requests/ports.ts) on the `approvers` queue: a pending request's
 * reminders at +N, +2N, +4N, +8N after it was made (`remindApprovers: N`) and its escalation at
 * +`after`, each under an id fixed per request and round. Reminders already past when it becomes
 * pending (a slow Atlas check) are skipped: the approvers were just told; the escalation never is.
 */
export function createApproverChaseQueue(
  queue: Queue<ApproversJob>,
  policy: () => Policy,
  now: () => number = Date.now,
): ApproverChaseQueue {
  const rounds = [1, 2, 3, 4];
  return {
    async start(request) {
      const target = targetOf(policy(), request.target);
      if (!target) return;
      const needs = requirementsOf(target, request.roles);
      const at = now();
      const reminders = reminderSchedule(request.createdAt, needs.remindApproversSeconds).filter(
        (r) => r.at > at,
      );
      const jobs: { name: string; data: ApproversJob; opts: { jobId: string; delay: number } }[] =
        reminders.map((r) => ({
          name: 'remind',
          data: { kind: 'remind', requestId: request.id, round: r.round },
          opts: { jobId: jobIds.approversRemind(request.id, r.round), delay: r.at - at },
        }));
      if (needs.escalation !== undefined) {
        const due = request.createdAt + needs.escalation.afterSeconds * 1000;
        jobs.push({
          name: 'escalate',
          data: { kind: 'escalate', requestId: request.id },
          opts: { jobId: jobIds.approversEscalate(request.id), delay: Math.max(0, due - at) },
        });
      }
      if (jobs.length > 0) await queue.addBulk(jobs);
    },
    async stop(requestId) {
      await Promise.all([
        ...rounds.map((round) => removeIfDelayed(queue, jobIds.approversRemind(requestId, round))),
        removeIfDelayed(queue, jobIds.approversEscalate(requestId)),
      ]);
    },
  };
}
