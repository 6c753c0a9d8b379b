import type { KnownBlock } from '@slack/types';
import { formatDuration } from '../../lib/duration.js';
import type { AccessRequest } from '../../requests/model.js';
import { rolesAfterGrant, rolesToAdd } from '../../requests/role-set.js';
import { escapeMrkdwn, formatRoles, mention, slackDate, truncate } from '../mrkdwn.js';

/** Action ids of the buttons on request messages. */
export const ACTIONS = {
  approve: 'request_approve',
  deny: 'request_deny',
  retry: 'request_retry',
  cancel: 'request_cancel',
} as const;

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

/** The approvers' message for a request; buttons only while it is pending. */
export function buildApprovalMessage(request: AccessRequest): SlackMessage {
  const who =
    request.requesterId === request.granteeId
      ? `${mention(request.requesterId)} asks for Atlas access`
      : `${mention(request.requesterId)} asks for Atlas access for ${mention(request.granteeId)}`;
  const kind = request.target.scope === 'org' ? 'organization' : 'project';
  const after =
    request.rolesAtRequest === null
      ? null
      : rolesAfterGrant(request.rolesAtRequest, rolesToAdd(request.rolesAtRequest, request.roles));
  const fields = [
    `*Target*\n${kind} *${escapeMrkdwn(request.target.name)}* (\`${request.target.id}\`)`,
    `*Atlas user*\n${escapeMrkdwn(request.granteeEmail)}`,
    `*Roles requested*\n${formatRoles(request.roles)}`,
    `*Duration*\n${request.durationSeconds === null ? 'permanent' : `${formatDuration(request.durationSeconds)}, then revoked automatically`}`,
    `*Current roles*\n${formatRoles(request.rolesAtRequest)}`,
    `*Roles after approval*\n${formatRoles(after)}`,
  ];
  const blocks: KnownBlock[] = [
    { type: 'header', text: { type: 'plain_text', text: `Access request ${request.id}`, emoji: true } },
    { type: 'section', text: { type: 'mrkdwn', text: `${who}.` } },
    { type: 'section', fields: fields.map((text) => ({ type: 'mrkdwn', text: truncate(text, FIELD_MAX) })) },
    {
      type: 'section',
      text: { type: 'mrkdwn', text: truncate(`*Reason*\n${escapeMrkdwn(request.reason)}`, 3000) },
    },
  ];
  if (request.state === 'pending') blocks.push(buildDecisionActions(request.id));
  if (request.state === 'failed' || request.state === 'revoke_failed') {
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
  blocks.push({
    type: 'context',
    elements: [{ type: 'mrkdwn', text: truncate(describeStatus(request), 3000) }],
  });
  return {
    text: `Access request ${request.id}: ${request.roles.join(', ')} on ${escapeMrkdwn(request.target.name)} (${request.state})`,
    blocks,
  };
}

/** One line saying where the request stands, who decided and what happened. */
export function describeStatus(request: AccessRequest): string {
  const by = request.decision ? ` by ${mention(request.decision.by)}` : '';
  switch (request.state) {
    case 'pending':
      return `:hourglass_flowing_sand: Waiting for an approver · requested ${slackDate(request.createdAt)}`;
    case 'approved':
    case 'applying':
      return `:white_check_mark: Approved${by} · applying in Atlas…`;
    case 'applied': {
      const until = request.grant?.revokeAt
        ? ` · revoked automatically ${slackDate(request.grant.revokeAt)}`
        : '';
      return `:white_check_mark: Approved${by} · *applied* in Atlas${until}`;
    }
    case 'revoking':
      return `:white_check_mark: Approved${by} · applied · revoking now…`;
    case 'revoked':
      return `:white_check_mark: Approved${by} · applied · :lock: *revoked* ${slackDate(request.revocation?.revokedAt ?? request.updatedAt)}`;
    case 'denied':
      return `:no_entry: *Denied*${by}${request.decision?.note ? `: ${escapeMrkdwn(request.decision.note)}` : ''}`;
    case 'failed':
      return `:x: Approved${by} · *failed*: ${escapeMrkdwn(request.failure?.message ?? 'unknown error')}`;
    case 'revoke_failed':
      return `:warning: Approved${by} · applied · *revocation failed*: ${escapeMrkdwn(request.failure?.message ?? 'unknown error')}`;
    case 'expired':
      return ':hourglass: *Expired* before anyone decided';
    case 'cancelled':
      return ':wastebasket: *Cancelled*';
  }
}
