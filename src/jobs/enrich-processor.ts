import type { Job } from 'bullmq';
import { isAppError } from '../errors.js';
import type { LedgerStore } from '../grants/ledger-store.js';
import type { Logger } from '../ops/logger.js';
import { type Policy, requirementsOf, targetOf } from '../policy/policy.js';
import { type Assessment, assessRequest, type GranteeAccess } from '../requests/assess.js';
import type { AccessRequest } from '../requests/model.js';
import type { AccessReader, WorkQueue } from '../requests/request-service.js';
import type { RequestStore } from '../requests/request-store.js';
import type { ProcessorOutcome } from './processor-support.js';
import type { RequestJob } from './queues.js';

/** Dependencies of {@link createEnrichProcessor}. */
export interface EnrichDeps {
  /** The policy in force now (auto-approval rules). */
  readonly policy: () => Policy;
  /** How long a request may wait for a decision, in ms (REQUEST_TTL), from when it was made. */
  readonly requestTtlMs: number;
  readonly store: RequestStore;
  readonly ledgers: LedgerStore;
  readonly access: AccessReader;
  readonly workQueue: WorkQueue;
  readonly logger: Logger;
  readonly now?: () => number;
}

/**
 * The Atlas half of filing a request, in a worker (the Slack-facing process holds no Atlas key): reads
 * the grantee's access on the target and the ledger, then moves `submitted` -> `pending` (the approval
 * message is posted and the requester told, through notify jobs) or -> `refused` with the reason in
 * words. When Atlas stays unreachable past the job's attempts, the request goes ahead and the approval
 * message says the current roles are unknown, as before; the worker re-reads Atlas before any change.
 */
export function createEnrichProcessor(deps: EnrichDeps) {
  const now = deps.now ?? Date.now;

  const refuse = async (request: AccessRequest, code: string, message: string): Promise<ProcessorOutcome> => {
    const moved = await deps.store.transition(request.id, {
      from: 'submitted',
      to: 'refused',
      actor: 'system',
      detail: message,
      patch: { failure: { code, message, at: now() } },
    });
    if (!moved.ok) return { skipped: moved.current.state };
    await deps.workQueue.notify(moved.request, 'refused');
    deps.logger.info('request refused after reading Atlas', { requestId: request.id, code });
    return { done: 'refused' };
  };

  /**
   * A break-glass grant, or one whose every role a rule approves automatically, goes straight to
   * approved: actor the person (break-glass) or `policy`, the rule named in the audit, the policy
   * version kept. Everything else waits for approvers.
   */
  const decideWithoutApprovers = async (request: AccessRequest): Promise<AccessRequest | undefined> => {
    const policy = deps.policy();
    const target = targetOf(policy, request.target);
    if (!target) return undefined;
    const needs = requirementsOf(target, request.roles);
    if (!request.breakGlass && !needs.autoApprove) return undefined;
    const by = request.breakGlass ? request.requesterId : 'policy';
    const detail = request.breakGlass
      ? 'break-glass: granted at once, without a decision'
      : `approved by the policy: rule ${needs.rules.join(', ')} of ${target.name} (autoApprove)`;
    const approved = await deps.store.transition(request.id, {
      from: 'pending',
      to: 'approved',
      actor: by,
      detail,
      patch: { decision: { by, at: now(), note: detail } },
      policyVersion: policy.version,
    });
    return approved.ok ? approved.request : undefined;
  };

  /**
   * What follows `pending`: straight to approved (break-glass, auto-approval) and applied, or the
   * approvers' message and the expiry. Every job id is fixed, so a retry after a crash redoes it safely.
   */
  const settle = async (pending: AccessRequest): Promise<ProcessorOutcome> => {
    const decided = pending.approvals.length === 0 ? await decideWithoutApprovers(pending) : undefined;
    if (decided) {
      await deps.workQueue.apply(decided.id, decided.attempt);
      await deps.workQueue.notify(decided, 'pending');
      return { done: decided.breakGlass ? 'break-glass' : 'auto-approved' };
    }
    await deps.workQueue.expire(pending.id, pending.createdAt + deps.requestTtlMs);
    await deps.workQueue.notify(pending, 'pending');
    return { done: 'pending' };
  };

  return async (job: Job<RequestJob>): Promise<ProcessorOutcome> => {
    const request = await deps.store.get(job.data.requestId);
    if (!request) return { skipped: 'request no longer stored' };
    // Read already (a crash after the move to pending): finish what followed it.
    if (request.state === 'pending' && request.extends === null) return settle(request);
    if (request.state !== 'submitted') return { skipped: request.state };
    let access: GranteeAccess | null = null;
    try {
      access = await deps.access.read(request.granteeEmail, request.target);
    } catch (error) {
      if (!isAppError(error)) throw error;
      // About the person (no Atlas user, not in the organization): the request cannot go ahead.
      if (error.code === 'ATLAS_USER_NOT_FOUND' || error.code === 'ATLAS_NOT_A_MEMBER') {
        return refuse(request, error.code, error.message);
      }
      // About Rolecall or Atlas (an outage, refused credentials): not the requester's doing. After the
      // job's attempts it goes ahead with the roles unknown; the worker reads Atlas again before any
      // change, and approvers see that failure with a Retry button.
      if (error.retryable && job.attemptsMade + 1 < (job.opts.attempts ?? 1)) throw error;
      deps.logger.error('could not read current roles; the request goes ahead with them unknown', {
        requestId: request.id,
        error,
      });
    }
    let assessment: Assessment | { rolesAtRequest: null; holdersAtRequest: []; addsToProject: false } = {
      rolesAtRequest: null,
      holdersAtRequest: [],
      addsToProject: false,
    };
    if (access !== null) {
      try {
        assessment = assessRequest({
          granteeEmail: request.granteeEmail,
          target: request.target,
          roles: request.roles,
          durationSeconds: request.durationSeconds,
          access,
          ledger: await deps.ledgers.read(request.granteeEmail, request.target),
          now: now(),
        });
      } catch (error) {
        if (!isAppError(error)) throw error;
        return refuse(request, error.code, error.message);
      }
    }
    const moved = await deps.store.transition(request.id, {
      from: 'submitted',
      to: 'pending',
      actor: 'system',
      detail: access === null ? 'current roles unknown: Atlas could not be read' : 'checked against Atlas',
      patch: assessment,
    });
    if (!moved.ok) return { skipped: moved.current.state };
    return settle(moved.request);
  };
}
