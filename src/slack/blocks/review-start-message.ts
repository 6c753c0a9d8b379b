import type { PolicyTarget } from '../../policy/policy.js';
import type { ReviewStartOutcome } from '../../reviews/review-starter.js';
import { escapeMrkdwn, mention } from '../mrkdwn.js';

/** Who started a review, after "started": on schedule, by Rolecall itself, or by a person. */
export function describeStarter(startedBy: string): string {
  if (startedBy === 'schedule') return 'on schedule';
  if (startedBy === 'system') return 'by Rolecall';
  return `by ${mention(startedBy)}`;
}

/** How long ago `at` was, in words: "moments ago", "5 minutes ago", "3 days ago". */
export function describeAge(at: number, now: number): string {
  const seconds = Math.max(0, Math.floor((now - at) / 1000));
  const count = (n: number, unit: string) => `${n} ${unit}${n === 1 ? '' : 's'} ago`;
  if (seconds < 60) return 'moments ago';
  if (seconds < 3600) return count(Math.floor(seconds / 60), 'minute');
  if (seconds < 86_400) return count(Math.floor(seconds / 3600), 'hour');
  return count(Math.floor(seconds / 86_400), 'day');
}

/** A reply in words only. */
export interface TextReply {
  readonly text: string;
}

/** Links to review messages by review id (chat.getPermalink), where Slack gave one. */
export type ReviewLinks = ReadonlyMap<string, string>;

/** Where an open review is, in words: "RV-0003 of *payments-prod* is still open in <#C…> (started 3 days ago)". */
function openReviewWords(
  outcome: Extract<ReviewStartOutcome<PolicyTarget>, { status: 'open' }>,
  links: ReviewLinks,
  now: number,
): { where: string; link: string | undefined } {
  const { review } = outcome;
  const channel = review.messages[0]?.channelId ?? outcome.target.approvalsChannel;
  return {
    where: `${review.id} of *${escapeMrkdwn(outcome.target.name)}* is still open in <#${channel}> (started ${describeAge(review.createdAt, now)})`,
    link: links.get(review.id),
  };
}

/**
 * The answer to `/atlas-access review TARGET`: what Rolecall did, never a promise it will not keep.
 * Started: it appears in a moment; open: which review, where, since when, and a link to it; being
 * started: by whom, and where it will appear.
 */
export function buildReviewStartReply(
  outcome: ReviewStartOutcome<PolicyTarget>,
  links: ReviewLinks,
  now: number,
): TextReply {
  const name = escapeMrkdwn(outcome.target.name);
  switch (outcome.status) {
    case 'started':
      return {
        text: `:mag: Reviewing *${name}*: Rolecall is reading its members from Atlas; the review appears in <#${outcome.target.approvalsChannel}> in a moment.`,
      };
    case 'open': {
      const { where, link } = openReviewWords(outcome, links, now);
      return {
        text: `:mag: ${where}; decide its lines there${link ? `: <${link}|open ${outcome.review.id}>` : ''}. A new review of *${name}* can start once it is closed.`,
      };
    }
    case 'starting':
      return {
        text: `:mag: A review of *${name}* is already being started (${describeStarter(outcome.startedBy)}, ${describeAge(outcome.since, now)}); it appears in <#${outcome.target.approvalsChannel}> in a moment.`,
      };
  }
}

/**
 * The answer to `/atlas-access review all`: which reviews started, which were already open (where,
 * with links) or being started, and which targets the person may not review.
 */
export function buildReviewAllReply(
  result: {
    readonly outcomes: readonly ReviewStartOutcome<PolicyTarget>[];
    readonly refused: readonly PolicyTarget[];
  },
  links: ReviewLinks,
  now: number,
): TextReply {
  const lines: string[] = [':mag: *Access reviews of the targets you approve*'];
  const started = result.outcomes.filter((o) => o.status === 'started');
  if (started.length > 0) {
    lines.push(
      `• Started, each appears in its approvals channel in a moment: ${started
        .map((o) => `*${escapeMrkdwn(o.target.name)}* in <#${o.target.approvalsChannel}>`)
        .join(', ')}.`,
    );
  }
  for (const outcome of result.outcomes) {
    if (outcome.status === 'open') {
      const { where, link } = openReviewWords(outcome, links, now);
      lines.push(`• ${where}; decide its lines there${link ? `: <${link}|open ${outcome.review.id}>` : ''}.`);
    } else if (outcome.status === 'starting') {
      lines.push(
        `• A review of *${escapeMrkdwn(outcome.target.name)}* is already being started (${describeStarter(outcome.startedBy)}, ${describeAge(outcome.since, now)}); it appears in <#${outcome.target.approvalsChannel}> in a moment.`,
      );
    }
  }
  if (result.refused.length > 0) {
    lines.push(
      `• Not yours to review (only their approvers can): ${result.refused.map((t) => `*${escapeMrkdwn(t.name)}*`).join(', ')}.`,
    );
  }
  return { text: lines.join('\n') };
}
