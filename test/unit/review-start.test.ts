import { describe, expect, it } from 'vitest';
import { SANDBOX_POLICY } from '../../dev/sandbox.js';
import type { PolicyTarget } from '../../src/policy/policy.js';
import { parsePolicy } from '../../src/policy/read-policy.js';
import { type AccessReview, DUE_MARGIN_MS, retimedNextRun } from '../../src/reviews/model.js';
import { buildHelpMessage } from '../../src/slack/blocks/help-message.js';
import {
  buildReviewAllReply,
  buildReviewStartReply,
  describeAge,
  describeStarter,
} from '../../src/slack/blocks/review-start-message.js';

const NOW = 1_800_000_000_000;
const DAY = 86_400_000;

describe('retimedNextRun', () => {
  it('moves the next run to the last run plus the new period when the period changes', () => {
    // Last run 10 days ago, every 90 days: next in 80 days. 91 days: next in 81 days.
    const scheduled = { next: NOW + 80 * DAY, previousEvery: 90 * DAY };
    expect(retimedNextRun(scheduled, 91 * DAY, NOW)).toBe(NOW + 81 * DAY);
    expect(retimedNextRun(scheduled, 30 * DAY, NOW)).toBe(NOW + 20 * DAY);
  });

  it('runs now when the last run plus the new period is already past', () => {
    const scheduled = { next: NOW + 80 * DAY, previousEvery: 90 * DAY };
    expect(retimedNextRun(scheduled, 7 * DAY, NOW)).toBe(NOW);
    expect(retimedNextRun(scheduled, 10 * DAY, NOW)).toBe(NOW);
  });

  it('keeps a run that is due or about to start where it is instead of postponing or repeating it', () => {
    expect(retimedNextRun({ next: NOW - 5_000, previousEvery: 90 * DAY }, 91 * DAY, NOW)).toBe(NOW);
    expect(retimedNextRun({ next: NOW + DUE_MARGIN_MS, previousEvery: 90 * DAY }, 91 * DAY, NOW)).toBe(
      NOW + DUE_MARGIN_MS,
    );
    expect(retimedNextRun({ next: NOW + DUE_MARGIN_MS + 1, previousEvery: 90 * DAY }, 91 * DAY, NOW)).toBe(
      NOW + DUE_MARGIN_MS + 1 + DAY,
    );
  });

  it('gives the same answer to every worker that re-times from the same schedule', () => {
    const scheduled = { next: NOW + 3 * DAY, previousEvery: 90 * DAY };
    const answers = new Set(Array.from({ length: 5 }, () => retimedNextRun(scheduled, 91 * DAY, NOW)));
    expect([...answers]).toEqual([NOW + 4 * DAY]);
  });
});

describe('review start replies', () => {
  const policy = parsePolicy(
    `${SANDBOX_POLICY}  - name: empty\n    org: 5f1a2b3c4d5e6f7a8b9c0d99\n    approvers: [U0BOB]\n    roles: [ORG_READ_ONLY]\n`,
  );
  const targetNamed = (name: string): PolicyTarget => {
    const target = policy.targets.find((t) => t.name === name);
    if (!target) throw new Error(name);
    return target;
  };
  const payments = targetNamed('payments-prod');
  const review: AccessReview = {
    id: 'RV-0003',
    target: { name: payments.name, kind: payments.kind, id: payments.id },
    startedBy: 'schedule',
    createdAt: NOW - 3 * DAY - 5_000,
    policy: 'abc',
    counts: { people: 1, temporary: 0, standing: 1 },
    lines: [],
    messages: [{ channelId: 'C0PAYMENTS', ts: '1700000000.000100' }],
    closedAt: null,
  };

  it('says how long ago in words', () => {
    expect(describeAge(NOW - 20_000, NOW)).toBe('moments ago');
    expect(describeAge(NOW - 60_000, NOW)).toBe('1 minute ago');
    expect(describeAge(NOW - 5 * 3_600_000, NOW)).toBe('5 hours ago');
    expect(describeAge(NOW - 3 * DAY - 5_000, NOW)).toBe('3 days ago');
    expect(describeStarter('schedule')).toBe('on schedule');
    expect(describeStarter('system')).toBe('by Rolecall');
    expect(describeStarter('U0BOB')).toBe('by <@U0BOB>');
  });

  it('points to the open review, where it is and since when, with a link when Slack gave one', () => {
    const open = { status: 'open', target: payments, review } as const;
    expect(buildReviewStartReply(open, new Map(), NOW).text).toBe(
      ':mag: RV-0003 of *payments-prod* is still open in <#C0PAYMENTS> (started 3 days ago); decide its lines there. A new review of *payments-prod* can start once it is closed.',
    );
    const links = new Map([['RV-0003', 'https://acme.slack.com/archives/C0PAYMENTS/p1700000000000100']]);
    expect(buildReviewStartReply(open, links, NOW).text).toContain(
      'decide its lines there: <https://acme.slack.com/archives/C0PAYMENTS/p1700000000000100|open RV-0003>.',
    );
  });

  it('promises a review only when one was started or is being started', () => {
    expect(buildReviewStartReply({ status: 'started', target: payments }, new Map(), NOW).text).toBe(
      ':mag: Reviewing *payments-prod*: Rolecall is reading its members from Atlas; the review appears in <#C0APPROVALS> in a moment.',
    );
    expect(
      buildReviewStartReply(
        { status: 'starting', target: payments, startedBy: 'U0CAROL', since: NOW - 2_000 },
        new Map(),
        NOW,
      ).text,
    ).toBe(
      ':mag: A review of *payments-prod* is already being started (by <@U0CAROL>, moments ago); it appears in <#C0APPROVALS> in a moment.',
    );
  });

  it('lists for review all what started, what was open, what is starting and what is not theirs', () => {
    const reply = buildReviewAllReply(
      {
        outcomes: [
          { status: 'open', target: payments, review },
          { status: 'started', target: targetNamed('acme') },
        ],
        refused: [targetNamed('empty')],
      },
      new Map(),
      NOW,
    );
    expect(reply.text.split('\n')).toEqual([
      ':mag: *Access reviews of the targets you approve*',
      '• Started, each appears in its approvals channel in a moment: *acme* in <#C0APPROVALS>.',
      '• RV-0003 of *payments-prod* is still open in <#C0PAYMENTS> (started 3 days ago); decide its lines there.',
      '• Not yours to review (only their approvers can): *empty*.',
    ]);
  });

  it('tells people about review all in help, within a section’s 3,000 characters', () => {
    const usage = (buildHelpMessage(policy).blocks[0] as { text: { text: string } }).text.text;
    expect(usage).toContain('`/atlas-access review all` does it for every target you approve');
    expect(usage.length).toBeLessThanOrEqual(3000);
  });
});
