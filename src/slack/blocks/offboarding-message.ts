import type { KnownBlock } from '@slack/types';
import type { Offboarding, TargetOutcome } from '../../offboarding/model.js';
import { escapeMrkdwn, formatRoles, mention, quoteUserText, slackDate, truncate } from '../mrkdwn.js';
import { ACTIONS } from './actions.js';
import type { SlackMessage } from './approval-message.js';

const ROWS_PER_SECTION = 10;

function row(target: Offboarding['targets'][number], outcome: TargetOutcome | undefined): string {
  const kind = target.kind === 'org' ? 'org' : 'project';
  if (!outcome) return `• ${kind} *${escapeMrkdwn(target.name)}* · _working…_`;
  const before = outcome.before === null ? '_not a member_' : formatRoles(outcome.before);
  const icon = {
    removed: ':white_check_mark:',
    'not a member': ':heavy_minus_sign:',
    refused: ':no_entry:',
    failed: ':x:',
  }[outcome.outcome];
  return `• ${kind} *${escapeMrkdwn(target.name)}* · before: ${before} · ${icon} ${escapeMrkdwn(outcome.detail)}`;
}

/**
 * The offboarding's message: who, why, who asked; Approve / Deny while it waits; once approved, a
 * live table (target, roles before, outcome), ten rows a section, within Slack's 50 blocks.
 */
export function buildOffboardingMessage(offboarding: Offboarding): SlackMessage {
  const blocks: KnownBlock[] = [
    { type: 'header', text: { type: 'plain_text', text: truncate(`Offboarding ${offboarding.id}`, 150) } },
    {
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: truncate(
          `${mention(offboarding.requesterId)} asks to remove *${escapeMrkdwn(offboarding.email)}* from every organization and project in Rolecall's policy, and to end their Rolecall grants.\n*Reason*\n${quoteUserText(offboarding.reason)}`,
          3000,
        ),
        verbatim: true,
      },
    },
  ];
  if (offboarding.state === 'pending') {
    blocks.push({
      type: 'actions',
      block_id: `offboard:${offboarding.id}`,
      elements: [
        {
          type: 'button',
          action_id: ACTIONS.offboardApprove,
          text: { type: 'plain_text', text: 'Approve' },
          style: 'primary',
          value: offboarding.id,
          confirm: {
            title: { type: 'plain_text', text: 'Remove this person everywhere?' },
            text: {
              type: 'plain_text',
              text: truncate(`Rolecall removes ${offboarding.email} from every target now.`, 300),
            },
            confirm: { type: 'plain_text', text: 'Approve' },
            deny: { type: 'plain_text', text: 'Cancel' },
          },
        },
        {
          type: 'button',
          action_id: ACTIONS.offboardDeny,
          text: { type: 'plain_text', text: 'Deny' },
          style: 'danger',
          value: offboarding.id,
        },
      ],
    });
  }
  if (offboarding.state === 'approved' || offboarding.state === 'done') {
    const outcomes = new Map(offboarding.outcomes.map((o) => [`${o.target.kind}:${o.target.id}`, o]));
    const rows = offboarding.targets.map((t) => row(t, outcomes.get(`${t.kind}:${t.id}`)));
    for (let start = 0; start < rows.length && blocks.length < 48; start += ROWS_PER_SECTION) {
      blocks.push({
        type: 'section',
        text: {
          type: 'mrkdwn',
          text: truncate(rows.slice(start, start + ROWS_PER_SECTION).join('\n'), 3000),
        },
      });
    }
  }
  const decided = offboarding.decision
    ? ` by ${mention(offboarding.decision.by)} ${slackDate(offboarding.decision.at)}`
    : '';
  const status = {
    pending: ':hourglass_flowing_sand: Waiting for an offboarding approver',
    denied: `:no_entry: *Denied*${decided}`,
    approved: `:gear: Approved${decided} · removing…`,
    done: `:white_check_mark: Approved${decided} · *done*: ${offboarding.cancelled.length} request(s) cancelled, ${offboarding.ended.length} grant(s) ended`,
  }[offboarding.state];
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: truncate(status, 3000) }] });
  return {
    text: `Offboarding ${offboarding.id} of ${escapeMrkdwn(offboarding.email)} (${offboarding.state})`,
    blocks,
  };
}
