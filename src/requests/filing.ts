import type { Actor, Person } from '../access/actions.js';
import { checkLineTicket } from '../access/draft-rules.js';
import { refusalError } from '../access/policy-gate.js';
import { AppError, isAppError } from '../errors.js';
import {
  autoApprovalNote,
  expandGroups,
  type Policy,
  type PolicyTarget,
  requirementsOf,
} from '../policy/policy.js';
import { ticketUrlOf } from '../policy/tickets.js';
import type { AutoApproval } from './lifecycle.js';
import type { AccessRequest, RequestDraft, RequestState } from './model.js';
import type { RequestLine } from './parse-command.js';
import { requireGrant } from './request-reader.js';
import { notStartedError, resolveStart, waitsForStart } from './scheduled-start.js';
import type { ExtensionAsk, RequestServiceDeps, Submission } from './service-deps.js';
import { STATE_WORDS } from './state-machine.js';

/** An extension in these states still waits or runs: no second one may be filed for its grant. */
const OPEN_EXTENSION: readonly RequestState[] = ['submitted', 'pending', 'approved', 'applying'];

/**
 * Filing requests: a request for access, a break-glass grant, an extension. Each is authorized under
 * the policy in force, kept within the person's limits, then handed to the lifecycle.
 */
export function createFiling(deps: RequestServiceDeps) {
  const { store, lifecycle } = deps;
  const now = deps.now ?? Date.now;

  /** Takes a slot within the person's limits (a refusal is recorded like any other) for `file`. */
  const withinLimits = async (actor: Actor, file: () => Promise<AccessRequest>): Promise<AccessRequest> => {
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
      return await file();
    } finally {
      await hold.release();
    }
  };

  /**
   * The ticket the line names, against the policy (break-glass: checked if given, never required);
   * a refusal is recorded like any other and thrown in words.
   */
  const requireTicketFits = async (
    action: 'request' | 'break-glass',
    actor: Actor,
    target: PolicyTarget,
    policy: Policy,
    line: RequestLine,
  ): Promise<void> => {
    const refused = checkLineTicket(target, line, { waiveRequired: action === 'break-glass' });
    if (refused === undefined) return;
    await deps.refusals.record({
      action,
      actorId: actor.id,
      requestId: null,
      code: refused.code,
      reason: refused.reason,
    });
    throw refusalError(action, refused, policy);
  };

  /** The draft of a new request (or break-glass grant) on `target`, as the person asked for it. */
  const draftOf = (
    actor: Actor,
    submission: Submission,
    email: string,
    target: PolicyTarget,
    policy: Policy,
  ): RequestDraft => ({
    requesterId: actor.id,
    requesterTeamId: actor.teamId ?? null,
    granteeId: submission.grantee.id,
    granteeEmail: email,
    target: { name: target.name, kind: target.kind, id: target.id },
    roles: submission.line.roles,
    durationSeconds: submission.line.durationSeconds ?? null,
    reason: submission.line.reason,
    ticket: submission.line.ticket ?? null,
    ticketUrl: ticketUrlOf(
      requirementsOf(target, submission.line.roles).ticket.url,
      submission.line.ticket ?? null,
    ),
    sourceChannelId: submission.sourceChannelId,
    replyUrl: submission.replyUrl,
    extends: null,
    approversAtRequest: approversOf(policy, target, submission.line.roles),
  });

  return {
    /** Stores a request as `submitted` and queues the Atlas reading that posts it for approval. */
    async submit(actor: Actor & Pick<Person, 'timeZone'>, submission: Submission): Promise<AccessRequest> {
      const { target, policy } = await deps.gate.require('request', actor, {
        draft: submission.line,
        grantee: submission.grantee,
      });
      if (!target) throw new AppError('INTERNAL', 'a request was allowed without a target');
      await requireTicketFits('request', actor, target, policy, submission.line);
      const email = submission.grantee.email;
      if (!email) {
        throw new AppError(
          'SLACK_USER_NO_EMAIL',
          'Slack did not share this person’s email address, so Rolecall cannot find their Atlas user. The app needs the users:read.email scope, and the person needs an email on their profile.',
        );
      }
      const execution = submission.workflowExecutionId;
      if (execution !== undefined && !(await lifecycle.claimWorkflow(execution))) {
        throw new AppError(
          'REQUEST_STATE_CONFLICT',
          `Workflow step ${execution} has filed its request already.`,
          { details: { duplicate: true } },
        );
      }
      const start = submission.line.start;
      const draft: RequestDraft = {
        ...draftOf(actor, submission, email, target, policy),
        workflow: execution === undefined ? null : { executionId: execution },
        startsAt: start === undefined ? null : resolveStart(start, actor.timeZone ?? null, now()),
      };
      return withinLimits(actor, () => lifecycle.submitted(draft, actor.id, submission.receiptId));
    },

    /** Grants the asker roles at once, without a decision, where a rule lists them under breakGlass. */
    async breakGlass(actor: Actor, submission: Submission): Promise<AccessRequest> {
      const { target, policy } = await deps.gate.require('break-glass', actor, {
        draft: submission.line,
        grantee: actor,
      });
      if (!target) throw new AppError('INTERNAL', 'break-glass was allowed without a target');
      await requireTicketFits('break-glass', actor, target, policy, submission.line);
      const email = submission.grantee.email;
      if (!email) {
        throw new AppError(
          'SLACK_USER_NO_EMAIL',
          'Slack did not share your email address, so Rolecall cannot find your Atlas user.',
        );
      }
      const draft: RequestDraft = {
        ...draftOf(
          actor,
          { ...submission, grantee: { ...submission.grantee, id: actor.id } },
          email,
          target,
          policy,
        ),
        breakGlass: true,
      };
      return withinLimits(actor, () => lifecycle.submitted(draft, actor.id, submission.receiptId));
    },

    /** Files a request to make an active temporary grant end later, posted for approval at once. */
    async extend(actor: Actor, ask: ExtensionAsk): Promise<AccessRequest> {
      const original = await requireGrant(store, ask.id);
      const end = original.grant?.revokeAt ?? null;
      const askedAt = now();
      const grantee = await deps.directory.person(original.granteeId);
      const subject = {
        request: original,
        extendBySeconds: ask.durationSeconds,
        ...(end === null ? {} : { extendFrom: { endsAt: end, at: askedAt } }),
        grantee,
      };
      const { target, policy } = await deps.gate.require('extend', actor, subject);
      if (waitsForStart(original, askedAt)) throw notStartedError(original, 'extend');
      if (original.state !== 'applied' || original.endedEarly !== null) {
        throw new AppError(
          'REQUEST_STATE_CONFLICT',
          `${original.id} ${original.state === 'applied' ? 'is ending now' : STATE_WORDS[original.state].after}; only an active temporary grant can be extended.`,
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
        (await deps.gate.ask('extend', actor, subject, { decision: true })).verdict.allowed;
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
      const draft: RequestDraft = {
        requesterId: actor.id,
        requesterTeamId: actor.teamId ?? null,
        granteeId: original.granteeId,
        granteeEmail: original.granteeEmail,
        target: original.target,
        roles: held,
        durationSeconds: ask.durationSeconds,
        reason: ask.reason,
        // An extension goes on under the grant's ticket.
        ticket: original.ticket,
        ticketUrl: original.ticketUrl,
        sourceChannelId: ask.sourceChannelId,
        replyUrl: ask.replyUrl,
        rolesAtRequest: original.grant?.rolesAfter ?? null,
        holdersAtRequest: held.map((role) => ({ role, requestId: original.id, until: end })),
        addsToProject: false,
        extends: original.id,
        endsNoLaterThan: bounds.length === 0 ? null : Math.min(...bounds),
        approversAtRequest: original.approversAtRequest,
      };
      // Roles a rule approves automatically are extended the same way, for the grantee themselves.
      const auto: AutoApproval | null =
        automatic && target
          ? { by: 'policy', detail: autoApprovalNote(target, held), policyVersion: policy.version }
          : null;
      let request: AccessRequest;
      try {
        request = await withinLimits(actor, () => lifecycle.extensionFiled(draft, actor.id, ask.receiptId));
      } catch (error) {
        await deps.extensions.release(original.id, slot.token);
        throw error;
      }
      await deps.extensions.handOver(original.id, slot.token, request.id);
      return lifecycle.post(request, auto);
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
