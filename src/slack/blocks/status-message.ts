import type { KnownBlock } from '@slack/types';
import { formatDuration } from '../../lib/duration.js';
import type { AccessRequest, RequestAuditEntry } from '../../requests/model.js';
import type { RequestOverview } from '../../requests/views.js';
import { escapeMrkdwn, formatRoles, inlineUserText, mention, slackDate, truncate } from '../mrkdwn.js';
import { ACTIONS } from './actions.js';
import { buildDecisionActions, describeStatus, type SlackMessage } from './approval-message.js';
import { describeStateLabel, isWaitingForStart, startPhrase } from './scheduled-start.js';

/** The direct message a grantee gets when someone asks for access on their behalf: Not me / cancel. */
export function buildOnBehalfNotice(request: AccessRequest): SlackMessage {
  const duration = `${request.durationSeconds === null ? 'permanently' : `for ${formatDuration(request.durationSeconds)}`}${startPhrase(request)}`;
  const text = `:bust_in_silhouette: ${mention(request.requesterId)} asked for Atlas access for you (${request.id}): ${formatRoles(request.roles)} on *${escapeMrkdwn(request.target.name)}* ${duration}, because ${inlineUserText(request.reason)}. If you did not expect this, press *Not me*: the request is cancelled and nothing changes.`;
  return {
    text,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: truncate(text, 3000), verbatim: true } },
      {
        type: 'actions',
        block_id: `not-me:${request.id}`,
        elements: [
          {
            type: 'button',
            action_id: ACTIONS.notMe,
            text: { type: 'plain_text', text: 'Not me / cancel' },
            style: 'danger',
            value: request.id,
          },
        ],
      },
    ],
  };
}

/** What the requester sees at once, before a worker has checked the request against Atlas. */
export function buildReceived(request: AccessRequest): SlackMessage {
  const duration = `${request.durationSeconds === null ? 'permanently' : `for ${formatDuration(request.durationSeconds)}`}${startPhrase(request)}`;
  const text = request.extends
    ? `:inbox_tray: Request *${request.id}* received, to extend ${request.extends} (${formatRoles(request.roles)} on *${escapeMrkdwn(request.target.name)}*) by ${formatDuration(request.durationSeconds ?? 0)}. It goes to the approvers now.`
    : `:inbox_tray: Request *${request.id}* received: ${formatRoles(request.roles)} on *${escapeMrkdwn(request.target.name)}* ${duration}. Rolecall is checking it against Atlas; you will hear here in a moment.`;
  return { text, blocks: [{ type: 'section', text: { type: 'mrkdwn', text } }, cancelActions(request.id)] };
}

function cancelActions(requestId: string): KnownBlock {
  return {
    type: 'actions',
    block_id: `cancel:${requestId}`,
    elements: [
      {
        type: 'button',
        action_id: ACTIONS.cancel,
        text: { type: 'plain_text', text: 'Cancel request' },
        value: requestId,
      },
    ],
  };
}

/** The confirmation a requester sees, with a button to withdraw the request. */
export function buildConfirmation(request: AccessRequest, approvalsChannel: string): SlackMessage {
  const duration = `${request.durationSeconds === null ? 'permanently' : `for ${formatDuration(request.durationSeconds)}`}${startPhrase(request)}`;
  const what = request.extends
    ? `to extend ${request.extends} (${formatRoles(request.roles)} on *${escapeMrkdwn(request.target.name)}*) by ${formatDuration(request.durationSeconds ?? 0)}`
    : `${formatRoles(request.roles)} on *${escapeMrkdwn(request.target.name)}* ${duration}`;
  const joins = request.addsToProject
    ? ' Approving it adds the grantee to the project until the access ends.'
    : '';
  const text =
    request.decision?.by === 'policy'
      ? `:robot_face: Request *${request.id}* was approved by the policy, no decision needed: ${what}. ${request.startsAt === null ? 'Rolecall is applying it in Atlas now' : 'Rolecall applies it in Atlas at its start; until then you can cancel it'}; <#${approvalsChannel}> can see it.`
      : request.breakGlass
        ? `:rotating_light: Break-glass *${request.id}*: ${what}. Rolecall is applying it now, without a decision; the approvers in <#${approvalsChannel}> have been told.`
        : `:inbox_tray: Request *${request.id}* is waiting for approval in <#${approvalsChannel}>: ${what}.${joins} You will get a message when it is decided.`;
  const blocks: KnownBlock[] = [{ type: 'section', text: { type: 'mrkdwn', text } }];
  if (request.state === 'pending' || isWaitingForStart(request)) blocks.push(cancelActions(request.id));
  return { text, blocks };
}

/** Audit details keep ISO times (machine-readable); readers see them in their own time zone. */
function withSlackDates(text: string): string {
  return text.replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z/g, (iso) => slackDate(Date.parse(iso)));
}

function summary(request: AccessRequest): string {
  const who = request.granteeId === request.requesterId ? '' : ` for ${mention(request.granteeId)}`;
  const duration = `${request.durationSeconds === null ? 'permanent' : formatDuration(request.durationSeconds)}${startPhrase(request)}`;
  const what = request.extends
    ? `extends ${request.extends} by ${duration}: ${formatRoles(request.roles)}`
    : `${formatRoles(request.roles)}`;
  return `*${request.id}* ${what} on *${escapeMrkdwn(request.target.name)}*${who}${request.extends ? '' : `, ${duration}`} · _${describeStateLabel(request)}_`;
}

/** `/atlas-access status ID`: where the request stands and its audit trail. */
export function buildStatusMessage(
  request: AccessRequest,
  audit: readonly RequestAuditEntry[],
): SlackMessage {
  const lines = audit.map((entry) => {
    const actor = entry.actor === 'system' ? 'Rolecall' : mention(entry.actor);
    // A note (drift, an extension, an early end) keeps the state: the table has no X -> X move.
    const move =
      entry.from === null
        ? entry.to
        : entry.from === entry.to
          ? `note (${entry.to})`
          : `${entry.from} → ${entry.to}`;
    const detail = entry.detail ? `: ${withSlackDates(escapeMrkdwn(entry.detail))}` : '';
    return `• ${slackDate(entry.at)} ${move} by ${actor}${detail}`;
  });
  const kept: string[] = [];
  let length = 0;
  for (const line of [...lines].reverse()) {
    if (length + line.length + 1 > 2_800) break;
    kept.unshift(line);
    length += line.length + 1;
  }
  const dropped = lines.length - kept.length;
  return {
    text: `${request.id}: ${describeStateLabel(request)}`,
    blocks: [
      {
        type: 'section',
        text: {
          type: 'mrkdwn',
          text: truncate(
            `${summary(request)}\nRequested by ${mention(request.requesterId)}: ${inlineUserText(request.reason)}`,
            3000,
          ),
        },
      },
      {
        type: 'context',
        elements: [{ type: 'mrkdwn', text: truncate(describeStatus(request), 3000) }],
      },
      {
        type: 'section',
        text: {
          type: 'mrkdwn',
          text: `*Audit trail*${dropped > 0 ? ` (${dropped} earlier entries not shown)` : ''}\n${kept.join('\n')}`,
        },
      },
    ],
  };
}

const MAX_LISTED = 10;

/** `/atlas-access list`: the caller's open requests and, for approvers, what waits for them. */
export function buildListMessage(overview: RequestOverview): SlackMessage {
  const blocks: KnownBlock[] = [];
  const mine = overview.mine.slice(0, 20).map(summary);
  blocks.push({
    type: 'section',
    text: {
      type: 'mrkdwn',
      text: truncate(`*Your open requests*\n${mine.length > 0 ? mine.join('\n') : '_none_'}`, 3000),
    },
  });
  if (overview.toDecide.length > 0) {
    blocks.push({
      type: 'section',
      text: { type: 'mrkdwn', text: `*Waiting for your decision* (${overview.toDecide.length})` },
    });
    for (const request of overview.toDecide.slice(0, MAX_LISTED)) {
      blocks.push({
        type: 'section',
        text: {
          type: 'mrkdwn',
          text: truncate(
            `${summary(request)}\n${mention(request.requesterId)}: ${inlineUserText(request.reason)}`,
            3000,
          ),
        },
      });
      blocks.push(buildDecisionActions(request.id));
    }
    if (overview.toDecide.length > MAX_LISTED) {
      blocks.push({
        type: 'context',
        elements: [
          {
            type: 'mrkdwn',
            text: `…and ${overview.toDecide.length - MAX_LISTED} more in the approvals channel.`,
          },
        ],
      });
    }
  }
  return {
    text: `${overview.mine.length} open request(s), ${overview.toDecide.length} waiting for you`,
    blocks,
  };
}
