import { afterEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../../dev/http-util.js';
import { ATLAS, CHANNELS, PEOPLE, type Sandbox, startSandbox } from '../../dev/sandbox.js';
import { blockText, waitForDm, waitForThreadReply } from '../../dev/slack-flow.js';
import type { SimulatedMessage } from '../../dev/slack-simulator.js';
import { createRedisClient } from '../../src/ops/redis.js';
import { expectValidMessageBlocks } from '../support/block-kit.js';
import {
  dmsTo,
  ephemeralAfter,
  readAudit,
  readRequest,
  repliesTo,
  requestAs,
  sleep,
  waitForState,
} from '../support/grant-flow.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

const READ = 'GROUP_DATA_ACCESS_READ_ONLY';
const REMINDER = /^:bell: Reminder \d of 4/;

/** The sandbox project with `extra` policy lines (reminders, escalation) and only Bob approving. */
function policyWith(extra: string, approvers = `[${PEOPLE.bob.id}]`): string {
  return `approvalsChannel: ${CHANNELS.approvals}
targets:
  - name: ${ATLAS.project.name}
    project: ${ATLAS.project.id}
    approvers: ${approvers}
    roles: [GROUP_READ_ONLY, ${READ}]
${extra}`;
}

/** When Slack stored a message (its ts is seconds since epoch). */
const postedAt = (m: SimulatedMessage) => Math.round(Number(m.ts) * 1000);

describe('approver reminders, escalation and nudge (end to end)', () => {
  let sandbox: Sandbox;

  afterEach(async () => {
    await sandbox.stop();
  });

  const start = async (label: string, policy?: string, userGroups?: Record<string, string[]>) => {
    sandbox = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix(label),
      env: { JOB_BACKOFF_MS: '50', RECONCILE_INTERVAL: '1h', REMIND_BEFORE: '0' },
      ...(policy === undefined ? {} : { policy }),
      ...(userGroups === undefined ? {} : { userGroups }),
    });
  };

  /** The approvers jobs of a request still waiting for their time. */
  const delayedChase = async (id: string): Promise<string[]> => {
    const redis = createRedisClient(sandbox.config.redis, 'commands');
    try {
      const ids = await redis.zrange(`${sandbox.config.redis.prefix}:approvers:delayed`, 0, -1);
      return ids.filter((jobId) => jobId.includes(`-${id}`));
    } finally {
      redis.disconnect();
    }
  };

  it('reminds the approvers at +N, +2N, +4N and +8N, in the thread and by DM, once each across a restart', async () => {
    await start('approver-remind', policyWith('    remindApprovers: 2s\n'));
    const { id, approval } = await requestAs(
      sandbox,
      PEOPLE.alice,
      `request ${READ} on payments-prod for 1h because audit`,
    );
    const { createdAt } = await readRequest(sandbox, id);
    await waitForThreadReply(sandbox.slack, approval, /Reminder 1 of 4/, 8_000);
    // Down and up again between the first and the second: nothing is doubled, nothing lost.
    await sandbox.restart();
    await waitForThreadReply(sandbox.slack, approval, /Reminder 4 of 4/, 25_000);
    await sleep(2_500);
    const reminders = repliesTo(sandbox, approval, REMINDER);
    expect(reminders.map((m) => /Reminder (\d)/.exec(m.text)?.[1])).toEqual(['1', '2', '3', '4']);
    reminders.forEach((m, i) => {
      const due = createdAt + 2_000 * 2 ** i;
      expect(postedAt(m)).toBeGreaterThanOrEqual(due - 50);
      expect(postedAt(m)).toBeLessThan(due + 3_000);
    });
    expect(reminders[0]?.text).toContain(`<@${PEOPLE.bob.id}>`);
    expect(dmsTo(sandbox, PEOPLE.bob, new RegExp(`${id} is still waiting for your decision`))).toHaveLength(
      4,
    );
    expect(dmsTo(sandbox, PEOPLE.alice, /waiting for your decision/)).toHaveLength(0);
    const notes = (await readAudit(sandbox, id)).filter((e) => e.detail.startsWith('reminded the approvers'));
    expect(notes.map((e) => e.detail)).toEqual(
      [1, 2, 3, 4].map((n) => `reminded the approvers (reminder ${n} of 4): ${PEOPLE.bob.id}`),
    );
    expect(await delayedChase(id)).toEqual([]);
  }, 45_000);

  it('stops reminding the moment the request is decided', async () => {
    await start('approver-remind-stop', policyWith('    remindApprovers: 2s\n'));
    const { id, approval } = await requestAs(
      sandbox,
      PEOPLE.alice,
      `request ${READ} on payments-prod for 1h because audit`,
    );
    await waitForThreadReply(sandbox.slack, approval, /Reminder 1 of 4/, 8_000);
    await sandbox.driver.clickButton(PEOPLE.bob, approval, 'request_approve');
    const applied = await waitForState(sandbox, id, 'applied');
    const decidedAt = applied.decision?.at ?? 0;
    expect(await delayedChase(id)).toEqual([]);
    // Past the second and the third reminder's time.
    await sleep(Math.max(0, applied.createdAt + 9_000 - Date.now()));
    const notes = (await readAudit(sandbox, id)).filter((e) => e.detail.startsWith('reminded the approvers'));
    expect(notes.length).toBeGreaterThanOrEqual(1);
    expect(notes.filter((e) => e.at > decidedAt)).toEqual([]);
    expect(repliesTo(sandbox, approval, REMINDER)).toHaveLength(notes.length);
  }, 30_000);

  it('escalates to the fallback approvers after the wait, refusing them before it', async () => {
    await start(
      'approver-escalate',
      policyWith(`    escalate: {after: 3s, to: [${PEOPLE.carol.id}, S0LEADS]}\n`),
      { S0LEADS: [PEOPLE.dave.id] },
    );
    const { id, approval } = await requestAs(
      sandbox,
      PEOPLE.alice,
      `request ${READ} on payments-prod for 1h because audit`,
    );
    expect(blockText(approval)).toContain('it is escalated to <@U0CAROL>, <!subteam^S0LEADS> (after 3s)');
    let since = sandbox.slack.events.length;
    await sandbox.driver.clickButton(PEOPLE.carol, approval, 'request_approve');
    expect(await ephemeralAfter(sandbox, PEOPLE.carol, since, /yet/)).toContain(
      `You can’t decide on ${id} yet: it is escalated to you only if nobody decides it within 3s of being asked`,
    );
    expect((await readRequest(sandbox, id)).state).toBe('pending');
    const notice = await waitForThreadReply(sandbox.slack, approval, /was escalated to/, 8_000);
    const { createdAt } = await readRequest(sandbox, id);
    expect(postedAt(notice)).toBeGreaterThanOrEqual(createdAt + 3_000 - 50);
    expect(notice.text).toContain(
      `${id} was escalated to <@U0CAROL>, <!subteam^S0LEADS> after 3s without a decision`,
    );
    await waitForDm(sandbox.slack, PEOPLE.carol.id, new RegExp(`${id} was escalated to you after 3s`));
    await waitUntil(
      () => blockText(approval).includes('Escalated to <@U0CAROL>, <!subteam^S0LEADS> after 3s') || undefined,
      5_000,
      'the approval message saying it was escalated',
    );
    expectValidMessageBlocks(approval.blocks);
    // Dave is in the user group the request was escalated to: he may decide now.
    since = sandbox.slack.events.length;
    await sandbox.driver.clickButton(PEOPLE.dave, approval, 'request_approve');
    const applied = await waitForState(sandbox, id, 'applied');
    expect(applied.decision?.by).toBe(PEOPLE.dave.id);
    const audit = await readAudit(sandbox, id);
    expect(audit.map((e) => e.detail)).toContain(
      `escalated to ${PEOPLE.carol.id}, S0LEADS after 3s without a decision`,
    );
    expect(repliesTo(sandbox, approval, /was escalated to/)).toHaveLength(1);
  }, 30_000);

  it('lets the requester nudge the approvers once, and nobody else', async () => {
    await start('approver-nudge');
    const { id, approval } = await requestAs(
      sandbox,
      PEOPLE.alice,
      `request ${READ} on payments-prod for 1h because audit`,
    );
    let since = sandbox.slack.events.length;
    await sandbox.driver.command(PEOPLE.mallory, `nudge ${id}`, CHANNELS.general);
    expect(await ephemeralAfter(sandbox, PEOPLE.mallory, since, /nudge/)).toContain(
      `Only the person who asked for ${id} can nudge its approvers.`,
    );
    since = sandbox.slack.events.length;
    await sandbox.driver.command(PEOPLE.alice, `nudge ${id}`, CHANNELS.general);
    expect(await ephemeralAfter(sandbox, PEOPLE.alice, since, /reminded/)).toContain(
      `The approvers of ${id} were reminded`,
    );
    const nudge = await waitForThreadReply(sandbox.slack, approval, /nudged the approvers/);
    expect(nudge.text).toContain(`<@${PEOPLE.alice.id}> nudged the approvers`);
    expect(nudge.text).toContain(`<@${PEOPLE.bob.id}>, <@${PEOPLE.carol.id}>`);
    await waitForDm(sandbox.slack, PEOPLE.bob.id, new RegExp(`nudged you about ${id}`));
    await waitForDm(sandbox.slack, PEOPLE.carol.id, new RegExp(`nudged you about ${id}`));
    since = sandbox.slack.events.length;
    await sandbox.driver.command(PEOPLE.alice, `nudge ${id}`, CHANNELS.general);
    expect(await ephemeralAfter(sandbox, PEOPLE.alice, since, /already nudged/)).toContain(
      `You have already nudged the approvers of ${id}; a request can be nudged once.`,
    );
    await sleep(500);
    expect(repliesTo(sandbox, approval, /nudged the approvers/)).toHaveLength(1);
    const notes = (await readAudit(sandbox, id)).filter(
      (e) => e.detail === 'the requester nudged the approvers',
    );
    expect(notes.map((e) => e.actor)).toEqual([PEOPLE.alice.id]);
    // Decided: nothing left to nudge.
    await sandbox.driver.clickButton(PEOPLE.bob, approval, 'request_approve');
    await waitForState(sandbox, id, 'applied');
  }, 30_000);
});
