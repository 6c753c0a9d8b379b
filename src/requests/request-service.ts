import type { Action, Actor, Subject } from '../access/actions.js';
import { authorize } from '../access/authorize.js';
import type { People, PolicyGate } from '../access/policy-gate.js';
import type { RefusalLog } from '../access/refusal-log.js';
import { AppError, isAppError } from '../errors.js';
import type { TargetRef } from '../lib/scope.js';
import type { Logger } from '../ops/logger.js';
import {
  autoApprovalNote,
  checkRequestAllowed,
  decidersOf,
  expandGroups,
  findTarget,
  type Membership,
  type Policy,
  type PolicyTarget,
  type Principal,
  type Requirements,
  requirementsOf,
} from '../policy/policy.js';
import type { GranteeAccess } from './assess.js';
import { endGrantNow } from './end-grant.js';
import type { ExtensionClaims } from './extension-claims.js';
import { type HomeData, listToDecide, readHome } from './home.js';
import type { AccessRequest, AuditEntry, RequestDraft, RequestPatch, RequestState } from './model.js';
import type { RequestLine } from './parse-command.js';
import type { RequestStore } from './request-store.js';
import { isFinal } from './state-machine.js';
import type { SubmissionLimit } from './submission-limit.js';

/** Something Slack should hear about a request; each is delivered once per attempt (and round). */
export type RequestEvent =
  /** Checked against Atlas and posted for approval (or, for an extension, posted at once). */
  | 'pending'
  /** Checked against Atlas and found unable to go ahead; the requester is told why. */
  | 'refused'
  | 'approved'
  | 'denied'
  | 'applied'
  | 'failed'
  | 'revoked'
  | 'revoke_failed'
  | 'expired'
  | 'cancelled'
  /** One approval of several needed: the approval message shows the progress. */
  | 'approval'
  /** An approver acknowledged a break-glass grant. */
  | 'acknowledged'
  /** A role this request held was removed in Atlas by hand. */
  | 'drift'
  /** The grant ends soon (REMIND_BEFORE): Extend or End now. */
  | 'reminder'
  /** An extension request moved this grant's end. */
  | 'extended';

/** Reads a person's Atlas access on a target (implemented over the Atlas client, in workers only). */
export interface AccessReader {
  /** Throws AppError: retryable when Atlas cannot be reached, else why the person cannot be found. */
  read(email: string, target: TargetRef): Promise<GranteeAccess>;
}

/** Queues background work (implemented with BullMQ); every call is idempotent for the same arguments. */
export interface WorkQueue {
  /** Reads the grantee's Atlas access for a submitted request, then posts it, refuses it, or approves it by policy. */
  enrich(requestId: string): Promise<void>;
  apply(requestId: string, attempt: number): Promise<void>;
  /**
   * Revokes at `at` (ms since epoch), or now. A revocation already scheduled for the same attempt is
   * moved (an extension, End now), never doubled.
   */
  revoke(requestId: string, attempt: number, at?: number): Promise<void>;
  /** Expires the request at `at` if nobody has decided by then. */
  expire(requestId: string, at: number): Promise<void>;
  /** Drops the expiry of a request that has been decided, if it still waits (it would find nothing to do). */
  forgetExpiry(requestId: string): Promise<void>;
  /** Reminds the grantee REMIND_BEFORE ahead of `endsAt` (ms); nothing when that is already past or reminders are off. */
  remind(requestId: string, endsAt: number): Promise<void>;
  /** Drops the reminder for `endsAt`, if one is waiting. */
  forgetReminder(requestId: string, endsAt: number): Promise<void>;
  /** Tells Slack about `event`, for the request as it stands after it; `round` tells repeats of one event apart. */
  notify(request: AccessRequest, event: RequestEvent, round?: string): Promise<void>;
}

/** Someone a request is for: who they are to Slack, and their Atlas username. */
export interface Grantee extends Actor {
  /** Lower case; null when Slack does not share it. */
  readonly email: string | null;
}

/** What a person submits, from the text form or the modal. */
export interface Submission {
  readonly line: RequestLine;
  readonly grantee: Grantee;
  readonly sourceChannelId: string | null;
  /** The response_url to answer through (slash command or form); null = by DM. */
  readonly replyUrl: string | null;
  /** Made by a Workflow Builder step: its function_execution_id, completed at the final decision. */
  readonly workflowExecutionId?: string;
  /** The receipt of the Slack delivery (requests/receipts.ts), crossed out when the request is stored. */
  readonly receiptId?: string;
}

/** What `/atlas-access extend` or the Extend modal asks for. */
export interface ExtensionAsk {
  /** The grant to extend (an extension's id stands for the grant it extends). */
  readonly id: string;
  /** How much later it should end, in seconds. */
  readonly durationSeconds: number;
  readonly reason: string;
  readonly sourceChannelId: string | null;
  readonly replyUrl: string | null;
  /** The receipt of the Slack delivery (requests/receipts.ts), crossed out when the request is stored. */
  readonly receiptId?: string;
}

/** Dependencies of {@link createRequestService}. */
export interface RequestServiceDeps {
  store: RequestStore;
  policy: () => Policy;
  /** The decision point under the policy in force, with user groups resolved. */
  gate: PolicyGate;
  /** Who a Slack user is now: the grantee is looked up again before anything grants them access. */
  people: People;
  workQueue: WorkQueue;
  refusals: RefusalLog;
  limit: SubmissionLimit;
  logger: Logger;
  /** How long a request may wait for a decision, in ms. */
  requestTtlMs: number;
  /** A person's roles on a target, for the request form. */
  currentRoles: CurrentRoles;
  /** One extension of a grant open at a time. */
  extensions: ExtensionClaims;
  now?: () => number;
}

/**
 * A person's current roles on a target, for the request form: read from Atlas where this process may
 * (bot and worker in one process), else the roles Rolecall holds for them (a bot holds no Atlas key).
 */
export interface CurrentRoles {
  /** Never throws: null when nothing could be read in time. */
  read(
    email: string,
    target: TargetRef,
  ): Promise<{ readonly roles: readonly string[]; readonly source: 'atlas' | 'rolecall' } | null>;
}

/** What the request form shows once a target (and roles) are chosen. */
export interface RequestGuide {
  readonly target: PolicyTarget;
  /** May the person ask here for someone else (`onBehalf`)? */
  readonly mayAskForOthers: boolean;
  /** What the chosen roles need (all of the target's roles when none are chosen yet). */
  readonly requirements: Requirements;
  /** Who can decide on all the chosen roles. */
  readonly deciders: readonly Principal[];
  readonly currentRoles: Awaited<ReturnType<CurrentRoles['read']>>;
}

/** A person's view of the requests that concern them. */
export interface RequestOverview {
  /** Their own requests that are not finished yet. */
  readonly mine: readonly AccessRequest[];
  /** Pending requests on targets they approve, made by others. */
  readonly toDecide: readonly AccessRequest[];
}

/**
 * The request workflow as the people in Slack see it. Every method takes the acting person and asks
 * the one decision point ({@link authorize}) first, under the policy in force now; a refusal is
 * recorded (audit stream, counter, log) and thrown as an AppError in words. Nothing here calls Atlas.
 */
export interface RequestService {
  /** Checks a request line against the policy without storing it (form field errors). */
  check(line: RequestLine): PolicyTarget;
  /**
   * What the request form shows for a target and the roles chosen so far; throws TARGET_UNKNOWN, or
   * the refusal when the person may not ask there at all.
   */
  guide(actor: Grantee, targetName: string, roles: readonly string[]): Promise<RequestGuide>;
  /** Stores a request as `submitted` and queues the Atlas reading that posts it for approval. */
  submit(actor: Actor, submission: Submission): Promise<AccessRequest>;
  /** Files a request to make an active temporary grant end later, posted for approval at once. */
  extend(actor: Actor, ask: ExtensionAsk): Promise<AccessRequest>;
  /** Grants the asker roles at once, without a decision, where a rule lists them under breakGlass. */
  breakGlass(
    actor: Actor,
    submission: Omit<Submission, 'grantee'> & { readonly grantee: Grantee },
  ): Promise<AccessRequest>;
  /** An approver acknowledges a break-glass grant (recorded in the audit). */
  acknowledge(id: string, actor: Actor): Promise<AccessRequest>;
  /** Throws unless `actor` may decide on the request now; returns it. */
  checkCanDecide(id: string, actor: Actor): Promise<AccessRequest>;
  approve(id: string, actor: Actor): Promise<AccessRequest>;
  deny(id: string, actor: Actor, reason: string): Promise<AccessRequest>;
  /** An approver runs a failed change (or revocation) again, at once. */
  retry(id: string, actor: Actor): Promise<AccessRequest>;
  /** The requester, or the grantee ("Not me"), withdraws a request not decided yet. */
  cancel(id: string, actor: Actor): Promise<AccessRequest>;
  /** The grantee (End now) or an approver of the target (Revoke now) ends an active grant at once. */
  end(id: string, actor: Actor): Promise<AccessRequest>;
  /** The request and its audit trail, for someone it concerns. */
  status(id: string, actor: Actor): Promise<{ request: AccessRequest; audit: AuditEntry[] }>;
  /**
   * The request, for someone allowed to see the grantee's current roles (the grantee, an approver);
   * `approver` says whether they may also see Atlas's own detail of a failure.
   */
  viewDetails(id: string, actor: Actor): Promise<{ request: AccessRequest; approver: boolean }>;
  overview(actor: Actor): Promise<RequestOverview>;
  /** What Rolecall's Home tab shows the person (their grants, requests, what waits for them). */
  home(actor: Actor): Promise<HomeData>;
}

/** Creates the request workflow service. */
export function createRequestService(deps: RequestServiceDeps): RequestService {
  const { store, workQueue } = deps;
  const now = deps.now ?? Date.now;

  /**
   * Asks the decision point under the policy in force now; records and throws a refusal. Returns the
   * target it was decided under and the membership it resolved (to check other people against).
   */
  const allow = async (
    action: Action,
    actor: Actor,
    subject: Subject,
  ): Promise<{ target: PolicyTarget | null; members: Membership; policy: Policy }> => {
    const { decision, policy, members } = await deps.gate.check(action, actor, subject);
    if (decision.allowed) return { target: decision.target, members, policy };
    const requestId = subject !== null && 'request' in subject ? subject.request.id : null;
    await deps.refusals.record({
      action,
      actorId: actor.id,
      requestId,
      code: decision.code,
      reason: decision.reason,
    });
    throw new AppError(decision.code, decision.reason, {
      details: {
        refused: action,
        ...(decision.who ? { who: expandGroups(policy, decision.who).join(',') } : {}),
      },
    });
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

  const checkCanDecide = async (id: string, actor: Actor, action: 'approve' | 'deny' = 'deny') => {
    const request = await store.require(id);
    await allow(action, actor, { request });
    if (request.state !== 'pending') throw conflictError(request);
    return request;
  };

  const decide = async (
    id: string,
    actor: Actor,
    to: 'approved' | 'denied',
    note: string | null,
  ): Promise<AccessRequest> => {
    await checkCanDecide(id, actor, to === 'approved' ? 'approve' : 'deny');
    const result = await store.transition(id, {
      from: 'pending',
      to,
      actor: actor.id,
      detail: note ?? '',
      patch: { decision: { by: actor.id, at: now(), note } },
      policyVersion: deps.policy().version,
    });
    if (!result.ok) throw conflictError(result.current);
    return result.request;
  };

  /**
   * Stores a new request within the person's limits (a refusal is recorded like any other); the slot
   * held for it while it is stored is released either way.
   */
  const createWithinLimits = async (
    actor: Actor,
    draft: RequestDraft,
    state: 'submitted' | 'pending',
    receiptId?: string,
  ): Promise<AccessRequest> => {
    let hold: { release(): Promise<void> };
    try {
      hold = await deps.limit.take(actor.id);
    } catch (error) {
      if (isAppError(error, 'RATE_LIMITED')) {
        await deps.refusals.record({
          action: 'request',
          actorId: actor.id,
          requestId: null,
          code: error.code,
          reason: error.message,
        });
      }
      throw error;
    }
    try {
      return await store.create(draft, actor.id, state, receiptId);
    } finally {
      await hold.release();
    }
  };

  /** An extension's id stands for the grant it extends. */
  const grantOf = async (id: string): Promise<AccessRequest> => {
    const request = await store.require(id);
    return request.extends === null ? request : store.require(request.extends);
  };

  return {
    check,
    checkCanDecide: (id, actor) => checkCanDecide(id, actor, 'deny'),

    async guide(actor, targetName, roles) {
      const policy = deps.policy();
      const target = findTarget(policy, targetName);
      if (!target) {
        throw new AppError('TARGET_UNKNOWN', `There is no target called ${targetName} any more.`);
      }
      const chosen = roles.filter((role) => target.roles.includes(role));
      const draft: RequestLine = {
        roles: chosen.length > 0 ? chosen : target.roles,
        scope: target.kind,
        target: target.name,
        // A duration is what the form asks next: it must not decide whether the person may ask.
        durationSeconds: requirementsOf(target, chosen.length > 0 ? chosen : target.roles).maxDurationSeconds,
        reason: 'form',
      };
      const { members } = await allow('request', actor, { draft, grantee: actor });
      // Before roles are chosen: the longest any role allows, and the target's approvers.
      const perRole = target.roles.map((role) => requirementsOf(target, [role]).maxDurationSeconds);
      const requirements =
        chosen.length > 0
          ? requirementsOf(target, chosen)
          : {
              ...requirementsOf(target, []),
              approverLists: [target.approvers],
              maxDurationSeconds: perRole.includes(undefined)
                ? undefined
                : Math.max(...perRole.filter((d): d is number => d !== undefined)),
            };
      return {
        target,
        mayAskForOthers:
          actor.standing === 'member' && members.includes(target.onBehalf ?? target.approvers, actor.id),
        requirements,
        deciders: decidersOf(policy, requirements.approverLists),
        currentRoles: actor.email === null ? null : await deps.currentRoles.read(actor.email, target),
      };
    },

    async submit(actor, submission) {
      const { target, policy } = await allow('request', actor, {
        draft: submission.line,
        grantee: submission.grantee,
      });
      if (!target) throw new AppError('INTERNAL', 'a request was allowed without a target');
      const email = submission.grantee.email;
      if (!email) {
        throw new AppError(
          'SLACK_USER_NO_EMAIL',
          'Slack did not share this person’s email address, so Rolecall cannot find their Atlas user. The app needs the users:read.email scope, and the person needs an email on their profile.',
        );
      }
      const { line } = submission;
      if (
        submission.workflowExecutionId !== undefined &&
        !(await store.claimWorkflow(submission.workflowExecutionId))
      ) {
        throw new AppError(
          'REQUEST_STATE_CONFLICT',
          `Workflow step ${submission.workflowExecutionId} has filed its request already.`,
          { details: { duplicate: true } },
        );
      }
      const request = await createWithinLimits(
        actor,
        {
          requesterId: actor.id,
          requesterTeamId: actor.teamId ?? null,
          granteeId: submission.grantee.id,
          granteeEmail: email,
          target: { name: target.name, kind: target.kind, id: target.id },
          roles: line.roles,
          durationSeconds: line.durationSeconds ?? null,
          reason: line.reason,
          sourceChannelId: submission.sourceChannelId,
          replyUrl: submission.replyUrl,
          extends: null,
          approversAtRequest: approversOf(policy, target, line.roles),
          workflow:
            submission.workflowExecutionId === undefined
              ? null
              : { executionId: submission.workflowExecutionId },
        },
        'submitted',
        submission.receiptId,
      );
      // The worker that reads Atlas also schedules the expiry: the Slack-facing process does as little
      // as it can after the ack (the sweeper expires a request that is never checked).
      await workQueue.enrich(request.id);
      return request;
    },

    async extend(actor, ask) {
      const original = await grantOf(ask.id);
      const end = original.grant?.revokeAt ?? null;
      const askedAt = now();
      const grantee = await deps.people.person(original.granteeId);
      const { target, policy } = await allow('extend', actor, {
        request: original,
        extendBySeconds: ask.durationSeconds,
        ...(end === null ? {} : { extendFrom: { endsAt: end, at: askedAt } }),
        grantee,
      });
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
      // The end it produces is bounded (authorize: asked-at + maxDuration); an automatic approval also
      // by the grant's start + maxDuration, past which a person decides. Re-checked when applied.
      const needs = target ? requirementsOf(target, held) : undefined;
      const maxMs = needs?.maxDurationSeconds === undefined ? undefined : needs.maxDurationSeconds * 1000;
      const wanted = end + ask.durationSeconds * 1000;
      const startedAt = original.grant?.appliedAt ?? askedAt;
      // Approving by itself is a decision: user groups count only as read within USER_GROUP_MAX_AGE;
      // unconfirmed, a person decides instead.
      const automatic =
        needs?.autoApprove === true &&
        actor.id === original.granteeId &&
        (maxMs === undefined || wanted <= startedAt + maxMs) &&
        (
          await deps.gate.check(
            'extend',
            actor,
            {
              request: original,
              extendBySeconds: ask.durationSeconds,
              extendFrom: { endsAt: end, at: askedAt },
              grantee,
            },
            { decision: true },
          )
        ).decision.allowed;
      const bounds = maxMs === undefined ? [] : [askedAt + maxMs, ...(automatic ? [startedAt + maxMs] : [])];
      const slot = await deps.extensions.claim(original.id, async (id) => {
        const holder = await store.get(id);
        return holder !== undefined && OPEN_EXTENSION.includes(holder.state);
      });
      if (!('token' in slot)) {
        throw new AppError(
          'REQUEST_STATE_CONFLICT',
          slot.heldBy === null
            ? `Another extension of ${original.id} is being filed right now; wait for it.`
            : `${slot.heldBy} already asks to extend ${original.id}; one extension at a time. Wait for its decision, or cancel it first.`,
        );
      }
      let request: AccessRequest;
      try {
        request = await createWithinLimits(
          actor,
          {
            requesterId: actor.id,
            requesterTeamId: actor.teamId ?? null,
            granteeId: original.granteeId,
            granteeEmail: original.granteeEmail,
            target: original.target,
            roles: held,
            durationSeconds: ask.durationSeconds,
            reason: ask.reason,
            sourceChannelId: ask.sourceChannelId,
            replyUrl: ask.replyUrl,
            rolesAtRequest: original.grant?.rolesAfter ?? null,
            holdersAtRequest: held.map((role) => ({ role, requestId: original.id, until: end })),
            addsToProject: false,
            extends: original.id,
            endsNoLaterThan: bounds.length === 0 ? null : Math.min(...bounds),
            approversAtRequest: original.approversAtRequest,
          },
          'pending',
          ask.receiptId,
        );
      } catch (error) {
        await deps.extensions.release(original.id, slot.token);
        throw error;
      }
      await deps.extensions.handOver(original.id, slot.token, request.id);
      // Roles a rule approves automatically are extended the same way, for the grantee themselves.
      if (automatic && target) {
        const detail = autoApprovalNote(target, held);
        const approved = await store.transition(request.id, {
          from: 'pending',
          to: 'approved',
          actor: 'policy',
          detail,
          patch: { decision: { by: 'policy', at: now(), note: detail } },
          policyVersion: policy.version,
        });
        if (approved.ok) {
          await workQueue.apply(request.id, approved.request.attempt);
          await workQueue.notify(approved.request, 'pending');
          return approved.request;
        }
      }
      // The expiry first: a decision right after the notice drops it (forgetExpiry), never before it exists.
      await workQueue.expire(request.id, request.createdAt + deps.requestTtlMs);
      await workQueue.notify(request, 'pending');
      return request;
    },

    async approve(id, actor) {
      const first = await store.require(id);
      // An extension is checked against the end it would give its grant now, under today's policy.
      const extended = first.extends === null ? undefined : await store.get(first.extends);
      const endsAt = extended?.grant?.revokeAt ?? null;
      const { target, members, policy } = await allow('approve', actor, {
        request: first,
        grantee: await deps.people.person(first.granteeId),
        ...(endsAt === null ? {} : { extendFrom: { endsAt, at: now() } }),
      });
      if (!target) throw conflictError(first);
      const needs = requirementsOf(target, first.roles);
      // Only approvals by people who may decide now count: someone removed from the approvers (or
      // their group) since their click no longer does.
      const stillDecides = (userId: string) =>
        userId !== first.requesterId &&
        userId !== first.granteeId &&
        needs.approverLists.every((list) => members.includes(list, userId));
      // The Nth distinct approval is the one atomic pending -> approved; each approval before it is
      // an audited note. A concurrent approval changes `approvals`, so the loser reads again.
      for (let round = 0; round < 20; round += 1) {
        const request = round === 0 ? first : await store.require(id);
        if (request.state !== 'pending') throw conflictError(request);
        const counted = request.approvals.filter((a) => stillDecides(a.by));
        const dropped = request.approvals.filter((a) => !stillDecides(a.by)).map((a) => a.by);
        const mine = counted.find((a) => a.by === actor.id);
        if (mine && counted.length < needs.approvals) {
          throw new AppError(
            'REQUEST_STATE_CONFLICT',
            `You have already approved ${id}; it needs ${needs.approvals} approvals from different people (${counted.length} so far).`,
          );
        }
        // A click by someone who approved already finishes a request that needs fewer approvals now.
        const approval = mine ?? { by: actor.id, at: now(), note: null };
        const approvals = mine ? counted : [...counted, approval];
        const detail = [
          needs.approvals > 1 ? `approval ${approvals.length} of ${needs.approvals}` : '',
          dropped.length > 0 ? `no longer counted (not an approver now): ${dropped.join(', ')}` : '',
        ]
          .filter((part) => part !== '')
          .join('; ');
        const result =
          approvals.length >= needs.approvals
            ? await store.transition(id, {
                from: 'pending',
                to: 'approved',
                actor: actor.id,
                detail,
                expect: { approvals: request.approvals },
                patch: {
                  approvals,
                  decision: approval,
                  ...boundAt(request, needs.maxDurationSeconds, now()),
                },
                policyVersion: policy.version,
              })
            : await store.note(id, {
                whileIn: ['pending'],
                actor: actor.id,
                detail,
                expect: { approvals: request.approvals },
                patch: { approvals },
                policyVersion: policy.version,
              });
        if (!result.ok) continue;
        if (result.request.state === 'approved') {
          await workQueue.apply(id, result.request.attempt);
          await workQueue.notify(result.request, 'approved');
        } else {
          await workQueue.notify(result.request, 'approval', String(approvals.length));
        }
        return result.request;
      }
      throw new AppError('STORAGE_UNAVAILABLE', `Too many approvals of ${id} at once; press Approve again.`, {
        retryable: true,
      });
    },

    async breakGlass(actor, submission) {
      const { target, policy } = await allow('break-glass', actor, {
        draft: submission.line,
        grantee: actor,
      });
      if (!target) throw new AppError('INTERNAL', 'break-glass was allowed without a target');
      const email = submission.grantee.email;
      if (!email) {
        throw new AppError(
          'SLACK_USER_NO_EMAIL',
          'Slack did not share your email address, so Rolecall cannot find your Atlas user.',
        );
      }
      const { line } = submission;
      const request = await createWithinLimits(
        actor,
        {
          requesterId: actor.id,
          requesterTeamId: actor.teamId ?? null,
          granteeId: actor.id,
          granteeEmail: email,
          target: { name: target.name, kind: target.kind, id: target.id },
          roles: line.roles,
          durationSeconds: line.durationSeconds ?? null,
          reason: line.reason,
          sourceChannelId: submission.sourceChannelId,
          replyUrl: submission.replyUrl,
          extends: null,
          breakGlass: true,
          approversAtRequest: approversOf(policy, target, line.roles),
        },
        'submitted',
        submission.receiptId,
      );
      await workQueue.enrich(request.id);
      return request;
    },

    async acknowledge(id, actor) {
      const request = await store.require(id);
      await allow('acknowledge', actor, { request });
      if (!request.breakGlass) {
        throw new AppError(
          'REQUEST_STATE_CONFLICT',
          `${id} is not a break-glass grant; there is nothing to acknowledge.`,
        );
      }
      if (request.acknowledged !== null) {
        throw new AppError('REQUEST_STATE_CONFLICT', `${id} was already acknowledged.`, {
          details: { decidedBy: request.acknowledged.by },
        });
      }
      const noted = await store.note(id, {
        whileIn: ['approved', 'applying', 'applied', 'revoking', 'revoked', 'revoke_failed', 'failed'],
        actor: actor.id,
        detail: 'break-glass acknowledged',
        expect: { acknowledged: null },
        patch: { acknowledged: { by: actor.id, at: now(), note: null } },
        policyVersion: deps.policy().version,
      });
      if (!noted.ok) throw new AppError('REQUEST_STATE_CONFLICT', `${id} was already acknowledged.`);
      await workQueue.notify(noted.request, 'acknowledged');
      return noted.request;
    },

    async deny(id, actor, reason) {
      const request = await decide(id, actor, 'denied', reason);
      await workQueue.notify(request, 'denied');
      return request;
    },

    async retry(id, actor) {
      const request = await store.require(id);
      const grantee = request.state === 'failed' ? await deps.people.person(request.granteeId) : undefined;
      await allow('retry', actor, grantee ? { request, grantee } : { request });
      if (request.state !== 'failed' && request.state !== 'revoke_failed') {
        throw new AppError(
          'REQUEST_STATE_CONFLICT',
          `${request.id} ${STATE_WORDS[request.state]}; there is nothing to retry.`,
          { details: { state: request.state } },
        );
      }
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
          actor: actor.id,
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
        actor: actor.id,
        detail: `retry ${attempt}`,
        patch: { attempt, failure: null },
      });
      if (!result.ok) throw conflictError(result.current);
      await workQueue.apply(id, attempt);
      await workQueue.notify(result.request, 'approved');
      return result.request;
    },

    async cancel(id, actor) {
      const request = await store.require(id);
      await allow('cancel', actor, { request });
      if (request.state !== 'pending' && request.state !== 'submitted') throw conflictError(request);
      const result = await store.transition(id, {
        from: ['pending', 'submitted'],
        to: 'cancelled',
        actor: actor.id,
        detail:
          actor.id === request.requesterId
            ? 'cancelled by the requester'
            : 'cancelled by the grantee: not me',
        patch: { decision: { by: actor.id, at: now(), note: null } },
      });
      if (!result.ok) throw conflictError(result.current);
      await workQueue.notify(result.request, 'cancelled');
      return result.request;
    },

    async end(id, actor) {
      const request = await grantOf(id);
      await allow('end', actor, { request });
      return endGrantNow(
        { store, workQueue },
        request,
        {
          actor: actor.id,
          detail:
            actor.id === request.granteeId ? 'ended early by the grantee' : 'revoked early by an approver',
          at: now(),
        },
        (r) => STATE_WORDS[r.state],
      );
    },

    async status(id, actor) {
      const request = await store.require(id);
      await allow('status', actor, { request });
      return { request, audit: await store.audit(id) };
    },

    async viewDetails(id, actor) {
      const request = await store.require(id);
      const { policy, members } = await allow('view-roles', actor, { request });
      const approver = authorize('view-details', actor, { request }, policy, members).allowed;
      return { request, approver };
    },

    async overview(actor) {
      const { policy, members } = await allow('list', actor, null);
      const mine = (await store.listByRequester(actor.id, 50)).filter(
        (r) => !isFinal(r.state) && !(r.state === 'applied' && r.grant?.revokeAt === null),
      );
      return { mine, toDecide: await listToDecide(store, actor, policy, members) };
    },

    async home(actor) {
      await allow('list', actor, null);
      return readHome({ store, gate: deps.gate, now }, actor);
    },
  };
}

/**
 * Everyone who may decide on some roles of a target, as the policy says now, with group names
 * replaced by their members: kept on the request, they still mean the same if the group goes.
 */
function approversOf(policy: Policy, target: PolicyTarget, roles: readonly string[]): string[] {
  return expandGroups(policy, requirementsOf(target, roles).approverLists.flat());
}

/**
 * For an extension being approved: its bound tightened to now + the maxDuration of today's policy,
 * so the write that moves the end checks that too (a policy made stricter since it was asked).
 */
function boundAt(request: AccessRequest, maxSeconds: number | undefined, at: number): RequestPatch {
  if (request.extends === null || maxSeconds === undefined) return {};
  const ceiling = at + maxSeconds * 1000;
  return { endsNoLaterThan: Math.min(request.endsNoLaterThan ?? ceiling, ceiling) };
}

/** An extension in these states still waits or runs: no second one may be filed for its grant. */
const OPEN_EXTENSION: readonly RequestState[] = ['submitted', 'pending', 'approved', 'applying'];

/** How each state reads after a request id, for refusals and conflicts. */
export const STATE_WORDS: Record<RequestState, string> = {
  submitted: 'is still being checked',
  pending: 'is still pending',
  approved: 'was already approved',
  applying: 'was already approved and is being applied',
  applied: 'was already approved and applied',
  revoking: 'was approved and is being revoked',
  revoked: 'was approved and has since been revoked',
  denied: 'was already denied',
  expired: 'has expired',
  cancelled: 'was cancelled',
  refused: 'was refused',
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
