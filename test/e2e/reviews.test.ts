import { Queue } from 'bullmq';
import { parse } from 'csv-parse/sync';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../../dev/http-util.js';
import { ATLAS, CHANNELS, PEOPLE, SANDBOX_POLICY, type Sandbox, startSandbox } from '../../dev/sandbox.js';
import { blockText } from '../../dev/slack-flow.js';
import { redisKeys } from '../../src/lib/redis-keys.js';
import type { AccessReview } from '../../src/reviews/model.js';
import { expectValidMessageBlocks } from '../support/block-kit.js';
import { runRolecall } from '../support/cli.js';
import { ephemeralAfter, PROJECT, requestAs, spansOf, waitForState } from '../support/grant-flow.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';
import { reviewFlow } from '../support/review-flow.js';

const READ = 'GROUP_DATA_ACCESS_READ_ONLY';

describe('access reviews (end to end)', () => {
  let sandbox: Sandbox;
  let redis: Redis;
  afterEach(async () => {
    await redis.quit();
    await sandbox.stop();
  });

  const start = async (label: string, options: { env?: Record<string, string>; policy?: string } = {}) => {
    sandbox = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix(label),
      ...(options.env ? { env: options.env } : {}),
      ...(options.policy ? { policy: options.policy } : {}),
    });
    redis = new Redis(TEST_REDIS_URL);
  };
  const { reviews, posted, postedNth, messageOf, clickLine } = reviewFlow(
    () => sandbox,
    () => redis,
  );
  const lineOf = (review: AccessReview, username: string, role: string) => {
    const line = review.lines.find((l) => l.username === username && l.role === role);
    if (!line) throw new Error(`no line for ${username} ${role}`);
    return line;
  };
  it('lists exactly the standing roles of 128 members read over three pages, and posts them within Slack’s limits', async () => {
    await start('review-population', { env: { ATLAS_PAGE_SIZE: '50' } });
    sandbox.atlas.seedUsers(125, {
      orgRoles: { [ATLAS.org.id]: ['ORG_MEMBER'] },
      groupRoles: { [ATLAS.project.id]: ['GROUP_READ_ONLY'] },
    });
    // Alice holds READ through a Rolecall grant; member7 got a role by hand.
    const granted = await requestAs(
      sandbox,
      PEOPLE.alice,
      `request ${READ} on payments-prod for 1h because x`,
    );
    await sandbox.driver.clickButton(PEOPLE.bob, granted.approval, 'request_approve');
    await waitForState(sandbox, granted.id, 'applied');
    sandbox.atlas.setRoles('member7@example.com', PROJECT, ['GROUP_READ_ONLY', 'GROUP_CLUSTER_MANAGER']);

    await sandbox.driver.command(PEOPLE.carol, 'review payments-prod', CHANNELS.general);
    expect(await ephemeralAfter(sandbox, PEOPLE.carol, 0, /Reviewing/)).toContain(
      'the review appears in <#C0APPROVALS>',
    );
    const review = await postedNth();
    const lists = sandbox.atlas.authenticatedCalls().filter(
      (c) =>
        c.method === 'GET' &&
        c.path.startsWith(`/api/atlas/v2/groups/${ATLAS.project.id}/users?`) &&
        // Not the readiness probe (one member, at start-up).
        !c.path.includes('itemsPerPage=1&'),
    );
    expect(lists.map((c) => new URL(c.path, 'http://x').searchParams.get('pageNum'))).toEqual([
      '1',
      '2',
      '3',
    ]);
    expect(lists.every((c) => c.path.includes('itemsPerPage=50'))).toBe(true);
    expect(review.counts).toEqual({ people: 128, temporary: 1, standing: 129 });
    expect(review.lines.filter((l) => l.username === 'alice@example.com').map((l) => l.role)).toEqual([
      'GROUP_READ_ONLY',
    ]);
    expect(lineOf(review, 'member7@example.com', 'GROUP_CLUSTER_MANAGER').outsidePolicy).toBe(true);
    expect(lineOf(review, 'bob@example.com', 'GROUP_OWNER').outsidePolicy).toBe(true);
    expect(review.messages).toHaveLength(7);
    const first = messageOf(review, 0);
    expect(first.channel).toBe(CHANNELS.approvals);
    expect(blockText(first)).toContain(
      '*128* people, *129* standing role(s) that no Rolecall grant explains, *1* held through Rolecall grants',
    );
    for (let i = 0; i < 7; i += 1) {
      const message = messageOf(review, i);
      expectValidMessageBlocks(message.blocks);
      if (i > 0) expect(message.threadTs).toBe(first.ts);
    }
  });

  it('records Keep and Revoke once per line, never from the person themselves, and removes someone from the project with their last role', async () => {
    await start('review-decide');
    await sandbox.driver.command(PEOPLE.carol, 'review payments-prod', CHANNELS.general);
    const review = await postedNth();
    // alice READ_ONLY, bob OWNER, dana READ_ONLY (Atlas usernames sort that way).
    expect(review.lines.map((l) => [l.n, l.username, l.role])).toEqual([
      [1, 'alice@example.com', 'GROUP_READ_ONLY'],
      [2, 'bob@example.com', 'GROUP_OWNER'],
      [3, 'dana.smith@example.com', 'GROUP_READ_ONLY'],
    ]);
    let since = sandbox.slack.events.length;
    await clickLine(PEOPLE.bob, review, 2, 'review_keep');
    expect(await ephemeralAfter(sandbox, PEOPLE.bob, since, /own access/)).toContain(
      'You can’t decide on your own access',
    );
    await clickLine(PEOPLE.mallory, review, 1, 'review_revoke');
    await ephemeralAfter(sandbox, PEOPLE.mallory, since, /can keep or revoke it/);

    // Ten concurrent Revoke clicks by two approvers on dana's only role: one decision, one removal.
    const clicks = Array.from({ length: 10 }, (_, i) =>
      clickLine(i % 2 ? PEOPLE.bob : PEOPLE.carol, review, 3, 'review_revoke'),
    );
    await Promise.all(clicks);
    const outcome = await waitUntil(
      async () => (await reviews().decisions(review.id)).get(3)?.outcome,
      10_000,
      'the revocation',
    );
    expect(outcome).toBe('left');
    const deletes = sandbox.atlas
      .authenticatedCalls()
      .filter(
        (c) => c.method === 'DELETE' && c.path.startsWith(`/api/atlas/v2/groups/${ATLAS.project.id}/users/`),
      );
    expect(deletes).toHaveLength(1);
    expect(sandbox.atlas.rolesOf(PEOPLE.dana.email.toLowerCase(), PROJECT)).toEqual([]);
    const timeline = sandbox.atlas.timeline(PEOPLE.dana.email.toLowerCase(), PROJECT);
    expect(timeline[timeline.length - 1]?.roles).toEqual([]);
    await waitUntil(
      () =>
        sandbox.slack
          .messagesIn(sandbox.slack.dmChannelOf(PEOPLE.dana.id))
          .find((m) => m.text.includes('revoked your standing GROUP_READ_ONLY')),
      5_000,
      'the DM to dana',
    );

    since = sandbox.slack.events.length;
    await clickLine(PEOPLE.bob, review, 1, 'review_keep');
    await ephemeralAfter(sandbox, PEOPLE.bob, since, /Kept alice@example.com/);
    await clickLine(PEOPLE.carol, review, 2, 'review_keep');
    const closed = await waitUntil(
      async () => ((await reviews().get(review.id))?.closedAt ? true : undefined),
      10_000,
      'the review to close',
    );
    expect(closed).toBe(true);
    const first = messageOf(review, 0);
    await waitUntil(
      () => (blockText(first).includes('Closed') ? true : undefined),
      5_000,
      'the closed header',
    );
    expectValidMessageBlocks(first.blocks);
    expect(blockText(first)).toContain('2 kept, 1 revoked, 0 failed');
    const threadOf = () =>
      sandbox.slack
        .messagesIn(CHANNELS.approvals)
        .filter((m) => m.threadTs === first.ts)
        .map((m) => m.text);
    // The header is updated by one job and the thread's "is closed" reply posted by the next step:
    // wait for the reply rather than read the thread the moment the header changes.
    const thread = await waitUntil(
      () => {
        const texts = threadOf();
        return texts.some((t) => t.includes('is closed:')) ? texts : undefined;
      },
      5_000,
      'the thread reply that the review is closed',
    );
    expect(
      thread.some((t) =>
        t.includes(
          'removed dana.smith@example.com from the project: GROUP_READ_ONLY was their last role there',
        ),
      ),
    ).toBe(true);
    expect(thread.some((t) => t.includes('is closed: 2 kept, 1 revoked, 0 failed'))).toBe(true);
    const audit = (await redis.xrange(redisKeys(sandbox.config.redis.prefix).audit, '-', '+'))
      .map(([, f]) =>
        Object.fromEntries(Array.from({ length: f.length / 2 }, (_, i) => [f[2 * i], f[2 * i + 1]])),
      )
      .filter((e) => e.kind === 'review');
    expect(audit.filter((e) => e.actor !== 'system').map((e) => [e.line, e.actor, e.detail])).toEqual([
      ['3', expect.stringMatching(/^U0(BOB|CAROL)$/), 'revoke'],
      ['1', PEOPLE.bob.id, 'keep'],
      ['2', PEOPLE.carol.id, 'keep'],
    ]);
    expect(audit.every((e) => e.actor === 'system' || /^[0-9a-f]{12}$/.test(e.policy ?? ''))).toBe(true);

    // The signed-off list, as the closing message tells approvers to export it.
    const exported = await runRolecall(['audit', '--review', review.id, '--format', 'csv'], {
      REDIS_URL: TEST_REDIS_URL,
      QUEUE_PREFIX: sandbox.config.redis.prefix,
    });
    expect(exported.code).toBe(0);
    const rows = parse(exported.stdout, { columns: true }) as Record<string, string>[];
    expect(rows.map((r) => [r.line, r.username, r.role, r.decision, r.outcome])).toEqual([
      ['1', 'alice@example.com', 'GROUP_READ_ONLY', 'keep', 'kept'],
      ['2', 'bob@example.com', 'GROUP_OWNER', 'keep', 'kept'],
      ['3', 'dana.smith@example.com', 'GROUP_READ_ONLY', 'revoke', 'left'],
    ]);
    expect(rows.every((r) => r.closed_at !== '' && r.decided_at !== '')).toBe(true);
  });

  it('runs on the policy’s schedule across a restart, skips a run while the last review is open, and says when the next one is due', async () => {
    await start('review-schedule', {
      policy: SANDBOX_POLICY.replace(
        '    approvers: [U0CAROL]\n',
        '    approvers: [U0CAROL, U0BOB]\n    review: 3s\n',
      ),
    });
    const acme = { name: ATLAS.org.name, kind: 'org', id: ATLAS.org.id } as const;
    /** acme's `nth` review (from 1, oldest first), once posted. */
    const scheduledReview = (nth: number) =>
      waitUntil(
        async () => {
          const review = (await reviews().listFor(acme, 10)).reverse()[nth - 1];
          return review?.messages.length ? posted(review.id) : undefined;
        },
        15_000,
        `scheduled review ${nth} of acme`,
      );
    const scheduled = await scheduledReview(1);
    expect(scheduled).toMatchObject({ startedBy: 'schedule', target: { name: 'acme', kind: 'org' } });
    await sandbox.restart();
    // Runs come every 3 s, but the first review is open: each is skipped (the job says why), none starts one.
    const queue = new Queue('review', { connection: redis, prefix: sandbox.config.redis.prefix });
    try {
      const skipped = await waitUntil(
        async () =>
          (await queue.getJobs(['completed'])).find(
            (j) => j.id?.startsWith('repeat:') && (j.returnvalue as { skipped?: string } | null)?.skipped,
          ),
        15_000,
        'a scheduled run to be skipped',
      );
      expect(skipped.returnvalue).toEqual({ skipped: `${scheduled.id} of acme is still open` });
    } finally {
      await queue.close();
    }
    expect(await reviews().listFor(acme, 10)).toHaveLength(1);
    // Once it is closed, the next scheduled run starts the next review.
    for (const line of scheduled.lines) {
      await clickLine(
        line.username === PEOPLE.carol.email ? PEOPLE.bob : PEOPLE.carol,
        scheduled,
        line.n,
        'review_keep',
      );
    }
    await waitUntil(
      async () => (await reviews().get(scheduled.id))?.closedAt ?? undefined,
      10_000,
      'the first review to close',
    );
    const again = await scheduledReview(2);
    expect(again).toMatchObject({ startedBy: 'schedule' });
    expect(again.createdAt).toBeGreaterThan(scheduled.createdAt);
    const since = sandbox.slack.events.length;
    await sandbox.driver.command(PEOPLE.carol, 'status acme', CHANNELS.general);
    const status = await ephemeralAfter(sandbox, PEOPLE.carol, since, /Access reviews of acme/);
    expect(status).toMatch(/Next scheduled review: <!date\^\d+/);
    expect(status).toContain(again.id);
  });

  it('tells the approvers when a review stays undecided past REVIEW_TTL', async () => {
    await start('review-overdue', { env: { REVIEW_TTL: '1s' } });
    await sandbox.driver.command(PEOPLE.bob, 'review payments-prod', CHANNELS.general);
    const review = await postedNth();
    const first = messageOf(review, 0);
    const reminder = await waitUntil(
      () =>
        sandbox.slack
          .messagesIn(CHANNELS.approvals)
          .find((m) => m.threadTs === first.ts && m.text.includes('is overdue')),
      10_000,
      'the overdue reminder',
    );
    expect(reminder.text).toContain(
      `Review ${review.id} is overdue: 3 line(s) still undecided after 1s. <@U0BOB>, <@U0CAROL>`,
    );
    expect(spansOf(sandbox.atlas.timeline(PEOPLE.alice.email, PROJECT), 'GROUP_READ_ONLY')).toHaveLength(1);
  });
});
