import { AppError, isAppError } from '../errors.js';
import type { LedgerStore } from '../grants/ledger-store.js';
import type { TargetRef } from '../lib/scope.js';
import type { Logger } from '../ops/logger.js';
import {
  checkDecider,
  checkRequestAllowed,
  findTarget,
  type Policy,
  type PolicyTarget,
} from '../policy/policy.js';
import { assessRequest, type GranteeAccess } from './assess.js';
import type { AccessRequest, AuditEntry, RequestState } from './model.js';
import type { RequestLine } from './parse-command.js';
import type { RequestStore } from './request-store.js';
import { isFinal } from './state-machine.js';

/** Something Slack should hear about a request; each is delivered once per attempt (and round). */
export type RequestEvent =
  | 'approved'
  | 'denied'
  | 'applied'
  | 'failed'
  | 'revoked'
  | 'revoke_failed'
  | 'expired'
  | 'cancelled'
  /** A role this request held was removed in Atlas by hand. */
  | 'drift'
  /** The grant ends soon (REMIND_BEFORE): Extend or End now. */
  | 'reminder'
  /** An extension request moved this grant's end. */
  | 'extended';

/** Reads a person's Atlas access on a target (implemented over the Atlas client). */
export interface AccessReader {
  /** Throws AppError: retryable when Atlas cannot be reached, else why the person cannot be found. */
  read(email: string, target: TargetRef): Promise<GranteeAccess>;
}

/** Queues background work (implemented with BullMQ); every call is idempotent for the same arguments. */
export interface WorkQueue {
  apply(requestId: string, attempt: number): Promise<void>;
  /**
   * Revokes at `at` (ms since epoch), or now. A revocation already scheduled for the same attempt is
   * moved (an extension, End now), never doubled.
   */
  revoke(requestId: string, attempt: number, at?: number): Promise<void>;
  /** Expires the request at `at` if nobody has decided by then. */
  expire(requestId: string, at: number): Promise<void>;
  /** Reminds the grantee REMIND_BEFORE ahead of `endsAt` (ms); nothing when that is already past or reminders are off. */
  remind(requestId: string, endsAt: number): Promise<void>;
  /** Drops the reminder for `endsAt`, if one is waiting. */
  forgetReminder(requestId: string, endsAt: number): Promise<void>;
  /** Tells Slack about `event`, for the request as it stands after it; `round` tells repeats of one event apart. */
  notify(request: AccessRequest, event: RequestEvent, round?: string): Promise<void>;
}

/** What a person submits, from the text form or the modal. */
export interface Submission extends RequestLine {
  readonly requesterId: string;
  readonly granteeId: string;
  readonly granteeEmail: string;
  readonly sourceChannelId: string | null;
}

/** What `/atlas-access extend` or the Extend modal asks for. */
export interface ExtensionAsk {
  /** The grant to extend. */
  readonly id: string;
  readonly actorId: string;
  /** How much later it should end, in seconds. */
  readonly durationSeconds: number;
  readonly reason: string;
  readonly sourceChannelId: string | null;
}

/** Dependencies of {@link createRequestService}. */
export interface RequestServiceDeps {
  store: RequestStore;
  ledgers: LedgerStore;
  policy: () => Policy;
  access: AccessReader;
  workQueue: WorkQueue;
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
  /** Files a request to make an active temporary grant end later, decided like a new request. */
  extend(ask: ExtensionAsk): Promise<AccessRequest>;
  /** Records where the approval message was posted. */
  attachApprovalMessage(id: string, channelId: string, ts: string): Promise<void>;
  /** Withdraws a request that could not be shown to approvers. */
  abandon(id: string, why: string): Promise<void>;
  /** Throws unless `deciderId` may decide on the request now. */
  checkCanDecide(id: string, deciderId: string): Promise<AccessRequest>;
  approve(id: string, deciderId: string): Promise<AccessRequest>;
  deny(id: string, deciderId: string, reason: string): Promise<AccessRequest>;
  /** An approver runs a failed change (or revocation) again, at once. */
  retry(id: string, deciderId: string): Promise<AccessRequest>;
  /** The requester withdraws a pending request. */
  cancel(id: string, userId: string): Promise<AccessRequest>;
  /** The grantee (End now) or an approver of the target (Revoke now) ends an active grant at once. */
  end(id: string, userId: string): Promise<AccessRequest>;
  /** The request and its audit trail, for someone it concerns. */
  status(id: string, userId: string): Promise<{ request: AccessRequest; audit: AuditEntry[] }>;
  overview(userId: string): Promise<RequestOverview>;
}

/** Creates the request workflow service. */
export function createRequestService(deps: RequestServiceDeps): RequestService {
  const { store, workQueue, logger } = deps;
  const now = deps.now ?? Date.now;

  const targetOf = (request: AccessRequest): PolicyTarget => {
    const target = deps
      .policy()
      .targets.find((t) => t.id === request.target.id && t.kind === request.target.kind);
    if (!target) {
      throw new AppError(
        'TARGET_UNKNOWN',
        `${request.target.name} is no longer in the policy, so nobody can decide on ${request.id}.`,
      );
    }
    return target;
  };

  const isApprover = (request: AccessRequest, userId: string): boolean =>
    deps.policy().targets.some((t) => t.id === request.target.id && t.approvers.includes(userId));

  const check = (line: RequestLine): PolicyTarget => {
    const policy = deps.policy();
    const target = findTarget(policy, line.target);
    if (!target) {
      throw new AppError(
        'TARGET_UNKNOWN',
        `There is no target called ${line.target}. Known targets: ${policy.targets.map((t) => t.name).join(', ')}.`,
      );
    }
    if (target.kind !== line.scope) {
      const wanted = target.kind === 'org' ? 'organization roles (ORG_...)' : 'project roles (GROUP_...)';
      throw new AppError(
        'ROLE_INVALID',
        `${target.name} is ${target.kind === 'org' ? 'an organization' : 'a project'}: ask for ${wanted}.`,
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

  const concerns = (request: AccessRequest, userId: string): boolean =>
    request.requesterId === userId || request.granteeId === userId || isApprover(request, userId);

  /** Reads the grantee's Atlas access and the ledger, and decides whether the request adds anything. */
  const assess = async (submission: Submission, ref: TargetRef) => {
    let access: GranteeAccess | null = null;
    try {
      access = await deps.access.read(submission.granteeEmail, ref);
    } catch (error) {
      if (!isAppError(error) || !error.retryable) throw error;
      logger.warn('could not read current roles; the approval message will say so', {
        error,
        target: ref.name,
      });
    }
    if (access === null) return { rolesAtRequest: null, holdersAtRequest: [], addsToProject: false };
    return assessRequest({
      granteeEmail: submission.granteeEmail,
      target: ref,
      roles: submission.roles,
      durationSeconds: submission.durationSeconds ?? null,
      access,
      ledger: await deps.ledgers.read(submission.granteeEmail, ref),
      now: now(),
    });
  };

  return {
    check,
    checkCanDecide,

    async submit(submission) {
      const target = check(submission);
      const ref: TargetRef = { name: target.name, kind: target.kind, id: target.id };
      const assessed = await assess(submission, ref);
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
          ...assessed,
          extends: null,
        },
        submission.requesterId,
      );
      await workQueue.expire(request.id, request.createdAt + deps.requestTtlMs);
      return request;
    },

    async extend(ask) {
      let original = await store.require(ask.id);
      if (original.extends !== null) original = await store.require(original.extends);
      if (ask.actorId !== original.granteeId && ask.actorId !== original.requesterId) {
        throw new AppError(
          'NOT_ALLOWED',
          `Only the person who holds ${original.id}, or who asked for it, can ask to extend it.`,
        );
      }
      const end = original.grant?.revokeAt ?? null;
      if (original.state !== 'applied' || original.endedEarly !== null) {
        throw new AppError(
          'REQUEST_STATE_CONFLICT',
          `${original.id} ${original.state === 'applied' ? 'is ending now' : STATE_WORDS[original.state]}; only an active temporary grant can be extended.`,
          { details: { state: original.state } },
        );
      }
      const held = original.grant?.held ?? [];
      if (end === null || held.length === 0) {
        throw new AppError(
          'NOTHING_TO_GRANT',
          `${original.id} ${held.length === 0 ? 'holds no role through Rolecall' : 'is permanent'}; there is nothing to extend.`,
        );
      }
      const target = targetOf(original);
      checkRequestAllowed(target, held, ask.durationSeconds);
      const request = await store.create(
        {
          requesterId: ask.actorId,
          granteeId: original.granteeId,
          granteeEmail: original.granteeEmail,
          target: original.target,
          roles: held,
          durationSeconds: ask.durationSeconds,
          reason: ask.reason,
          sourceChannelId: ask.sourceChannelId,
          rolesAtRequest: original.grant?.rolesAfter ?? null,
          holdersAtRequest: held.map((role) => ({ role, requestId: original.id, until: end })),
          addsToProject: false,
          extends: original.id,
        },
        ask.actorId,
      );
      await workQueue.expire(request.id, request.createdAt + deps.requestTtlMs);
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
      await store.transition(id, {
        from: 'pending',
        to: 'cancelled',
        actor: 'system',
        detail: why,
        patch: { decision: { by: 'system', at: now(), note: why } },
      });
    },

    async approve(id, deciderId) {
      const request = await decide(id, deciderId, 'approved', null);
      await workQueue.apply(id, request.attempt);
      await workQueue.notify(request, 'approved');
      return request;
    },

    async deny(id, deciderId, reason) {
      const request = await decide(id, deciderId, 'denied', reason);
      await workQueue.notify(request, 'denied');
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
      if (request.state === 'revoke_failed') {
        // The next try is already scheduled under this attempt: run it now instead of later, and
        // reset the escalation clock so the approver hears how it went. One click wins.
        const trouble = request.revokeTrouble;
        const running = new AppError(
          'REQUEST_STATE_CONFLICT',
          `A try of ${id}'s revocation is already running.`,
        );
        // A try that is due (pressed a moment ago, or its time came) is running: one at a time.
        if (trouble !== null && trouble.nextTryAt <= now()) throw running;
        const noted = await store.note(id, {
          whileIn: ['revoke_failed'],
          actor: deciderId,
          detail: 'retry of the revocation requested',
          expect: { revokeTrouble: trouble },
          patch: { revokeTrouble: trouble ? { ...trouble, escalatedAt: 0, nextTryAt: now() } : null },
        });
        if (!noted.ok) {
          if (noted.current.state === 'revoke_failed') throw running;
          throw new AppError('REQUEST_STATE_CONFLICT', `${id} ${STATE_WORDS[noted.current.state]}.`);
        }
        await workQueue.revoke(id, request.attempt);
        return noted.request;
      }
      const attempt = request.attempt + 1;
      const result = await store.transition(id, {
        from: 'failed',
        to: 'approved',
        actor: deciderId,
        detail: `retry ${attempt}`,
        patch: { attempt, failure: null },
      });
      if (!result.ok) throw conflictError(result.current);
      await workQueue.apply(id, attempt);
      await workQueue.notify(result.request, 'approved');
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
        detail: userId === request.requesterId ? 'cancelled by the requester' : 'cancelled by the grantee',
        patch: { decision: { by: userId, at: now(), note: null } },
      });
      if (!result.ok) throw conflictError(result.current);
      await workQueue.notify(result.request, 'cancelled');
      return result.request;
    },

    async end(id, userId) {
      let request = await store.require(id);
      if (request.extends !== null) request = await store.require(request.extends);
      if (request.granteeId !== userId && !isApprover(request, userId)) {
        throw new AppError(
          'NOT_ALLOWED',
          `Only the person who holds ${request.id}, or an approver of ${request.target.name}, can end it.`,
        );
      }
      if (request.state !== 'applied' || request.endedEarly !== null) {
        throw new AppError(
          'REQUEST_STATE_CONFLICT',
          `${request.id} ${request.state === 'applied' ? 'is already ending' : STATE_WORDS[request.state]}; there is nothing to end.`,
          { details: { state: request.state } },
        );
      }
      const grant = request.grant;
      if (grant === null || grant.held.length === 0) {
        throw new AppError(
          'NOTHING_TO_GRANT',
          `${request.id} holds no role through Rolecall; there is nothing to end.`,
        );
      }
      const at = now();
      const noted = await store.note(request.id, {
        whileIn: ['applied'],
        actor: userId,
        detail: userId === request.granteeId ? 'ended early by the grantee' : 'revoked early by an approver',
        expect: { grant, endedEarly: null },
        patch: { endedEarly: { by: userId, at }, grant: { ...grant, revokeAt: at } },
        // Only the ending index, so reconciliation catches a lost job; the holders change under the lock.
        ledger: {
          email: request.granteeEmail,
          target: request.target,
          ops: [],
          ending: { requestId: request.id, at },
        },
      });
      if (!noted.ok) {
        throw new AppError(
          'REQUEST_STATE_CONFLICT',
          `${request.id} ${noted.current.state === 'applied' ? 'is already ending' : STATE_WORDS[noted.current.state]}; there is nothing to end.`,
        );
      }
      await workQueue.revoke(request.id, request.attempt, at);
      if (grant.revokeAt !== null) await workQueue.forgetReminder(request.id, grant.revokeAt);
      return noted.request;
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
  const aboutTheDecision = ['approved', 'applying', 'applied', 'denied'].includes(request.state);
  return new AppError('REQUEST_STATE_CONFLICT', `${request.id} ${STATE_WORDS[request.state]}.`, {
    details: {
      state: request.state,
      ...(request.decision && aboutTheDecision ? { decidedBy: request.decision.by } : {}),
    },
  });
}
