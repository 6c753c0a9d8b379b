import type { KnownBlock } from '@slack/types';
import { formatDuration } from '../../lib/duration.js';
import type { Principal } from '../../policy/policy.js';
import type { AccessRequest } from '../../requests/model.js';
import { rolesAfterGrant, rolesToAdd } from '../../requests/role-set.js';
import { STATE_WORDS } from '../../requests/state-machine.js';
import {
  escapeMrkdwn,
  formatRoles,
  mention,
  mentionPrincipals,
  quoteUserText,
  slackDate,
  truncate,
} from '../mrkdwn.js';
import { ACTIONS } from './actions.js';
import { buildBundleBlock } from './bundle-block.js';
import { buildDatabaseApprovalBlock } from './database-access.js';
import { buildEscalationBlock, type EscalationView } from './escalation-block.js';
import { describeFailureInFull, describeUntil } from './outcome-message.js';
import { describeStatus } from './request-status-line.js';
import { buildCancelBeforeStart, startPhrase } from './scheduled-start.js';
import { buildTeamAccessBlock, describeRolesThroughTeams } from './team-access.js';
import { describeTicketField } from './ticket-field.js';

/** The Extend and End now buttons the grantee gets with a temporary grant (no Extend on a bundle's part). */
export function buildGrantActions(requestId: string, extendable = true): KnownBlock {
  return {
    type: 'actions',
    block_id: `grant:${requestId}`,
    elements: [
      ...(extendable
        ? [
            {
              type: 'button' as const,
              action_id: ACTIONS.extend,
              text: { type: 'plain_text' as const, text: 'Extend' },
              value: requestId,
            },
          ]
        : []),
      {
        type: 'button',
        action_id: ACTIONS.end,
        text: { type: 'plain_text', text: 'End now' },
        style: 'danger',
        value: requestId,
        confirm: {
          title: { type: 'plain_text', text: 'End this access now?' },
          text: { type: 'plain_text', text: `Rolecall ends the access of ${requestId} right away.` },
          confirm: { type: 'plain_text', text: 'End now' },
          deny: { type: 'plain_text', text: 'Keep it' },
        },
      },
    ],
  };
}

/** The Approve and Deny buttons of a pending request. */
export function buildDecisionActions(requestId: string): KnownBlock {
  return {
    type: 'actions',
    block_id: `decide:${requestId}`,
    elements: [
      {
        type: 'button',
        action_id: ACTIONS.approve,
        text: { type: 'plain_text', text: 'Approve' },
        style: 'primary',
        value: requestId,
      },
      {
        type: 'button',
        action_id: ACTIONS.deny,
        text: { type: 'plain_text', text: 'Deny' },
        style: 'danger',
        value: requestId,
      },
    ],
  };
}

/** A message body: fallback text for notifications plus blocks. */
export interface SlackMessage {
  readonly text: string;
  readonly blocks: KnownBlock[];
}

const FIELD_MAX = 2000;

/** Whether an approver can still end this grant early from the approval message. */
function canRevokeNow(request: AccessRequest): boolean {
  return request.state === 'applied' && request.endedEarly === null && (request.grant?.held ?? []).length > 0;
}

/** "GROUP_READ_ONLY, GROUP_X (temporary: AR-0001 until <date>)". */
function describeCurrentRoles(request: AccessRequest): string {
  if (request.addsToProject && (request.rolesAtRequest ?? []).length === 0) return '_not in the project_';
  if (request.rolesAtRequest === null) return formatRoles(null);
  if (request.rolesAtRequest.length === 0) return '_none_';
  return request.rolesAtRequest
    .map((role) => {
      const holder = request.holdersAtRequest.find((h) => h.role === role);
      return holder
        ? `\`${escapeMrkdwn(role)}\` (temporary: ${holder.requestId} ${describeUntil(holder)})`
        : `\`${escapeMrkdwn(role)}\``;
    })
    .join(', ');
}

/**
 * What the grantee holds now and would hold after approval: someone's Atlas access, so shown only
 * to them and to the target's approvers (the "Current roles" button), never to the whole channel.
 */
export function buildDetails(request: AccessRequest, options: { readonly approver: boolean }): SlackMessage {
  const after =
    request.rolesAtRequest === null
      ? null
      : rolesAfterGrant(request.rolesAtRequest, rolesToAdd(request.rolesAtRequest, request.roles));
  const text = [
    `*${request.id}*: ${escapeMrkdwn(request.granteeEmail)} on *${escapeMrkdwn(request.target.name)}* when it was asked`,
    `*Current roles*: ${describeCurrentRoles(request)}`,
    ...(describeRolesThroughTeams(request) ? [`*Through teams*: ${describeRolesThroughTeams(request)}`] : []),
    `*Roles after approval*: ${formatRoles(after)}`,
    ...(request.failure && options.approver
      ? [`*What Atlas said*: ${describeFailureInFull(request.failure)}`]
      : []),
  ].join('\n');
  return {
    text,
    blocks: [{ type: 'section', text: { type: 'mrkdwn', text: truncate(text, 3000), verbatim: true } }],
  };
}

/** What the policy says about deciding a request, for its approval message (computed where the policy is). */
export interface ApprovalView extends EscalationView {
  /** Distinct approvals it needs (a rule's `approvals`). @defaultValue 1 */
  readonly approvalsNeeded?: number;
  /** Who may decide on every one of its roles. */
  readonly approvers?: readonly Principal[];
}

/** "1 of 2 approvals: @bob · still to decide: @carol, @dba-team". */
function describeProgress(request: AccessRequest, view: ApprovalView): string | undefined {
  const needed = view.approvalsNeeded ?? 1;
  if (request.state !== 'pending' || (needed <= 1 && request.approvals.length === 0)) return undefined;
  const given = request.approvals.map((a) => mention(a.by));
  const left = (view.approvers ?? []).filter(
    (p) => !request.approvals.some((a) => a.by === p) && p !== request.requesterId && p !== request.granteeId,
  );
  return `:ballot_box_with_check: ${request.approvals.length} of ${needed} approvals${given.length > 0 ? `: ${given.join(', ')}` : ''}${left.length > 0 ? ` · may still approve: ${mentionPrincipals(left)}` : ''}`;
}

/** The approvers' message for a request; buttons only while something can be done. */
export function buildApprovalMessage(request: AccessRequest, view: ApprovalView = {}): SlackMessage {
  const asks = request.extends ? 'asks to extend Atlas access' : 'asks for Atlas access';
  const who = request.breakGlass
    ? `:rotating_light: *Break-glass by ${mention(request.requesterId)}*: granted at once, without a decision${request.grant?.revokeAt ? `; it ends ${slackDate(request.grant.revokeAt)}` : ''}`
    : `${mention(request.requesterId)} ${asks}${request.requesterId === request.granteeId ? '' : ` for ${mention(request.granteeId)}`}${request.workflow ? ' through a Workflow Builder step' : ''}`;
  const kind = request.target.kind === 'org' ? 'organization' : 'project';
  const duration =
    request.durationSeconds === null
      ? `permanent${startPhrase(request)}`
      : request.extends
        ? `${formatDuration(request.durationSeconds)} more`
        : `${formatDuration(request.durationSeconds)}${startPhrase(request)}, then revoked automatically`;
  const fields = [
    `*Target*\n${kind} *${escapeMrkdwn(request.target.name)}* (\`${request.target.id}\`)`,
    `*Atlas user*\n${escapeMrkdwn(request.granteeEmail)}`,
    `*Roles requested*\n${formatRoles(request.roles)}`,
    `*Duration*\n${duration}`,
    ...[describeTicketField(request)].filter((field) => field !== null),
  ];
  if (request.extends) {
    const end = request.holdersAtRequest[0];
    fields.push(`*Extends*\n${request.extends}${end?.until ? `, which ends ${slackDate(end.until)}` : ''}`);
  }
  const blocks: KnownBlock[] = [
    {
      type: 'header',
      text: {
        type: 'plain_text',
        text: `${request.breakGlass ? ':rotating_light: Break-glass' : request.extends ? 'Extension request' : 'Access request'} ${request.id}`,
        emoji: true,
      },
    },
    { type: 'section', text: { type: 'mrkdwn', text: `${who}.` } },
    {
      type: 'section',
      fields: fields.map((text) => ({ type: 'mrkdwn', text: truncate(text, FIELD_MAX), verbatim: true })),
    },
  ];
  if (request.addsToProject) {
    blocks.push({
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: `:door: Approving adds ${mention(request.granteeId)} to ${escapeMrkdwn(request.target.name)} for the grant's duration; they leave the project again when it ends.`,
      },
    });
  }
  const bundle = buildBundleBlock(request);
  if (bundle) blocks.push(bundle);
  const teamAccess = buildTeamAccessBlock(request);
  if (teamAccess) blocks.push(teamAccess);
  const database = buildDatabaseApprovalBlock(request);
  if (database) blocks.push(database);
  blocks.push({
    type: 'section',
    text: {
      type: 'mrkdwn',
      text: truncate(`*Reason*\n${quoteUserText(request.reason)}`, 3000),
      verbatim: true,
    },
  });
  if ((!request.extends && request.state === 'pending') || request.failure?.detail) {
    blocks.push({
      type: 'actions',
      block_id: `details:${request.id}`,
      elements: [
        {
          type: 'button',
          action_id: ACTIONS.details,
          text: { type: 'plain_text', text: 'Details' },
          value: request.id,
        },
      ],
    });
  }
  const progress = describeProgress(request, view);
  if (progress) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: truncate(progress, 3000) } });
  const escalation = buildEscalationBlock(request, view);
  if (escalation) blocks.push(escalation);
  if (request.state === 'pending') blocks.push(buildDecisionActions(request.id));
  blocks.push(...[buildCancelBeforeStart(request)].filter((block) => block !== undefined));
  if (
    request.breakGlass &&
    request.acknowledged === null &&
    ['approved', 'applying', 'applied'].includes(request.state)
  ) {
    blocks.push({
      type: 'actions',
      block_id: `acknowledge:${request.id}`,
      elements: [
        {
          type: 'button',
          action_id: ACTIONS.acknowledge,
          text: { type: 'plain_text', text: 'Acknowledge' },
          style: 'primary',
          value: request.id,
        },
      ],
    });
  }
  // A retry cannot bring back an extension that came too late or ends past its bound, a project
  // that was deleted, or a scheduled grant whose whole time has passed.
  const retryable =
    request.state === 'revoke_failed' ||
    (request.state === 'failed' &&
      request.failure?.code !== 'EXTENSION_TOO_LATE' &&
      request.failure?.code !== 'DURATION_INVALID' &&
      request.failure?.code !== 'BUNDLE_ENDED' &&
      request.failure?.code !== 'ATLAS_TARGET_GONE' &&
      request.failure?.code !== 'REQUEST_WINDOW_PASSED');
  if (retryable) {
    blocks.push({
      type: 'actions',
      block_id: `retry:${request.id}:${request.attempt}`,
      elements: [
        {
          type: 'button',
          action_id: ACTIONS.retry,
          text: { type: 'plain_text', text: request.state === 'failed' ? 'Retry' : 'Retry revocation' },
          value: request.id,
        },
      ],
    });
  }
  if (canRevokeNow(request)) {
    blocks.push({
      type: 'actions',
      block_id: `revoke:${request.id}`,
      elements: [
        {
          type: 'button',
          action_id: ACTIONS.revokeNow,
          text: { type: 'plain_text', text: 'Revoke now' },
          style: 'danger',
          value: request.id,
          confirm: {
            title: { type: 'plain_text', text: 'Revoke this access now?' },
            text: { type: 'plain_text', text: `Rolecall ends the access of ${request.id} right away.` },
            confirm: { type: 'plain_text', text: 'Revoke now' },
            deny: { type: 'plain_text', text: 'Cancel' },
          },
        },
      ],
    });
  }
  blocks.push({
    type: 'context',
    elements: [{ type: 'mrkdwn', text: truncate(describeStatus(request), 3000) }],
  });
  return {
    text: `Access request ${request.id}: ${request.extends ? `extends ${request.extends}, ` : ''}${request.roles.join(', ')} on ${escapeMrkdwn(request.target.name)} (${STATE_WORDS[request.state].label})`,
    blocks,
  };
}
