import { AppError, isAppError } from '../errors.js';
import type { Logger } from '../ops/logger.js';
import {
  checkDecider,
  checkRequestAllowed,
  findTarget,
  type Policy,
  type PolicyTarget,
} from '../policy/policy.js';
import type { AccessRequest, AuditEntry, RequestState, TargetRef } from './model.js';
import type { RequestLine } from './parse-command.js';
import type { RequestStore } from './request-store.js';
import { rolesToAdd } from './role-set.js';
import { isFinal } from './state-machine.js';

/** Something Slack should hear about a request; each is delivered once per attempt. */
export type RequestEvent =
  | 'approved'
  | 'denied'
  | 'applied'
  | 'failed'
  | 'revoked'
  | 'revoke_failed'
  | 'expired'
  | 'cancelled';

/** Reads a person's current Atlas roles on a target (implemented by the Atlas client). */
export interface RoleReader {
  /** The user's roles on the target; [] when they are not a member. Throws AppError. */
  currentRoles(email: string, target: TargetRef): Promise<readonly string[]>;
}

/** Queues background work (implemented with BullMQ); every call is idempotent for the same arguments. */
export interface WorkQueue {
  apply(requestId: string, attempt: number): Promise<void>;
  /** Revokes at `at` (ms since epoch), or now. */
  revoke(requestId: string, attempt: number, at?: number): Promise<void>;
  /** Expires the request at `at` if nobody has decided by then. */
  expire(requestId: string, at: number): Promise<void>;
  /** Tells Slack about `event`, for the request as it stands after the event. */
  notify(request: AccessRequest, event: RequestEvent): Promise<void>;
}

/** What a person submits, from the text form or the modal. */
export interface Submission extends RequestLine {
  readonly requesterId: string;
  readonly granteeId: string;
  readonly granteeEmail: string;
  readonly sourceChannelId: string | null;
}

/** Dependencies of {@link createRequestService}. */
export interface RequestServiceDeps {
  store: RequestStore;
  policy: () => Policy;
  roles: RoleReader;
  queue: WorkQueue;
  logger: Logger;
  /** How long a request may wait for a decision, in ms. */
  requestTtlMs: number;
  now?: () => number;
}

/** A person's view of the requests that concern them. */
export interface RequestOverview {
  /** Their own requests that are not finished yet. */
  readonly mine: readonly AccessRequest[];
  /** Pending requests on targets they approve, made by others. */
  readonly toDecide: readonly AccessRequest[];
}

/** The request workflow as the people in Slack see it. */
export interface RequestService {
  /** Checks a request against the policy without storing it; throws AppError saying what is wrong. */
  check(line: RequestLine): PolicyTarget;
  submit(submission: Submission): Promise<AccessRequest>;
  /** Records where the approval message was posted. */
  attachApprovalMessage(id: string, channelId: string, ts: string): Promise<void>;
  /** Withdraws a request that could not be shown to approvers. */
  abandon(id: string, why: string): Promise<void>;
  /** Throws unless `deciderId` may decide on the request now. */
  checkCanDecide(id: string, deciderId: string): Promise<AccessRequest>;
  approve(id: string, deciderId: string): Promise<AccessRequest>;
  deny(id: string, deciderId: string, reason: string): Promise<AccessRequest>;
  /** An approver runs a failed change (or revocation) again. */
  retry(id: string, deciderId: string): Promise<AccessRequest>;
  /** The requester withdraws a pending request. */
  cancel(id: string, userId: string): Promise<AccessRequest>;
  /** The request and its audit trail, for someone it concerns. */
  status(id: string, userId: string): Promise<{ request: AccessRequest; audit: AuditEntry[] }>;
  overview(userId: string): Promise<RequestOverview>;
}

/** Creates the request workflow service. */
export function createRequestService(deps: RequestServiceDeps): RequestService {
  const { store, queue, logger } = deps;
  const now = deps.now ?? Date.now;

  const targetOf = (request: AccessRequest): PolicyTarget => {
    const target = deps
      .policy()
      .targets.find((t) => t.id === request.target.id && t.scope === request.target.scope);
    if (!target) {
      throw new AppError(
        'TARGET_UNKNOWN',
        `${request.target.name} is no longer in the policy, so nobody can decide on ${request.id}.`,
      );
    }
    return target;
  };

  const check = (line: RequestLine): PolicyTarget => {
    const policy = deps.policy();
    const target = findTarget(policy, line.target);
    if (!target) {
      throw new AppError(
        'TARGET_UNKNOWN',
        `There is no target called ${line.target}. Known targets: ${policy.targets.map((t) => t.name).join(', ')}.`,
      );
    }
    if (target.scope !== line.scope) {
      const wanted = target.scope === 'org' ? 'organization roles (ORG_...)' : 'project roles (GROUP_...)';
      throw new AppError(
        'ROLE_INVALID',
        `${target.name} is ${target.scope === 'org' ? 'an organization' : 'a project'}: ask for ${wanted}.`,
      );
    }
    checkRequestAllowed(target, line.roles, line.durationSeconds);
    return target;
  };

  const checkCanDecide = async (id: string, deciderId: string): Promise<AccessRequest> => {
    const request = await store.require(id);
    if (request.state !== 'pending') throw conflictError(request);
    checkDecider(targetOf(request), deciderId, request);
    return request;
  };

  const decide = async (
    id: string,
    deciderId: string,
    to: 'approved' | 'denied',
    note: string | null,
  ): Promise<AccessRequest> => {
    await checkCanDecide(id, deciderId);
    const result = await store.transition(id, {
      from: 'pending',
      to,
      actor: deciderId,
      detail: note ?? '',
      patch: { decision: { by: deciderId, at: now(), note } },
    });
    if (!result.ok) throw conflictError(result.current);
    return result.request;
  };

  const concerns = (request: AccessRequest, userId: string): boolean => {
    if (request.requesterId === userId || request.granteeId === userId) return true;
    return deps.policy().targets.some((t) => t.id === request.target.id && t.approvers.includes(userId));
  };

  return {
    check,
    checkCanDecide,

    async submit(submission) {
      const target = check(submission);
      const ref: TargetRef = { name: target.name, scope: target.scope, id: target.id };
      let rolesAtRequest: readonly string[] | null = null;
      try {
        rolesAtRequest = await deps.roles.currentRoles(submission.granteeEmail, ref);
      } catch (error) {
        if (!isAppError(error) || !error.retryable) throw error;
        logger.warn('could not read current roles; the approval message will say so', {
          error,
          target: ref.name,
        });
      }
      if (rolesAtRequest !== null && rolesAtRequest.length === 0) {
        const kind = target.scope === 'org' ? 'organization' : 'project';
        throw new AppError(
          'ATLAS_NOT_A_MEMBER',
          `${submission.granteeEmail} is not a member of the ${kind} ${target.name} in Atlas. Ask an owner to invite them first, then request the roles again.`,
        );
      }
      if (rolesAtRequest !== null && rolesToAdd(rolesAtRequest, submission.roles).length === 0) {
        throw new AppError(
          'NOTHING_TO_GRANT',
          `${submission.granteeEmail} already has ${submission.roles.join(', ')} on ${target.name}; there is nothing to request.`,
        );
      }
      const request = await store.create(
        {
          requesterId: submission.requesterId,
          granteeId: submission.granteeId,
          granteeEmail: submission.granteeEmail,
          target: ref,
          roles: submission.roles,
          durationSeconds: submission.durationSeconds ?? null,
          reason: submission.reason,
          sourceChannelId: submission.sourceChannelId,
          rolesAtRequest,
        },
        submission.requesterId,
      );
      await queue.expire(request.id, request.createdAt + deps.requestTtlMs);
      return request;
    },

    async attachApprovalMessage(id, channelId, ts) {
      await store.patch(
        id,
        ['pending', 'approved', 'applying', 'applied', 'denied', 'expired', 'cancelled'],
        {
          approvalMessage: { channelId, ts },
        },
      );
    },

    async abandon(id, why) {
      await store.transition(id, { from: 'pending', to: 'cancelled', actor: 'system', detail: why });
    },

    async approve(id, deciderId) {
      const request = await decide(id, deciderId, 'approved', null);
      await queue.apply(id, request.attempt);
      await queue.notify(request, 'approved');
      return request;
    },

    async deny(id, deciderId, reason) {
      const request = await decide(id, deciderId, 'denied', reason);
      await queue.notify(request, 'denied');
      return request;
    },

    async retry(id, deciderId) {
      const request = await store.require(id);
      if (request.state !== 'failed' && request.state !== 'revoke_failed') {
        throw new AppError(
          'REQUEST_STATE_CONFLICT',
          `${request.id} ${STATE_WORDS[request.state]}; there is nothing to retry.`,
          {
            details: { state: request.state },
          },
        );
      }
      checkDecider(targetOf(request), deciderId, request);
      const attempt = request.attempt + 1;
      const to = request.state === 'failed' ? 'approved' : 'revoking';
      const result = await store.transition(id, {
        from: request.state,
        to,
        actor: deciderId,
        detail: `retry ${attempt}`,
        patch: { attempt, failure: null },
      });
      if (!result.ok) throw conflictError(result.current);
      if (to === 'approved') {
        await queue.apply(id, attempt);
        await queue.notify(result.request, 'approved');
      } else {
        await queue.revoke(id, attempt);
      }
      return result.request;
    },

    async cancel(id, userId) {
      const request = await store.require(id);
      if (request.requesterId !== userId && request.granteeId !== userId) {
        throw new AppError('NOT_ALLOWED', `Only the person who asked can cancel ${request.id}.`);
      }
      if (request.state !== 'pending') throw conflictError(request);
      const result = await store.transition(id, {
        from: 'pending',
        to: 'cancelled',
        actor: userId,
        detail: 'cancelled by the requester',
      });
      if (!result.ok) throw conflictError(result.current);
      await queue.notify(result.request, 'cancelled');
      return result.request;
    },

    async status(id, userId) {
      const request = await store.require(id);
      if (!concerns(request, userId)) {
        throw new AppError(
          'NOT_ALLOWED',
          `${request.id} is not yours to see: only its requester, its grantee and the approvers of its target can.`,
        );
      }
      return { request, audit: await store.audit(id) };
    },

    async overview(userId) {
      const mine = (await store.listByRequester(userId, 50)).filter(
        (r) => !isFinal(r.state) && !(r.state === 'applied' && r.grant?.revokeAt === null),
      );
      const approving = deps.policy().targets.filter((t) => t.approvers.includes(userId));
      const toDecide = (await store.listPending(approving.map((t) => t.id))).filter(
        (r) => r.requesterId !== userId && r.granteeId !== userId,
      );
      return { mine, toDecide };
    },
  };
}

const STATE_WORDS: Record<RequestState, string> = {
  pending: 'is still pending',
  approved: 'was already approved',
  applying: 'was already approved and is being applied',
  applied: 'was already approved and applied',
  revoking: 'was approved and is being revoked',
  revoked: 'was approved and has since been revoked',
  denied: 'was already denied',
  expired: 'has expired',
  cancelled: 'was cancelled',
  failed: 'was approved but failed to apply',
  revoke_failed: 'was approved; its revocation failed',
};

/** Explains why a request can no longer be decided on; `details.decidedBy` names who decided, if anyone. */
export function conflictError(request: AccessRequest): AppError {
  return new AppError('REQUEST_STATE_CONFLICT', `${request.id} ${STATE_WORDS[request.state]}.`, {
    details: { state: request.state, ...(request.decision ? { decidedBy: request.decision.by } : {}) },
  });
}
