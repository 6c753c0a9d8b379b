import { AppError, isAppError } from '../errors.js';
import type { Logger } from '../ops/logger.js';
import {
  checkDecider,
  checkRequestAllowed,
  findTarget,
  type Policy,
  type PolicyTarget,
} from '../policy/policy.js';
import type { AccessRequest, RequestState, TargetRef } from './model.js';
import type { RequestLine } from './parse-command.js';
import type { RequestStore } from './request-store.js';
import { rolesToAdd } from './role-set.js';

/** Something Slack should hear about a request; each is delivered once. */
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

/** Queues background work (implemented with BullMQ). */
export interface WorkQueue {
  apply(requestId: string): Promise<void>;
  notify(requestId: string, event: RequestEvent): Promise<void>;
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
  now?: () => number;
}

/** The request workflow as the people in Slack see it: ask, approve, deny. */
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
  get(id: string): Promise<AccessRequest>;
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

  return {
    get: (id) => store.require(id),
    checkCanDecide,

    check,

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
      return store.create(
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
    },

    async attachApprovalMessage(id, channelId, ts) {
      await store.patch(id, ['pending', 'approved', 'applying', 'applied', 'denied'], {
        approvalMessage: { channelId, ts },
      });
    },

    async abandon(id, why) {
      await store.transition(id, { from: 'pending', to: 'cancelled', actor: 'system', detail: why });
    },

    async approve(id, deciderId) {
      const request = await decide(id, deciderId, 'approved', null);
      await queue.apply(id);
      await queue.notify(id, 'approved');
      return request;
    },

    async deny(id, deciderId, reason) {
      const request = await decide(id, deciderId, 'denied', reason);
      await queue.notify(id, 'denied');
      return request;
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
