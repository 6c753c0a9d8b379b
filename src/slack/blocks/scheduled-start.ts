import type { KnownBlock } from '@slack/types';
import type { AccessRequest } from '../../requests/model.js';
import { endOfGrant } from '../../requests/scheduled-start.js';
import { STATE_WORDS } from '../../requests/state-machine.js';
import { slackDate } from '../mrkdwn.js';
import { ACTIONS } from './actions.js';

/** ` from <date>` for a grant scheduled to start later (each reader sees it in their own time zone); '' otherwise. */
export function startPhrase(request: Pick<AccessRequest, 'startsAt'>): string {
  return request.startsAt === null ? '' : ` from ${slackDate(request.startsAt)}`;
}

/** True while an approved grant waits for its start (Slack side: a message built now). */
export function isWaitingForStart(request: Pick<AccessRequest, 'state' | 'startsAt'>): boolean {
  return request.state === 'approved' && request.startsAt !== null && request.startsAt > Date.now();
}

/** The status line of an approved grant waiting for its start; undefined for any other. */
export function describeWaitingForStart(request: AccessRequest, by: string): string | undefined {
  if (!isWaitingForStart(request) || request.startsAt === null) return undefined;
  const end = endOfGrant(request, request.startsAt);
  return `:alarm_clock: Approved${by} · starts ${slackDate(request.startsAt)}${end === null ? '' : `, revoked automatically ${slackDate(end)}`} · it can be cancelled until then`;
}

/** What the requester and the grantee hear when a scheduled grant is approved. */
export function describeScheduledApproval(request: AccessRequest, by: string): string {
  const start = request.startsAt ?? Date.now();
  const end = endOfGrant(request, start);
  return `:alarm_clock: ${request.id} was approved by ${by}. Rolecall applies it in Atlas ${slackDate(start)}${end === null ? '' : ` and revokes it ${slackDate(end)}`}. Until it starts it can be cancelled: /atlas-access cancel ${request.id}.`;
}

/** A Cancel button on a grant waiting for its start (the requester, the grantee or an approver may press it). */
export function buildCancelBeforeStart(request: AccessRequest): KnownBlock | undefined {
  if (!isWaitingForStart(request)) return undefined;
  return {
    type: 'actions',
    block_id: `cancel-scheduled:${request.id}`,
    elements: [
      {
        type: 'button',
        action_id: ACTIONS.cancelScheduled,
        text: { type: 'plain_text', text: 'Cancel before start' },
        value: request.id,
      },
    ],
  };
}

/** How a request's state reads in a list: an approved grant waiting for its start says when it starts. */
export function describeStateLabel(request: AccessRequest): string {
  return isWaitingForStart(request) && request.startsAt !== null
    ? `approved, starts ${slackDate(request.startsAt)}`
    : STATE_WORDS[request.state].label;
}
