import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../../dev/http-util.js';
import { ATLAS, CHANNELS, PEOPLE, SANDBOX_POLICY, type Sandbox, startSandbox } from '../../dev/sandbox.js';
import { blockText } from '../../dev/slack-flow.js';
import type { SimulatedMessage } from '../../dev/slack-simulator.js';
import { expectValidMessageBlocks } from '../support/block-kit.js';
import { ephemeralAfter, waitForQueuesDone } from '../support/grant-flow.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';
import { reviewFlow } from '../support/review-flow.js';

/** The jobs a decision on a review line queues (its message update, its revocation). */
const isDecisionJob = (jobId: string) => /^review-(decided|revoke)-/.test(jobId);

/** Review16 break-it tests: access reviews. */
describe('access reviews under failures and abuse', () => {
  let sandbox: Sandbox;
  let redis: Redis;
  afterEach(async () => {
    await redis?.quit();
    await sandbox?.stop();
  });

  const start = async (label: string, options: { env?: Record<string, string>; policy?: string } = {}) => {
    sandbox = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix(label),
      env: { JOB_BACKOFF_MS: '10', ATLAS_MAX_RETRIES: '0', ...options.env },
      ...(options.policy ? { policy: options.policy } : {}),
    });
    redis = new Redis(TEST_REDIS_URL);
  };
  const { reviews, postedId, postedNth, messageOf, clickLine } = reviewFlow(
    () => sandbox,
    () => redis,
  );
  const buttonsOf = (message: SimulatedMessage) =>
    ((message.blocks ?? []) as { block_id?: string }[])
      .map((b) => b.block_id)
      .filter((id): id is string => id?.startsWith('review:') ?? false);
  it('keeps the summary on the first message current when a line of a later message is decided', async () => {
    await start('res-tally');
    sandbox.atlas.seedUsers(25, {
      groupRoles: { [ATLAS.project.id]: ['GROUP_READ_ONLY'] },
      orgRoles: { [ATLAS.org.id]: ['ORG_MEMBER'] },
    });
    await sandbox.driver.command(PEOPLE.carol, 'review payments-prod', CHANNELS.general);
    const review = await postedNth();
    expect(review.messages.length).toBeGreaterThan(1);
    // Line 25 is on the second message; carol keeps it.
    await clickLine(PEOPLE.carol, review, 25, 'review_keep');
    await waitUntil(
      () => (blockText(messageOf(review, 1)).includes('Kept by') ? true : undefined),
      8_000,
      'line 25 shown as kept',
    );
    // The first message's summary follows decisions on every message, not only its own lines.
    const status = await waitUntil(
      () => {
        const text = JSON.stringify((messageOf(review, 0).blocks ?? [])[2]);
        return text.includes('1 kept') ? text : undefined;
      },
      5_000,
      'the summary to count the decision',
    );
    expect(status).toContain('1 kept');
  });

  it('shows every decision after ten approvers’ clicks on ten different lines of one message', async () => {
    await start('res-lost-update');
    sandbox.atlas.seedUsers(12, {
      groupRoles: { [ATLAS.project.id]: ['GROUP_READ_ONLY'] },
      orgRoles: { [ATLAS.org.id]: ['ORG_MEMBER'] },
    });
    await sandbox.driver.command(PEOPLE.carol, 'review payments-prod', CHANNELS.general);
    const review = await postedNth();
    const lines = review.lines
      .filter((l) => l.username !== PEOPLE.carol.email)
      .slice(0, 12)
      .map((l) => l.n);
    await Promise.all(lines.map((n) => clickLine(PEOPLE.carol, review, n, 'review_keep')));
    await waitUntil(
      async () => ((await reviews().decisions(review.id)).size === lines.length ? true : undefined),
      8_000,
      'all decisions stored',
    );
    // Every `decided` job has finished its chat.update (none waits, is delayed or runs).
    await waitForQueuesDone(sandbox, review.id, ['review'], 15_000, isDecisionJob);
    const stillWithButtons = buttonsOf(messageOf(review, 0)).filter((id) =>
      lines.includes(Number(id.split(':').pop())),
    );
    expect(stillWithButtons).toEqual([]);
  });

  it('tells someone when a review cannot be started because Atlas fails to list the members', async () => {
    await start('res-start-fails');
    sandbox.atlas.inject({
      method: 'GET',
      path: new RegExp(`/groups/${ATLAS.project.id}/users$`),
      status: 500,
      times: 1000,
      body: { error: 500, errorCode: 'UNEXPECTED_ERROR', detail: 'boom' },
    });
    const since = sandbox.slack.events.length;
    await sandbox.driver.command(PEOPLE.carol, 'review payments-prod', CHANNELS.general);
    await ephemeralAfter(sandbox, PEOPLE.carol, since, /Reviewing/);
    // Eight attempts with a 20 ms exponential backoff are over within a few seconds.
    const queueKey = `${sandbox.config.redis.prefix}:review:failed`;
    await waitUntil(
      async () => ((await redis.zcard(queueKey)) > 0 ? true : undefined),
      20_000,
      'the start job to fail for good',
    );
    const told = await waitUntil(
      () => {
        const found = sandbox.slack.events
          .slice(since)
          .map((e) => (e.kind === 'ephemeral' ? e.text : e.kind === 'message' ? e.message.text : ''))
          .filter((t) => /could not|couldn’t|failed|error|went wrong/i.test(t));
        return found.length > 0 ? found : undefined;
      },
      5_000,
      'the approver to hear that the review failed',
    );
    // Nobody hears that the review never happened: the approver was told "the review appears in a moment".
    expect(told).not.toEqual([]);
  });

  it('closes the review, says the outcome in the thread and DMs the person even when Slack hiccups once after a revocation', async () => {
    await start('res-revoke-slack-hiccup');
    await sandbox.driver.command(PEOPLE.carol, 'review payments-prod', CHANNELS.general);
    const review = await postedNth();
    // 1 alice READ_ONLY, 2 bob OWNER, 3 dana READ_ONLY.
    await clickLine(PEOPLE.carol, review, 1, 'review_keep');
    await clickLine(PEOPLE.carol, review, 2, 'review_keep');
    await waitUntil(
      async () => ((await reviews().decisions(review.id)).size === 2 ? true : undefined),
      5_000,
    );
    // The two decisions' jobs are done before the fault below is injected.
    await waitForQueuesDone(sandbox, review.id, ['review'], 15_000, isDecisionJob);
    // One failed chat.postMessage (the outcome in the thread) right after Atlas removed dana.
    sandbox.slack.fail({ method: 'chat.postMessage', error: 'internal_error', times: 1 });
    await clickLine(PEOPLE.carol, review, 3, 'review_revoke');
    await waitUntil(
      async () => (await reviews().decisions(review.id)).get(3)?.outcome,
      8_000,
      'the revocation outcome',
    );
    expect(
      sandbox.atlas.rolesOf('dana.smith@example.com', { kind: 'project', id: ATLAS.project.id }),
    ).toEqual([]);
    // The job's retry sends what the failed call did not, and the review still closes.
    const closedAt = await waitUntil(
      async () => (await reviews().get(review.id))?.closedAt ?? undefined,
      10_000,
      'close',
    );
    const dm = await waitUntil(
      () =>
        sandbox.slack
          .messagesIn(sandbox.slack.dmChannelOf(PEOPLE.dana.id))
          .find((m) => m.text.includes('revoked your standing GROUP_READ_ONLY')),
      10_000,
      'the DM',
    );
    expect(closedAt).toBeGreaterThan(0);
    expect(dm.text).toContain(review.id);
    const thread = sandbox.slack.messagesIn(CHANNELS.approvals).map((m) => m.text);
    expect(thread.filter((t) => t.includes(`${review.id} line 3:`))).toHaveLength(1);
  });

  it('refuses strangers, forged and stale buttons, and odd targets', async () => {
    await start('res-held-up');
    let since = sandbox.slack.events.length;
    await sandbox.driver.command(PEOPLE.mallory, 'review payments-prod', CHANNELS.general);
    await ephemeralAfter(sandbox, PEOPLE.mallory, since, /Only the approvers of payments-prod/);
    await sandbox.driver.command(PEOPLE.carol, 'review <!channel>', CHANNELS.general);
    const unknown = await ephemeralAfter(sandbox, PEOPLE.carol, since, /no target called/);
    expect(unknown).not.toContain('<!channel>');
    await sandbox.driver.command(PEOPLE.carol, 'status *x*_y_', CHANNELS.general);
    await ephemeralAfter(sandbox, PEOPLE.carol, since, /no target called \*x\*_y_/);
    await sandbox.driver.command(PEOPLE.mallory, 'status payments-prod', CHANNELS.general);
    await ephemeralAfter(sandbox, PEOPLE.mallory, since, /Only the approvers/);

    await sandbox.driver.command(PEOPLE.carol, 'review payments-prod', CHANNELS.general);
    const review = await postedNth();
    const message = messageOf(review, 0);
    const block = ((message.blocks ?? []) as { block_id?: string; elements?: { value?: string }[] }[]).find(
      (b) => b.block_id === `review:${review.id}:1`,
    );
    if (!block) throw new Error('no buttons');
    const forged = (value: string) => ({
      ...message,
      blocks: [{ ...block, elements: (block.elements ?? []).map((e) => ({ ...e, value })) }],
    });
    since = sandbox.slack.events.length;
    await sandbox.driver.clickButton(PEOPLE.carol, forged(`${review.id}:99`), 'review_keep');
    await ephemeralAfter(sandbox, PEOPLE.carol, since, /has no line 99/);
    // A review this store never issued: a legacy-format id carries no time, so it cannot be lost data.
    await sandbox.driver.clickButton(PEOPLE.carol, forged('RV-0042:1'), 'review_keep');
    await ephemeralAfter(sandbox, PEOPLE.carol, since, /There is no review RV-0042/);
    await sandbox.driver.clickButton(PEOPLE.carol, forged('AR-0001'), 'review_keep');
    await ephemeralAfter(sandbox, PEOPLE.carol, since, /does not point at a line/);
    await sandbox.driver.clickButton(PEOPLE.carol, forged(`${review.id}:0`), 'review_keep');
    await ephemeralAfter(sandbox, PEOPLE.carol, since, /has no line 0/);
    // Decide all three, then click again after the close.
    await clickLine(PEOPLE.carol, review, 1, 'review_keep');
    await clickLine(PEOPLE.carol, review, 2, 'review_keep');
    await clickLine(PEOPLE.bob, review, 3, 'review_keep');
    await waitUntil(
      async () => ((await reviews().get(review.id))?.closedAt ? true : undefined),
      8_000,
      'close',
    );
    since = sandbox.slack.events.length;
    await sandbox.driver.clickButton(PEOPLE.carol, forged(`${review.id}:1`), 'review_revoke');
    await ephemeralAfter(sandbox, PEOPLE.carol, since, /is closed/);
    expect(sandbox.atlas.authenticatedCalls().filter((c) => c.method !== 'GET')).toEqual([]);
  });

  it('tells a single approver to add another one when their own line is all that is left open', async () => {
    await start('res-single-approver');
    await sandbox.driver.command(PEOPLE.carol, 'review acme', CHANNELS.general);
    const review = await postedNth();
    for (const line of review.lines) {
      if (line.username === PEOPLE.carol.email) continue;
      await clickLine(PEOPLE.carol, review, line.n, 'review_keep');
    }
    const own = review.lines.find((l) => l.username === PEOPLE.carol.email);
    if (!own) throw new Error('carol has no line');
    const since = sandbox.slack.events.length;
    await clickLine(PEOPLE.carol, review, own.n, 'review_keep');
    const refusal = await ephemeralAfter(sandbox, PEOPLE.carol, since, /own access/);
    expect(refusal).toContain('If acme has no other, add one to its approvers in the policy');
    // Nobody decides on their own access, so the review waits for a second approver (and goes overdue):
    // with no review job left to run, the stored review is final.
    await waitForQueuesDone(sandbox, review.id, ['review'], 15_000, isDecisionJob);
    expect((await reviews().get(review.id))?.closedAt ?? null).toBeNull();
    expect((await reviews().decisions(review.id)).has(own.n)).toBe(false);
  });

  it('posts a review of 1,100 standing roles within Slack’s limits', async () => {
    await start('res-big');
    sandbox.atlas.seedUsers(1100, {
      groupRoles: { [ATLAS.project.id]: ['GROUP_READ_ONLY'] },
      orgRoles: { [ATLAS.org.id]: ['ORG_MEMBER'] },
    });
    await sandbox.driver.command(PEOPLE.carol, 'review payments-prod', CHANNELS.general);
    const id = await postedId(1, 60_000);
    const review = await waitUntil(
      async () => {
        const r = await reviews().get(id);
        return r && r.messages.length === Math.ceil(r.lines.length / 20) ? r : undefined;
      },
      60_000,
      'all chunks',
    );
    expect(review.lines.length).toBe(1103);
    for (let i = 0; i < review.messages.length; i += 1) expectValidMessageBlocks(messageOf(review, i).blocks);
    await clickLine(PEOPLE.carol, review, 1103, 'review_keep');
    await waitUntil(
      () => (blockText(messageOf(review, 55)).includes('Kept by') ? true : undefined),
      8_000,
      'last line kept',
    );
  });

  it('closes a review with nothing standing at once', async () => {
    const EMPTY = '5f1a2b3c4d5e6f7a8b9c0d99';
    sandbox = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix('res-empty'),
      policy: `${SANDBOX_POLICY}  - name: empty\n    org: ${EMPTY}\n    approvers: [U0BOB]\n    roles: [ORG_READ_ONLY]\n`,
      atlas: { orgs: [{ id: EMPTY, name: 'empty' }] },
    });
    redis = new Redis(TEST_REDIS_URL);
    await sandbox.driver.command(PEOPLE.bob, 'review empty', CHANNELS.general);
    const review = await postedNth();
    await waitUntil(
      async () => ((await reviews().get(review.id))?.closedAt ? true : undefined),
      8_000,
      'close',
    );
    expectValidMessageBlocks(messageOf(review, 0).blocks);
    expect(blockText(messageOf(review, 0))).toContain('Nothing to decide');
  });

  it('closes the review when the last line is decided even though its message was deleted in Slack', async () => {
    await start('res-deleted-message');
    await sandbox.driver.command(PEOPLE.carol, 'review payments-prod', CHANNELS.general);
    const review = await postedNth();
    await clickLine(PEOPLE.carol, review, 1, 'review_keep');
    await clickLine(PEOPLE.carol, review, 2, 'review_keep');
    await waitUntil(
      async () => ((await reviews().decisions(review.id)).size === 2 ? true : undefined),
      5_000,
    );
    // The two decisions' jobs are done before the fault below is injected.
    await waitForQueuesDone(sandbox, review.id, ['review'], 15_000, isDecisionJob);
    // Someone deleted the review message: every chat.update on it now fails (a retry cannot fix that).
    sandbox.slack.fail({ method: 'chat.update', error: 'message_not_found', times: 1000 });
    await clickLine(PEOPLE.bob, review, 3, 'review_keep');
    const closedAt = await waitUntil(
      async () => (await reviews().get(review.id))?.closedAt ?? undefined,
      10_000,
      'close',
    );
    expect(closedAt).toBeGreaterThan(0);
    await waitUntil(
      () =>
        sandbox.slack.messagesIn(CHANNELS.approvals).find((m) => m.text.includes(`Review ${review.id} of`)),
      5_000,
      'the closing reply in the thread',
    );
  });
});
