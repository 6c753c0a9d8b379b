import type { HomeView, KnownBlock } from '@slack/types';
import { formatDuration } from '../../lib/duration.js';
import { requirementsOf, targetOf } from '../../policy/policy.js';
import type { HomeData } from '../../requests/home.js';
import type { AccessRequest } from '../../requests/model.js';
import { escapeMrkdwn, formatRoles, inlineUserText, mention, slackDate, truncate } from '../mrkdwn.js';
import { ACTIONS } from './actions.js';
import { buildDecisionActions } from './approval-message.js';
import { describeStateLabel } from './scheduled-start.js';

/** Slack's limit on blocks in a Home tab view (https://docs.slack.dev/reference/views/home-tab-views). */
export const HOME_MAX_BLOCKS = 100;
const MAX = { grants: 10, requests: 10, toDecide: 15, decided: 10 } as const;

const section = (text: string): KnownBlock => ({
  type: 'section',
  text: { type: 'mrkdwn', text: truncate(text, 3000), verbatim: true },
});
const header = (text: string): KnownBlock => ({ type: 'header', text: { type: 'plain_text', text } });
const context = (text: string): KnownBlock => ({
  type: 'context',
  elements: [{ type: 'mrkdwn', text: truncate(text, 3000) }],
});
const more = (count: number): KnownBlock[] =>
  count > 0 ? [context(`…and ${count} more: \`/atlas-access list\``)] : [];

function ends(request: AccessRequest): string {
  const at = request.grant?.revokeAt;
  return at ? `ends ${slackDate(at)}` : 'permanent';
}

function grantBlocks(request: AccessRequest): KnownBlock[] {
  const kind = request.target.kind === 'org' ? 'organization' : 'project';
  const membership = request.grant?.addedToProject ? ' · :door: in the project for this grant only' : '';
  const state = request.state === 'applied' ? ends(request) : describeStateLabel(request);
  const blocks: KnownBlock[] = [
    section(
      `${formatRoles(request.grant?.held ?? request.roles)} on ${kind} *${escapeMrkdwn(request.target.name)}* · ${state}${membership} · ${request.id}`,
    ),
  ];
  if (request.state === 'applied' && request.endedEarly === null) {
    const elements = [];
    if (request.grant?.revokeAt) {
      elements.push({
        type: 'button' as const,
        action_id: ACTIONS.extend,
        text: { type: 'plain_text' as const, text: 'Extend' },
        value: request.id,
      });
    }
    elements.push({
      type: 'button' as const,
      action_id: ACTIONS.end,
      text: { type: 'plain_text' as const, text: 'End now' },
      style: 'danger' as const,
      value: request.id,
      confirm: {
        title: { type: 'plain_text' as const, text: 'End this access now?' },
        text: {
          type: 'plain_text' as const,
          text: `Rolecall ends the access of ${request.id} right away.`,
        },
        confirm: { type: 'plain_text' as const, text: 'End now' },
        deny: { type: 'plain_text' as const, text: 'Keep it' },
      },
    });
    blocks.push({ type: 'actions', block_id: `home-grant:${request.id}`, elements });
  }
  return blocks;
}

function requestLine(request: AccessRequest, userId: string): string {
  const what = request.extends
    ? `extend ${request.extends} by ${formatDuration(request.durationSeconds ?? 0)}`
    : `${formatRoles(request.roles)} on *${escapeMrkdwn(request.target.name)}*`;
  const forWhom =
    request.granteeId === request.requesterId
      ? ''
      : request.requesterId === userId
        ? ` for ${mention(request.granteeId)}`
        : ` for you, asked by ${mention(request.requesterId)}`;
  return `*${request.id}* ${what}${forWhom} · _${describeStateLabel(request)}_ · asked ${slackDate(request.createdAt)}`;
}

function requestBlock(request: AccessRequest, userId: string): KnownBlock {
  const open = request.state === 'pending' || request.state === 'submitted';
  const mine = request.requesterId === userId;
  return open
    ? {
        type: 'section',
        text: { type: 'mrkdwn', text: truncate(requestLine(request, userId), 3000), verbatim: true },
        accessory: {
          type: 'button',
          action_id: mine ? ACTIONS.cancel : ACTIONS.notMe,
          text: { type: 'plain_text', text: mine ? 'Cancel' : 'Not me' },
          value: request.id,
        },
      }
    : section(requestLine(request, userId));
}

function waitingBlocks(request: AccessRequest, data: HomeData): KnownBlock[] {
  const target = targetOf(data.policy, request.target);
  const needed = target ? requirementsOf(target, request.roles).approvals : 1;
  const who =
    request.granteeId === request.requesterId
      ? mention(request.requesterId)
      : `${mention(request.requesterId)} for ${mention(request.granteeId)}`;
  const duration = request.durationSeconds === null ? 'permanent' : formatDuration(request.durationSeconds);
  const progress =
    needed > 1
      ? `\n:ballot_box_with_check: ${request.approvals.length} of ${needed} approvals${request.approvals.length > 0 ? `: ${request.approvals.map((a) => mention(a.by)).join(', ')}` : ''}`
      : '';
  const what = request.extends
    ? `extend ${request.extends} (${formatRoles(request.roles)} on *${escapeMrkdwn(request.target.name)}*) by ${duration}`
    : `${formatRoles(request.roles)} on *${escapeMrkdwn(request.target.name)}*, ${duration}`;
  return [
    section(`*${request.id}* ${who}: ${what}\n${inlineUserText(request.reason)}${progress}`),
    buildDecisionActions(request.id),
  ];
}

function decidedLine(request: AccessRequest, userId: string): string {
  const mine = request.approvals.some((a) => a.by === userId)
    ? 'approved'
    : request.decision?.by === userId && request.state === 'denied'
      ? 'denied'
      : 'decided';
  return `• ${request.id} ${formatRoles(request.roles)} on *${escapeMrkdwn(request.target.name)}* for ${mention(request.granteeId)}: you ${mine} · now _${describeStateLabel(request)}_`;
}

/**
 * The Home tab (views.publish): Request access, the person's access with Extend / End now, their
 * requests with Cancel, what waits for their decision with Approve / Deny (the channel's buttons,
 * same handlers and guarantees), and their recent decisions. At most {@link HOME_MAX_BLOCKS} blocks;
 * longer lists end with "and N more".
 */
export function buildHomeView(data: HomeData, userId: string): HomeView {
  const blocks: KnownBlock[] = [
    {
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: '*Rolecall* grants MongoDB Atlas roles for as long as you need them: ask, an approver decides (some roles are approved automatically), Rolecall changes Atlas and takes the access away on time.',
      },
      accessory: {
        type: 'button',
        action_id: ACTIONS.homeRequest,
        text: { type: 'plain_text', text: 'Request access' },
        style: 'primary',
      },
    },
    { type: 'divider' },
    header('Your access'),
  ];
  if (data.grants.length === 0) blocks.push(context('You hold no access through Rolecall.'));
  for (const grant of data.grants.slice(0, MAX.grants)) blocks.push(...grantBlocks(grant));
  blocks.push(...more(data.grants.length - MAX.grants));

  blocks.push(header('Your requests'));
  if (data.requests.length === 0) blocks.push(context('No requests in the last 14 days.'));
  for (const request of data.requests.slice(0, MAX.requests)) blocks.push(requestBlock(request, userId));
  blocks.push(...more(data.requests.length - MAX.requests));

  if (data.toDecide.length > 0 || data.decided.length > 0) {
    blocks.push({ type: 'divider' }, header('Waiting for you'));
    if (data.toDecide.length === 0) blocks.push(context('Nothing waits for your decision.'));
    for (const request of data.toDecide.slice(0, MAX.toDecide)) blocks.push(...waitingBlocks(request, data));
    blocks.push(...more(data.toDecide.length - MAX.toDecide));
  }
  if (data.decided.length > 0) {
    blocks.push(
      header('Recent decisions by you'),
      section(
        data.decided
          .slice(0, MAX.decided)
          .map((r) => decidedLine(r, userId))
          .join('\n'),
      ),
    );
  }
  return { type: 'home', blocks: blocks.slice(0, HOME_MAX_BLOCKS) };
}
