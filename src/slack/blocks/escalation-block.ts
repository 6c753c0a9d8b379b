import type { KnownBlock } from '@slack/types';
import { formatDuration } from '../../lib/duration.js';
import { type Escalation, escalationDueAt, MAX_APPROVER_REMINDERS } from '../../policy/approver-chase.js';
import type { AccessRequest } from '../../requests/model.js';
import type { RequestEvent } from '../../requests/ports.js';
import { escapeMrkdwn, formatRoles, mention, mentionPrincipals, slackDate } from '../mrkdwn.js';

/** A request's escalation as its messages show it (computed where the policy is: compose/processing.ts). */
export interface EscalationView {
  readonly escalation?: {
    /** The fallback approvers (users, user groups, group names). */
    readonly to: readonly string[];
    readonly afterSeconds: number;
    /** When it is (or was) escalated, ms since epoch. */
    readonly dueAt: number;
    /** Escalated: while it waits, its time has come; once decided, it came before the decision. */
    readonly escalated: boolean;
  };
}

/** The view of a request's escalation at `now` ({} when the policy has none for it). */
export function escalationViewOf(
  request: Pick<AccessRequest, 'state' | 'createdAt' | 'decision'>,
  escalation: Escalation | undefined,
  now: number,
): EscalationView {
  const dueAt = escalationDueAt(request.createdAt, escalation);
  if (escalation === undefined || dueAt === undefined) return {};
  const until = request.state === 'pending' ? now : (request.decision?.at ?? Number.NEGATIVE_INFINITY);
  return {
    escalation: {
      to: escalation.to,
      afterSeconds: escalation.afterSeconds,
      dueAt,
      escalated: dueAt <= until,
    },
  };
}

/** "Escalated to @platform-leads after 1h", or when it will be; nothing for a request decided before it. */
export function buildEscalationBlock(request: AccessRequest, view: EscalationView): KnownBlock | undefined {
  const e = view.escalation;
  if (e === undefined) return undefined;
  const after = formatDuration(e.afterSeconds);
  let text: string;
  if (e.escalated) {
    text =
      request.state === 'pending'
        ? `:arrow_double_up: Escalated to ${mentionPrincipals(e.to)} after ${after}: they may approve or deny it too.`
        : `:arrow_double_up: It was escalated to ${mentionPrincipals(e.to)} after ${after}.`;
  } else if (request.state === 'pending') {
    text = `:hourglass: If nobody decides it by ${slackDate(e.dueAt)}, it is escalated to ${mentionPrincipals(e.to)} (after ${after}).`;
  } else {
    return undefined;
  }
  return { type: 'context', elements: [{ type: 'mrkdwn', text }] };
}

/** What a reminder, an escalation or a nudge says in the approval message's thread. */
export function buildChaseText(
  request: AccessRequest,
  event: RequestEvent,
  context: { readonly approvers?: readonly string[]; readonly round?: string } & EscalationView,
): string {
  const who = (context.approvers ?? []).length > 0 ? ` ${mentionPrincipals(context.approvers ?? [])}` : '';
  const waited = formatDuration(Math.max(1, Math.round((Date.now() - request.createdAt) / 1000)));
  switch (event) {
    case 'escalated': {
      const e = context.escalation;
      return e
        ? `:arrow_double_up: ${request.id} was escalated to ${mentionPrincipals(e.to)} after ${formatDuration(e.afterSeconds)} without a decision: they may approve or deny it now.`
        : `:arrow_double_up: ${request.id} was escalated: its fallback approvers may approve or deny it now.`;
    }
    case 'nudged':
      return `:wave: ${mention(request.requesterId)} nudged the approvers: ${request.id} has waited ${waited} for a decision.${who}`;
    default:
      return `:bell: Reminder ${context.round ?? '1'} of ${MAX_APPROVER_REMINDERS}: ${request.id} has waited ${waited} for a decision.${who}`;
  }
}

/** The DM to one approver about a reminder, an escalation or a nudge. */
export function buildApproverDm(request: AccessRequest, event: RequestEvent, view: EscalationView): string {
  const what = `${mention(request.requesterId)} asks for ${formatRoles(request.roles)} on *${escapeMrkdwn(request.target.name)}*${request.requesterId === request.granteeId ? '' : ` for ${mention(request.granteeId)}`}`;
  const where = request.approvalMessage ? ` in <#${request.approvalMessage.channelId}>` : '';
  switch (event) {
    case 'escalated':
      return `:arrow_double_up: ${request.id} was escalated to you after ${view.escalation ? formatDuration(view.escalation.afterSeconds) : 'a while'} without a decision: ${what}. You may approve or deny it now${where}.`;
    case 'nudged':
      return `:wave: ${mention(request.requesterId)} nudged you about ${request.id}, still waiting for your decision: ${what}. Approve or deny it${where}.`;
    default:
      return `:bell: ${request.id} is still waiting for your decision: ${what}. Approve or deny it${where}.`;
  }
}
