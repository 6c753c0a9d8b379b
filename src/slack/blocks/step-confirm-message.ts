import type { KnownBlock } from '@slack/types';
import { formatDuration } from '../../lib/duration.js';
import type { StepConfirmation } from '../../requests/step-confirmations.js';
import { escapeMrkdwn, formatRoles, mention, quoteUserText, slackDate, truncate } from '../mrkdwn.js';
import { ACTIONS } from './actions.js';
import type { SlackMessage } from './approval-message.js';

/** Slack's limit for a section's text (Block Kit reference). */
const SECTION_MAX = 3000;

/** Roles, target, grantee and duration, in one line of mrkdwn. */
function describeLine(confirmation: StepConfirmation): string {
  const { line } = confirmation;
  const kind = line.scope === 'org' ? 'organization' : 'project';
  const duration =
    line.durationSeconds === null ? 'permanently' : `for ${formatDuration(line.durationSeconds)}`;
  return `${formatRoles(line.roles)} on ${kind} *${escapeMrkdwn(line.target)}* for ${mention(confirmation.granteeId)}, ${duration}`;
}

/** Someone's words as a block quote within `max` characters: cut before escaping, so no entity is cut. */
function quoteWithin(text: string, max: number): string {
  let chars = [...text];
  let quoted = quoteUserText(text);
  while (quoted.length > max && chars.length > 0) {
    chars = chars.slice(0, Math.floor(chars.length * 0.9));
    quoted = quoteUserText(`${chars.join('')}…`);
  }
  return quoted;
}

/** How long the person had to confirm, in words. */
function within(confirmation: StepConfirmation): string {
  return formatDuration(Math.max(1, Math.round((confirmation.deadline - confirmation.askedAt) / 1000)));
}

/**
 * The direct message that asks the person who ran a workflow to confirm the on-behalf request its
 * step would file in their name: exactly what (who gets access, roles, target, duration, reason),
 * where it comes from, until when, with Confirm and Cancel. User text is escaped here, once.
 */
export function buildStepConfirmRequest(confirmation: StepConfirmation): SlackMessage {
  const { line } = confirmation;
  const grantee = mention(confirmation.granteeId);
  const kind = line.scope === 'org' ? 'organization' : 'project';
  const duration =
    line.durationSeconds === null
      ? 'permanent (until someone ends it)'
      : `${formatDuration(line.durationSeconds)}, then revoked automatically`;
  const details = [
    `*Who gets access:* ${grantee}`,
    `*Roles:* ${formatRoles(line.roles)}`,
    `*Target:* ${kind} *${escapeMrkdwn(line.target)}*`,
    `*Duration:* ${duration}`,
  ].join('\n');
  const text = `:raised_hand: A workflow you ran wants to file an Atlas access request for ${grantee} in your name. Nothing is filed until you press Confirm.`;
  const blocks: KnownBlock[] = [
    {
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: `:raised_hand: A workflow you ran wants to file an Atlas access request *in your name*. Nothing is filed until you press *Confirm*.`,
      },
    },
    { type: 'section', text: { type: 'mrkdwn', text: truncate(details, SECTION_MAX) } },
    {
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: `*Reason:*\n${quoteWithin(line.reason, SECTION_MAX - 20)}`,
        verbatim: true,
      },
    },
    {
      type: 'context',
      elements: [
        {
          type: 'mrkdwn',
          text: `This request comes from a workflow step set up by its author, not from you. If you confirm, you are its requester: the approvers decide as usual and ${grantee} can still say *Not me*. Not confirmed by ${slackDate(confirmation.deadline)} (${within(confirmation)}), nothing is filed and the step ends with an error.`,
        },
      ],
    },
    {
      type: 'actions',
      block_id: `workflow-confirm:${confirmation.executionId}`,
      elements: [
        {
          type: 'button',
          action_id: ACTIONS.stepConfirm,
          text: { type: 'plain_text', text: 'Confirm' },
          style: 'primary',
          value: confirmation.executionId,
        },
        {
          type: 'button',
          action_id: ACTIONS.stepCancel,
          text: { type: 'plain_text', text: 'Cancel' },
          style: 'danger',
          value: confirmation.executionId,
        },
      ],
    },
  ];
  return { text, blocks };
}

/** What became of a step's request, in one sentence (for the updated DM and for a late click). */
export function describeStepConfirmation(confirmation: StepConfirmation): string {
  const what = describeLine(confirmation);
  const when = confirmation.changedAt === null ? '' : ` (${slackDate(confirmation.changedAt)})`;
  switch (confirmation.state) {
    case 'pending':
      return `Rolecall is waiting for you to confirm or cancel the request for ${what}.`;
    case 'filing':
      return `You confirmed${when}; Rolecall is filing the request for ${what}.`;
    case 'filed':
      return confirmation.requestId === null
        ? `You confirmed${when}, and Rolecall filed the request for ${what}. The workflow continues when it is decided.`
        : `You confirmed${when}, and Rolecall filed it as *${confirmation.requestId}*: ${what}. The approvers decide next; the workflow continues when it is decided. To withdraw it: \`/atlas-access cancel ${confirmation.requestId}\`.`;
    case 'refused':
      return `Rolecall did not file the request for ${what}${when}: ${escapeMrkdwn(confirmation.failure ?? 'it could not go ahead')} The workflow step ended with this error.`;
    case 'cancelled':
      return `You cancelled the request for ${what}${when}: nothing was filed, and the workflow step ended with an error saying so.`;
    case 'expired':
      return `Nobody confirmed the request for ${what} within ${within(confirmation)}${when}: nothing was filed, and the workflow step ended with an error. Run the workflow again to ask again.`;
  }
}

const ICONS: Record<StepConfirmation['state'], string> = {
  pending: ':raised_hand:',
  filing: ':hourglass_flowing_sand:',
  filed: ':white_check_mark:',
  refused: ':warning:',
  cancelled: ':wastebasket:',
  expired: ':hourglass:',
};

/** The DM once it is settled: what happened, without the buttons. */
export function buildStepConfirmSettled(confirmation: StepConfirmation): SlackMessage {
  const text = `${ICONS[confirmation.state]} ${describeStepConfirmation(confirmation)}`;
  return { text, blocks: [{ type: 'section', text: { type: 'mrkdwn', text: truncate(text, SECTION_MAX) } }] };
}

/**
 * Why the step ended without a request, for functions.completeError: plain text (Workflow Builder
 * shows it as is, no mrkdwn) for the person who ran the workflow.
 */
export function describeStepError(confirmation: StepConfirmation): string {
  switch (confirmation.state) {
    case 'cancelled':
      return 'The person who ran the workflow cancelled the Atlas access request this step would have filed in their name; nothing was filed.';
    case 'expired':
      return `The Atlas access request this step would have filed in the name of the person who ran the workflow was not confirmed within ${within(confirmation)}; nothing was filed.`;
    default:
      return confirmation.failure ?? 'Rolecall did not file the request this step asked for.';
  }
}
