import type { Button, KnownBlock } from '@slack/types';
import { isTeamItem } from '../../lib/access-items.js';
import { parseId } from '../../lib/ids.js';
import {
  type AccessReview,
  LINES_PER_MESSAGE,
  type LineDecision,
  type ReviewLine,
  tally,
} from '../../reviews/model.js';
import { escapeMrkdwn, mention, slackDate, truncate } from '../mrkdwn.js';
import { ACTIONS } from './actions.js';
import type { SlackMessage } from './approval-message.js';
import { describeStarter } from './review-start-message.js';

/** The value a Keep or Revoke button carries: `RV-0001:12`. */
export function reviewLineValue(reviewId: string, n: number): string {
  return `${reviewId}:${n}`;
}

/** Reads a Keep/Revoke button's value; undefined for anything that is not `RV-<digits>:<n>`. */
export function parseReviewLineValue(value: unknown): { reviewId: string; n: number } | undefined {
  const match = typeof value === 'string' ? /^(RV-[0-9A-Z]{1,8}):(\d{1,6})$/.exec(value) : null;
  const reviewId = parseId('RV', match?.[1]);
  return match && reviewId ? { reviewId, n: Number(match[2]) } : undefined;
}

function describeDecision(decision: LineDecision, line: ReviewLine): string {
  const who = `${mention(decision.by)} ${slackDate(decision.at)}`;
  if (decision.decision === 'keep') return `:white_check_mark: Kept by ${who}`;
  const [verb, done] = line.team ? ['Remove from the team', 'Removed from the team'] : ['Revoke', 'Revoked'];
  switch (decision.outcome) {
    case undefined:
      return `:hourglass_flowing_sand: ${verb} by ${who} · removing it in Atlas…`;
    case 'failed':
      return `:x: ${verb} by ${who} · *failed*: ${escapeMrkdwn(decision.detail ?? '')}`;
    default:
      return `:lock: ${done} by ${who} · ${escapeMrkdwn(decision.detail ?? '')}`;
  }
}

/** What a line says after the person and role: held through a team, and whether Rolecall may remove them from it. */
function teamWords(line: ReviewLine): string {
  if (!line.team) return '';
  const through = ` through \`${escapeMrkdwn(line.team.item)}\``;
  return line.team.offeredOn === null
    ? `${through} · _not offered on an organization target of the policy: only an organization owner can take them out of the team_`
    : through;
}

/** The danger button of an undecided line: Revoke the role, or, for a role held through a team, leave the team. */
function revokeButton(review: AccessReview, line: ReviewLine, value: string): Button | undefined {
  const team = line.team;
  if (team && team.offeredOn === null) return undefined;
  const text = team
    ? `Rolecall removes ${line.username} from ${team.item} in ${team.offeredOn} now: they lose ${line.role} on ${review.target.name} and whatever else the team gives. Their own roles stay.`
    : isTeamItem(line.role)
      ? `Rolecall removes ${line.username} from ${line.role} now; their organization roles stay.`
      : `Rolecall removes ${line.role} from ${line.username} on ${review.target.name} now.`;
  return {
    type: 'button',
    action_id: ACTIONS.reviewRevoke,
    text: { type: 'plain_text', text: truncate(team ? `Remove from ${team.item}` : 'Revoke', 75) },
    style: 'danger',
    value,
    confirm: {
      title: { type: 'plain_text', text: team ? 'Remove from the team?' : 'Revoke this role?' },
      text: { type: 'plain_text', text: truncate(text, 300) },
      confirm: { type: 'plain_text', text: team ? 'Remove' : 'Revoke' },
      deny: { type: 'plain_text', text: 'Cancel' },
    },
  };
}

function lineBlocks(
  review: AccessReview,
  line: ReviewLine,
  decision: LineDecision | undefined,
): KnownBlock[] {
  const outside = line.outsidePolicy ? ' · _not a role people can request here_' : '';
  const blocks: KnownBlock[] = [
    {
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: truncate(
          `*${line.n}.* ${escapeMrkdwn(line.username)} · \`${escapeMrkdwn(line.role)}\`${teamWords(line)}${outside}`,
          3000,
        ),
      },
    },
  ];
  if (decision) {
    blocks.push({
      type: 'context',
      elements: [{ type: 'mrkdwn', text: truncate(describeDecision(decision, line), 3000) }],
    });
  } else if (review.closedAt === null) {
    const value = reviewLineValue(review.id, line.n);
    const revoke = revokeButton(review, line, value);
    blocks.push({
      type: 'actions',
      block_id: `review:${value}`,
      elements: [
        { type: 'button', action_id: ACTIONS.reviewKeep, text: { type: 'plain_text', text: 'Keep' }, value },
        ...(revoke ? [revoke] : []),
      ],
    });
  } else {
    blocks.push({
      type: 'context',
      elements: [{ type: 'mrkdwn', text: 'Not decided before the review closed.' }],
    });
  }
  return blocks;
}

/**
 * Message `index` of a review: the first (in the approvals channel) has the header, the summary and
 * where the review stands; each carries up to {@link LINES_PER_MESSAGE} lines, two blocks a line, so
 * every message stays within Slack's 50 blocks.
 */
export function buildReviewMessage(
  review: AccessReview,
  decisions: ReadonlyMap<number, LineDecision>,
  index: number,
): SlackMessage {
  const lines = review.lines.slice(index * LINES_PER_MESSAGE, (index + 1) * LINES_PER_MESSAGE);
  const blocks: KnownBlock[] = [];
  if (index === 0) {
    const kind = review.target.kind === 'org' ? 'organization' : 'project';
    const counts = tally(review, decisions);
    const by = describeStarter(review.startedBy);
    blocks.push(
      {
        type: 'header',
        text: {
          type: 'plain_text',
          text: truncate(`Access review ${review.id}: ${review.target.name}`, 150),
        },
      },
      {
        type: 'section',
        text: {
          type: 'mrkdwn',
          text: truncate(
            `Who holds what on ${kind} *${escapeMrkdwn(review.target.name)}*, started ${by} ${slackDate(review.createdAt)}: *${review.counts.people}* people, *${review.counts.standing}* standing role(s) that no Rolecall grant explains, *${review.counts.temporary}* held through Rolecall grants. Keep or revoke each standing role; a role held through a team is removed only by taking the person out of the team; nobody decides on their own access.${review.teamsNote === undefined ? '' : ` Roles held through teams are not listed: ${escapeMrkdwn(review.teamsNote)}`}`,
            3000,
          ),
        },
      },
      {
        type: 'context',
        elements: [
          {
            type: 'mrkdwn',
            text:
              review.closedAt === null
                ? `:hourglass_flowing_sand: Open · ${counts.kept} kept, ${counts.revoked} revoked, ${counts.failed} failed, ${counts.undecided} to decide · policy ${review.policy}`
                : `:white_check_mark: Closed ${slackDate(review.closedAt)} · ${counts.kept} kept, ${counts.revoked} revoked, ${counts.failed} failed · policy ${review.policy}`,
          },
        ],
      },
    );
    if (review.lines.length === 0) {
      blocks.push({
        type: 'context',
        elements: [
          { type: 'mrkdwn', text: 'Nothing to decide: every role here is held through a Rolecall grant.' },
        ],
      });
    }
  } else {
    blocks.push({
      type: 'context',
      elements: [
        {
          type: 'mrkdwn',
          text: `${review.id}, lines ${lines[0]?.n ?? ''}–${lines[lines.length - 1]?.n ?? ''} of ${review.lines.length}`,
        },
      ],
    });
  }
  for (const line of lines) blocks.push(...lineBlocks(review, line, decisions.get(line.n)));
  return {
    text: `Access review ${review.id} of ${escapeMrkdwn(review.target.name)}${index > 0 ? ` (lines from ${lines[0]?.n ?? ''})` : ''}`,
    blocks,
  };
}

/** `/atlas-access status TARGET`: the target's latest reviews and when the next one runs. */
export function buildReviewStatus(status: {
  readonly target: { readonly name: string; readonly reviewEverySeconds: number | undefined };
  readonly reviews: readonly AccessReview[];
  readonly nextDue: number | null;
}): SlackMessage {
  const next =
    status.nextDue === null
      ? 'No scheduled reviews (add `review: 90d` to the target in the policy); `/atlas-access review` starts one now.'
      : `Next scheduled review: ${slackDate(status.nextDue)}.`;
  const latest =
    status.reviews.length === 0
      ? '_No review yet._'
      : status.reviews
          .map(
            (r) =>
              `• ${r.id} ${slackDate(r.createdAt)}: ${r.counts.standing} standing role(s)${r.closedAt === null ? ', open' : `, closed ${slackDate(r.closedAt)}`}`,
          )
          .join('\n');
  const text = `*Access reviews of ${escapeMrkdwn(status.target.name)}*\n${next}\n${latest}`;
  return { text, blocks: [{ type: 'section', text: { type: 'mrkdwn', text: truncate(text, 3000) } }] };
}
