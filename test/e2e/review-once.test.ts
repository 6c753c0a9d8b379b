import { writeFile } from 'node:fs/promises';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../../dev/http-util.js';
import { ATLAS, CHANNELS, PEOPLE, SANDBOX_POLICY, type Sandbox, startSandbox } from '../../dev/sandbox.js';
import { blockText } from '../../dev/slack-flow.js';
import type { ReviewJob } from '../../src/jobs/queues.js';
import { createReviewQueue, schedulerIdOf } from '../../src/jobs/review-queue.js';
import { redisKeys } from '../../src/lib/redis-keys.js';
import type { TargetRef } from '../../src/lib/scope.js';
import { parsePolicy } from '../../src/policy/read-policy.js';
import { messageCountOf } from '../../src/reviews/model.js';
import { createReviewStarter } from '../../src/reviews/review-starter.js';
import { createReviewStore } from '../../src/reviews/review-store.js';
import { ephemeralAfter } from '../support/grant-flow.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';
import { reviewFlow } from '../support/review-flow.js';

const DAY = 86_400_000;
/** An organization with nobody in it: its review has nothing standing and closes at once. */
const EMPTY = { id: '5f1a2b3c4d5e6f7a8b9c0d99', name: 'empty' } as const;
const TARGETS = {
  payments: { name: ATLAS.project.name, kind: 'project', id: ATLAS.project.id },
  acme: { name: ATLAS.org.name, kind: 'org', id: ATLAS.org.id },
  empty: { name: EMPTY.name, kind: 'org', id: EMPTY.id },
} as const satisfies Record<string, TargetRef>;
const withEmpty = (review = '') =>
  `${SANDBOX_POLICY}  - name: empty\n    org: ${EMPTY.id}\n    approvers: [U0BOB]\n    roles: [ORG_READ_ONLY]\n${review}`;

/**
 * Issue 22: "Changing a review period starts a second full review" and "A review asked for twice
 * within a minute is silently dropped". A target gets one review at a time, whoever asks, and the
 * reply says what happened.
 */
describe('access reviews once per target (end to end)', () => {
  let sandbox: Sandbox;
  let redis: Redis;
  const queues: Queue[] = [];
  afterEach(async () => {
    await Promise.all(queues.splice(0).map((q) => q.close()));
    await redis.quit();
    await sandbox.stop();
  });
  const start = async (label: string, policy: string) => {
    sandbox = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix(label),
      policy,
      atlas: { orgs: [EMPTY] },
    });
    redis = new Redis(TEST_REDIS_URL);
  };
  const { reviews, messageOf } = reviewFlow(
    () => sandbox,
    () => redis,
  );
  /** The app's review queue, read (and written) the way BullMQ does. */
  const reviewQueue = () => {
    const queue = new Queue<ReviewJob>('review', { connection: redis, prefix: sandbox.config.redis.prefix });
    queues.push(queue);
    return queue;
  };
  /** A target's reviews, oldest first (ids are time-ordered, not RV-0001, RV-0002). */
  const reviewsOf = async (target: TargetRef) => (await reviews().listFor(target, 20)).reverse();
  /** Every review the app made. */
  const allReviews = async () => (await Promise.all(Object.values(TARGETS).map(reviewsOf))).flat();
  /** The target's `nth` review (from 1), once all its messages are posted. */
  const posted = (target: TargetRef, nth = 1, timeoutMs = 10_000) =>
    waitUntil(
      async () => {
        const review = (await reviewsOf(target))[nth - 1];
        return review && review.messages.length === messageCountOf(review) ? review : undefined;
      },
      timeoutMs,
      `review ${nth} of ${target.name} to be posted`,
    );
  const closed = (id: string) =>
    waitUntil(async () => (await reviews().get(id))?.closedAt ?? undefined, 10_000, `${id} to close`);
  const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('moves the next scheduled run when review: changes from 90d to 91d across a reload, and starts no second review', async () => {
    await start('once-retime', withEmpty('    review: 90d\n'));
    const first = await posted(TARGETS.empty, 1, 15_000);
    expect(first.startedBy).toBe('schedule');
    await closed(first.id);
    const queue = reviewQueue();
    const id = schedulerIdOf({ kind: 'org', id: EMPTY.id });
    // Once the first run has started, BullMQ schedules the next one a period later.
    const before = await waitUntil(
      async () => {
        const s = await queue.getJobScheduler(id);
        return s?.next && s.next > Date.now() + DAY ? s : undefined;
      },
      5_000,
      'the next run',
    );
    expect(before.every).toBe(90 * DAY);

    await writeFile(sandbox.config.policyFile, withEmpty('    review: 91d\n'));
    await sandbox.rolecall.reloadPolicy();
    await pause(2_000);
    expect(await allReviews()).toHaveLength(1);
    expect(await queue.getJobScheduler(id)).toMatchObject({
      every: 91 * DAY,
      next: (before.next ?? 0) + DAY,
    });

    // A restart syncs the schedules again: nothing moves, nothing starts.
    await sandbox.restart();
    await pause(1_500);
    expect(await allReviews()).toHaveLength(1);
    expect(await queue.getJobScheduler(id)).toMatchObject({
      every: 91 * DAY,
      next: (before.next ?? 0) + DAY,
    });
  });

  it('starts one review for two review commands at once, and tells the second person which one is open and where', async () => {
    await start('once-twice', SANDBOX_POLICY);
    const since = sandbox.slack.events.length;
    await Promise.all([
      sandbox.driver.command(PEOPLE.carol, 'review payments-prod', CHANNELS.general),
      sandbox.driver.command(PEOPLE.bob, 'review payments-prod', CHANNELS.general),
    ]);
    const answers = await Promise.all(
      [PEOPLE.carol, PEOPLE.bob].map((p) => ephemeralAfter(sandbox, p, since, /:mag:/)),
    );
    const started = answers.filter((t) => t.includes('Reviewing *payments-prod*'));
    const pointed = answers.filter((t) =>
      /already being started \(by <@U0(CAROL|BOB)>, moments ago\); it appears in <#C0APPROVALS> in a moment|RV-[0-9A-Z]+ of \*payments-prod\* is still open in <#C0APPROVALS>/.test(
        t,
      ),
    );
    expect({ started: started.length, pointed: pointed.length }).toEqual({ started: 1, pointed: 1 });
    const review = await posted(TARGETS.payments);
    await pause(1_500);
    expect(await allReviews()).toHaveLength(1);
    expect(
      (await reviewQueue().getJobs(['completed', 'active', 'waiting', 'delayed'])).filter(
        (j) => j.name === 'start',
      ),
    ).toHaveLength(1);

    // Asked again while it is open: which review, where, since when, and a link to its message.
    const later = sandbox.slack.events.length;
    await sandbox.driver.command(PEOPLE.bob, 'review payments-prod', CHANNELS.general);
    const reply = await ephemeralAfter(sandbox, PEOPLE.bob, later, /still open/);
    const ts = messageOf(review, 0).ts.replace('.', '');
    expect(reply).toBe(
      `:mag: ${review.id} of *payments-prod* is still open in <#C0APPROVALS> (started moments ago); decide its lines there: <https://rolecall-sim.slack.com/archives/C0APPROVALS/p${ts}|open ${review.id}>. A new review of *payments-prod* can start once it is closed.`,
    );
    await pause(1_000);
    expect(await allReviews()).toHaveLength(1);
  });

  it('starts a second review asked for in the same minute once the first one is closed', async () => {
    await start('once-same-minute', withEmpty());
    // Both commands in one minute (the old job id was the target and the minute).
    if (Date.now() % 60_000 > 50_000) await pause(60_000 - (Date.now() % 60_000) + 100);
    let since = sandbox.slack.events.length;
    await sandbox.driver.command(PEOPLE.bob, 'review empty', CHANNELS.general);
    await ephemeralAfter(sandbox, PEOPLE.bob, since, /Reviewing \*empty\*/);
    await closed((await posted(TARGETS.empty)).id);
    since = sandbox.slack.events.length;
    await sandbox.driver.command(PEOPLE.bob, 'review empty', CHANNELS.general);
    await ephemeralAfter(sandbox, PEOPLE.bob, since, /Reviewing \*empty\*/);
    // It said so, so it appears (the minute-based job id dropped it).
    const second = await posted(TARGETS.empty, 2);
    expect(second).toMatchObject({ startedBy: PEOPLE.bob.id, target: { name: 'empty' } });
  });

  it('reviews every target an approver approves with review all, pointing to the open ones, and refuses someone who approves none', async () => {
    await start('once-all', withEmpty());
    let since = sandbox.slack.events.length;
    await sandbox.driver.command(PEOPLE.carol, 'review payments-prod', CHANNELS.general);
    await ephemeralAfter(sandbox, PEOPLE.carol, since, /Reviewing/);
    const open = await posted(TARGETS.payments);

    since = sandbox.slack.events.length;
    await sandbox.driver.command(PEOPLE.carol, 'review all', CHANNELS.general);
    const reply = await ephemeralAfter(sandbox, PEOPLE.carol, since, /targets you approve/);
    const ts = messageOf(open, 0).ts.replace('.', '');
    expect(reply.split('\n')).toEqual([
      ':mag: *Access reviews of the targets you approve*',
      '• Started, each appears in its approvals channel in a moment: *acme* in <#C0APPROVALS>.',
      `• ${open.id} of *payments-prod* is still open in <#C0APPROVALS> (started moments ago); decide its lines there: <https://rolecall-sim.slack.com/archives/C0APPROVALS/p${ts}|open ${open.id}>.`,
      '• Not yours to review (only their approvers can): *empty*.',
    ]);
    const acme = await posted(TARGETS.acme);
    expect(acme).toMatchObject({ startedBy: PEOPLE.carol.id, target: { name: 'acme' } });
    await pause(1_000);
    expect(await allReviews()).toHaveLength(2);

    since = sandbox.slack.events.length;
    await sandbox.driver.command(PEOPLE.mallory, 'review all', CHANNELS.general);
    await ephemeralAfter(sandbox, PEOPLE.mallory, since, /you approve none of the targets/);
    expect(await redis.hget(redisKeys(sandbox.config.redis.prefix).refusalStats, 'review')).toBe('1');
    expect(await allReviews()).toHaveLength(2);
  });

  it('lets Rolecall itself start a review of every target, without a second one where a review is open', async () => {
    await start('once-system', withEmpty());
    const keys = redisKeys(sandbox.config.redis.prefix);
    const starter = createReviewStarter({
      store: createReviewStore(redis, keys),
      reviewQueue: createReviewQueue(reviewQueue()),
    });
    const targets = parsePolicy(withEmpty()).targets;
    const first = await starter.startAll(targets, 'system');
    expect(first.map((o) => [o.target.name, o.status])).toEqual([
      ['payments-prod', 'started'],
      ['acme', 'started'],
      ['empty', 'started'],
    ]);
    const [payments, acme, empty] = await Promise.all(
      [TARGETS.payments, TARGETS.acme, TARGETS.empty].map((t) => posted(t)),
    );
    expect([payments?.startedBy, acme?.startedBy, empty?.startedBy]).toEqual(['system', 'system', 'system']);
    if (!payments || !empty) throw new Error('a review is missing');
    expect(blockText(messageOf(payments, 0))).toContain('started by Rolecall');
    await closed(empty.id);

    const again = await starter.startAll(targets, 'system');
    expect(again.map((o) => [o.target.name, o.status])).toEqual([
      ['payments-prod', 'open'],
      ['acme', 'open'],
      ['empty', 'started'],
    ]);
    await posted(TARGETS.empty, 2);
    await pause(1_000);
    expect(await allReviews()).toHaveLength(4);
  });
});
