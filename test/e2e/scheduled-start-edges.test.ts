import { writeFile } from 'node:fs/promises';
import { Queue } from 'bullmq';
import { DateTime } from 'luxon';
import { afterEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../../dev/http-util.js';
import {
  ATLAS,
  CHANNELS,
  PEOPLE,
  SANDBOX_POLICY,
  type Sandbox,
  type SandboxOptions,
  startSandbox,
} from '../../dev/sandbox.js';
import type { ViewValues } from '../../dev/slack-driver.js';
import { blockText, offboardingIdIn } from '../../dev/slack-flow.js';
import type { SimulatedMessage, SimulatedSlackUser } from '../../dev/slack-simulator.js';
import { createRedisClient } from '../../src/ops/redis.js';
import { expectValidMessageBlocks } from '../support/block-kit.js';
import {
  dmsTo,
  ephemeralAfter,
  nthApproval,
  PROJECT,
  readAudit,
  readRequest,
  requestAs,
  scheduledJobs,
  sleep,
  spansOf,
  waitForState,
} from '../support/grant-flow.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

const READ = 'GROUP_DATA_ACCESS_READ_ONLY';
const WRITE = 'GROUP_DATA_ACCESS_READ_WRITE';
const GROUP = ATLAS.project.id;

/** An instant `ms` from now, as typed after `from` (ISO 8601 with seconds and Z). */
function isoIn(ms: number): { at: number; text: string } {
  const at = Math.ceil((Date.now() + ms) / 1000) * 1000;
  return { at, text: new Date(at).toISOString().replace('.000Z', 'Z') };
}

/** Waits until `at` (ms since epoch) has passed by `plusMs`. */
const until = (at: number, plusMs = 0) => sleep(Math.max(0, at - Date.now()) + plusMs);

/** The approval message as it stands now. */
const current = (sandbox: Sandbox, approval: SimulatedMessage): SimulatedMessage =>
  sandbox.slack.message(CHANNELS.approvals, approval.ts) ?? approval;

/**
 * What `person` was told that matches: a DM, or a reply where they asked (an ephemeral message, while
 * Slack's response_url still takes it); the first such text, once there is one.
 */
function heardBy(sandbox: Sandbox, person: { readonly id: string }, pattern: RegExp): Promise<string> {
  return waitUntil(
    () =>
      [
        ...sandbox.slack.messagesIn(sandbox.slack.dmChannelOf(person.id)).map((m) => m.text),
        ...sandbox.slack.events.flatMap((e) =>
          e.kind === 'ephemeral' && e.user === person.id ? [e.text] : [],
        ),
      ].find((text) => pattern.test(text)),
    5_000,
    `${person.id} told ${pattern}`,
  ).catch(() => 'nothing');
}

/** One of the app's BullMQ queues, opened on its own connection; `close` when done. */
function openQueue(sandbox: Sandbox, name: string) {
  const redis = createRedisClient(sandbox.config.redis, 'commands');
  const queue = new Queue(name, { connection: redis, prefix: sandbox.config.redis.prefix });
  return {
    queue,
    async close() {
      await queue.close();
      redis.disconnect();
    },
  };
}

describe('scheduled start, attacked (end to end)', { timeout: 60_000 }, () => {
  let sandbox: Sandbox;
  afterEach(async () => {
    await sandbox.stop();
  });
  const start = async (label: string, options: Partial<SandboxOptions> = {}) => {
    sandbox = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix(label),
      ...options,
      env: { JOB_BACKOFF_MS: '50', REMIND_BEFORE: '0', ...options.env },
    });
  };
  /** Alice asks for READ from `begin` for `duration`; Bob approves; returns once approved. */
  const approvedAhead = async (begin: { text: string }, duration = '1h', role = READ) => {
    const asked = await requestAs(
      sandbox,
      PEOPLE.alice,
      `request ${role} on payments-prod from ${begin.text} for ${duration} because migration`,
    );
    await waitForState(sandbox, asked.id, 'pending');
    await sandbox.driver.clickButton(PEOPLE.bob, asked.approval, 'request_approve');
    await waitForState(sandbox, asked.id, 'approved');
    return asked;
  };

  it('reads `from HH:MM` in the requester’s Slack time zone, and in UTC when Slack names a zone that does not exist', async () => {
    const erik: SimulatedSlackUser = {
      id: 'U0ERIK',
      name: 'erik',
      email: 'erik@example.com',
      timeZone: 'Europe/Amsterdam',
    };
    const zed: SimulatedSlackUser = {
      id: 'U0ZED',
      name: 'zed',
      email: 'zed@example.com',
      timeZone: 'Mars/Base',
    };
    const member = (id: string, username: string) => ({
      id,
      username,
      orgRoles: { [ATLAS.org.id]: ['ORG_MEMBER'] },
      groupRoles: { [GROUP]: ['GROUP_READ_ONLY'] },
    });
    await start('sched-tz', {
      slackUsers: [erik, zed],
      atlas: {
        users: [
          member('64b0000000000000000e41c0', 'erik@example.com'),
          member('64b0000000000000000e4ed0', 'zed@example.com'),
        ],
      },
    });
    const ids = [];
    for (const [person, zone] of [
      [erik, 'Europe/Amsterdam'],
      [zed, 'UTC'],
      [PEOPLE.alice, 'America/Los_Angeles'],
    ] as const) {
      // Two hours from now, to the minute, on the person's own clock.
      const wall = DateTime.now().setZone(zone).plus({ hours: 2 }).startOf('minute');
      const since = sandbox.slack.events.length;
      await sandbox.driver.command(
        person,
        `request ${READ} on payments-prod from ${wall.toFormat('HH:mm')} for 1h because tz`,
        CHANNELS.general,
      );
      const confirmation = await waitUntil(
        () =>
          sandbox.slack.events
            .slice(since)
            .map((e) => (e.kind === 'ephemeral' && e.user === person.id ? e.text : undefined))
            .find((t) => t !== undefined && /Request \*AR-[0-9A-Z]+\*/.test(t)),
        5_000,
        `${person.name}'s confirmation`,
      );
      const id = /AR-[0-9A-Z]+/.exec(confirmation)?.[0] ?? '';
      ids.push(id);
      expect(confirmation).toContain(`from <!date^${wall.toSeconds()}^`);
      expect((await readRequest(sandbox, id)).startsAt).toBe(wall.toMillis());
    }
    expect(new Set(ids).size).toBe(3);
  });

  it('applies at once a grant approved after its start, still ending its duration after the start', async () => {
    await start('sched-late-approval');
    const begin = isoIn(11_000);
    const asked = await requestAs(
      sandbox,
      PEOPLE.alice,
      `request ${READ} on payments-prod from ${begin.text} for 1h because late approval`,
    );
    await waitForState(sandbox, asked.id, 'pending');
    await until(begin.at, 1_500);
    // Still pending past its start (its window is open), so an approver may still approve it.
    const approvedAt = Date.now();
    await sandbox.driver.clickButton(PEOPLE.bob, asked.approval, 'request_approve');
    const applied = await waitForState(sandbox, asked.id, 'applied');
    expect(applied.grant?.appliedAt).toBeGreaterThanOrEqual(approvedAt);
    expect(applied.grant?.revokeAt).toBe(begin.at + 3_600_000);
    const [span] = spansOf(sandbox.atlas.timeline(PEOPLE.alice.email, PROJECT), READ);
    expect(span?.from).toBeGreaterThanOrEqual(approvedAt);
    // The revocation is due then too (BullMQ keeps a delay, so within a few ms of it).
    const [revoke] = await scheduledJobs(sandbox, 'revoke', asked.id);
    expect(Math.abs((revoke?.dueAt ?? 0) - (begin.at + 3_600_000))).toBeLessThan(100);
  });

  it('expires a scheduled request nobody decided at the end of its window, and refuses an Approve after that', async () => {
    await start('sched-expire');
    const begin = isoIn(11_000);
    const asked = await requestAs(
      sandbox,
      PEOPLE.alice,
      `request ${READ} on payments-prod from ${begin.text} for 3s because short window`,
    );
    // The message as it was while pending, with its Approve button: what an approver still has open.
    const stale = structuredClone(asked.approval);
    const expired = await waitForState(sandbox, asked.id, 'expired', 25_000);
    expect(expired.updatedAt).toBeGreaterThanOrEqual(begin.at + 3_000);
    const since = sandbox.slack.events.length;
    await sandbox.driver.clickButton(PEOPLE.bob, stale, 'request_approve');
    expect(await ephemeralAfter(sandbox, PEOPLE.bob, since, /expired/)).toContain(`${asked.id} has expired`);
    expect(spansOf(sandbox.atlas.timeline(PEOPLE.alice.email, PROJECT), READ)).toEqual([]);
  });

  it('grants nothing when the approval lands after the window’s end (its expiry late), and offers no Retry that cannot help', async () => {
    await start('sched-window-passed');
    const expiries = openQueue(sandbox, 'expire');
    // The expiry job late (a busy worker, a Redis failover): nothing stops the Approve click but the window.
    await expiries.queue.pause();
    try {
      const begin = isoIn(11_000);
      const asked = await requestAs(
        sandbox,
        PEOPLE.alice,
        `request ${READ} on payments-prod from ${begin.text} for 2s because too late`,
      );
      await waitForState(sandbox, asked.id, 'pending');
      await until(begin.at + 2_000, 500);
      await sandbox.driver.clickButton(PEOPLE.bob, asked.approval, 'request_approve');
      const failed = await waitForState(sandbox, asked.id, ['failed', 'expired', 'cancelled']);
      expect(failed.grant).toBeNull();
      expect(spansOf(sandbox.atlas.timeline(PEOPLE.alice.email, PROJECT), READ)).toEqual([]);
      if (failed.state === 'failed') {
        expect(failed.failure?.code).toBe('REQUEST_WINDOW_PASSED');
        const message = await waitUntil(
          () => {
            const m = current(sandbox, asked.approval);
            return /\*failed\*/.test(blockText(m)) ? m : undefined;
          },
          5_000,
          'the approval message saying it failed',
        );
        expectValidMessageBlocks(message.blocks);
        expect(JSON.stringify(message.blocks)).not.toContain('request_retry');
        const told = await waitUntil(
          () => dmsTo(sandbox, PEOPLE.alice, /could not be applied/)[0],
          5_000,
          'the requester told',
        );
        expect(told.text).toContain('that time passed before it could be applied');
        expect(told.text).not.toContain('Retry');
      }
    } finally {
      await expiries.close();
    }
  });

  it('lets an approver cancel before the start, refuses a stranger, and tells the requester who was promised the grant', async () => {
    await start('sched-approver-cancel');
    const begin = isoIn(12_000);
    const asked = await approvedAhead(begin);
    await waitUntil(
      () => dmsTo(sandbox, PEOPLE.alice, /approved by/)[0],
      5_000,
      'the requester told it starts later',
    );
    const message = await waitUntil(
      () => {
        const m = current(sandbox, asked.approval);
        return JSON.stringify(m.blocks).includes('request_cancel_scheduled') ? m : undefined;
      },
      5_000,
      'the Cancel before start button',
    );
    expectValidMessageBlocks(message.blocks);
    let since = sandbox.slack.events.length;
    await sandbox.driver.clickButton(PEOPLE.mallory, message, 'request_cancel_scheduled');
    expect(await ephemeralAfter(sandbox, PEOPLE.mallory, since, /cancel/)).toContain(
      `Only the person who asked for ${asked.id}`,
    );
    expect((await readRequest(sandbox, asked.id)).state).toBe('approved');
    since = sandbox.slack.events.length;
    await sandbox.driver.clickButton(PEOPLE.carol, message, 'request_cancel_scheduled');
    expect(await ephemeralAfter(sandbox, PEOPLE.carol, since, /cancelled/)).toContain(
      'cancelled before its start',
    );
    const cancelled = await waitForState(sandbox, asked.id, 'cancelled');
    expect(cancelled.decision?.by).toBe(PEOPLE.carol.id);
    expect((await readAudit(sandbox, asked.id)).at(-1)?.detail).toBe(
      'cancelled before its start by an approver',
    );
    // Alice was told by DM that her grant starts later; she must hear that it will not (a DM, or a
    // reply where she asked while Slack's response_url still works).
    expect(await heardBy(sandbox, PEOPLE.alice, /was cancelled/)).toContain(
      `${asked.id} was cancelled by <@${PEOPLE.carol.id}>`,
    );
    await until(begin.at, 1_000);
    expect(spansOf(sandbox.atlas.timeline(PEOPLE.alice.email, PROJECT), READ)).toEqual([]);
  });

  it('lets the grantee say Not me after the approval and before the start: cancelled, nothing applied', async () => {
    await start('sched-not-me');
    const begin = isoIn(14_000);
    // Bob (an approver, so onBehalf by default) asks for Alice through the form, which has "Who".
    await sandbox.driver.command(PEOPLE.bob, '', CHANNELS.general);
    const view = await waitUntil(
      () => sandbox.slack.events.find((e) => e.kind === 'view' && e.user === PEOPLE.bob.id),
      5_000,
      'the modal',
    ).then((event) => (event.kind === 'view' ? event.view : {}));
    const select = (value: string): ViewValues[string] => ({
      value: { type: 'static_select', selected_option: { text: { type: 'plain_text', text: value }, value } },
    });
    const submitted = await sandbox.driver.submitView(PEOPLE.bob, view, {
      target: select('payments-prod'),
      grantee: { value: { type: 'users_select', selected_user: PEOPLE.alice.id } },
      roles: {
        value: {
          type: 'checkboxes',
          selected_options: [{ text: { type: 'plain_text', text: READ }, value: READ }],
        },
      },
      duration: select('1h'),
      reason: { value: { type: 'plain_text_input', value: 'for alice' } },
      start: { value: { type: 'datetimepicker', selected_date_time: begin.at / 1000 } },
    });
    expect(submitted.json?.response_action).toBeUndefined();
    const asked = await nthApproval(sandbox);
    expect((await waitForState(sandbox, asked.id, 'pending')).granteeId).toBe(PEOPLE.alice.id);
    const notice = await waitUntil(
      () => dmsTo(sandbox, PEOPLE.alice, /asked for Atlas access for you/)[0],
      5_000,
      'the Not me notice',
    );
    expect(notice.text).toContain(`from <!date^${begin.at / 1000}^`);
    await sandbox.driver.clickButton(PEOPLE.carol, asked.approval, 'request_approve');
    await waitForState(sandbox, asked.id, 'approved');
    const since = sandbox.slack.events.length;
    await sandbox.driver.clickButton(PEOPLE.alice, notice, 'request_not_me');
    await ephemeralAfter(sandbox, PEOPLE.alice, since, /cancelled/).catch(() => '');
    const cancelled = await waitForState(sandbox, asked.id, 'cancelled');
    expect(cancelled.decision?.by).toBe(PEOPLE.alice.id);
    expect((await readAudit(sandbox, asked.id)).at(-1)?.detail).toBe(
      'cancelled before its start by the grantee',
    );
    expect(await scheduledJobs(sandbox, 'apply', asked.id)).toEqual([]);
    // Bob was told by DM that it starts later; he hears that Alice called it off.
    expect(await heardBy(sandbox, PEOPLE.bob, /was cancelled/)).toContain(
      `${asked.id} was cancelled by <@${PEOPLE.alice.id}>`,
    );
    await until(begin.at, 1_000);
    expect((await readRequest(sandbox, asked.id)).state).toBe('cancelled');
    expect(spansOf(sandbox.atlas.timeline(PEOPLE.alice.email, PROJECT), READ)).toEqual([]);
  });

  it('settles a cancel sent at the very start one way: cancelled and never granted, or granted and the cancel refused', async () => {
    await start('sched-cancel-race');
    const begin = isoIn(11_000);
    const asked = await approvedAhead(begin);
    await until(begin.at, -20);
    const since = sandbox.slack.events.length;
    await sandbox.driver.command(PEOPLE.alice, `cancel ${asked.id}`, CHANNELS.general);
    const reply = await ephemeralAfter(sandbox, PEOPLE.alice, since, new RegExp(asked.id));
    const settled = await waitForState(sandbox, asked.id, ['cancelled', 'applied']);
    const spans = spansOf(sandbox.atlas.timeline(PEOPLE.alice.email, PROJECT), READ);
    if (settled.state === 'cancelled') {
      expect(reply).toContain('cancelled');
      await sleep(1_500);
      expect((await readRequest(sandbox, asked.id)).state).toBe('cancelled');
      expect(spans).toEqual([]);
    } else {
      expect(reply).not.toMatch(/is cancelled/);
      expect(spans).toHaveLength(1);
      expect(spans[0]?.from).toBeGreaterThanOrEqual(begin.at);
      expect(settled.grant?.revokeAt).toBe(begin.at + 3_600_000);
    }
  });

  it('keeps the end at start + duration when an approver retries a scheduled grant that failed at its start', async () => {
    await start('sched-retry');
    sandbox.atlas.inject({
      method: 'PUT',
      path: /\/users\/[0-9a-f]{24}\/roles$/,
      status: 400,
      body: { error: 400, errorCode: 'INVALID_ROLE_FOR_GROUP', detail: 'refused once' },
    });
    const begin = isoIn(11_000);
    const asked = await approvedAhead(begin);
    const failed = await waitForState(sandbox, asked.id, 'failed', 20_000);
    expect(failed.failure?.message).toContain('INVALID_ROLE_FOR_GROUP');
    const withRetry = await waitUntil(
      () => {
        const m = current(sandbox, asked.approval);
        return JSON.stringify(m.blocks).includes('request_retry') ? m : undefined;
      },
      5_000,
      'the Retry button',
    );
    await sleep(1_000);
    await sandbox.driver.clickButton(PEOPLE.bob, withRetry, 'request_retry');
    const applied = await waitForState(sandbox, asked.id, 'applied');
    expect(applied.attempt).toBe(2);
    expect(applied.grant?.appliedAt).toBeGreaterThan(begin.at + 1_000);
    expect(applied.grant?.revokeAt).toBe(begin.at + 3_600_000);
  });

  it('refuses an extension and End now before the start, in words that say it has not started', async () => {
    await start('sched-extend-end');
    const begin = isoIn(60_000);
    const asked = await approvedAhead(begin);
    let since = sandbox.slack.events.length;
    await sandbox.driver.command(PEOPLE.alice, `extend ${asked.id} for 1h because longer`, CHANNELS.general);
    const extend = await ephemeralAfter(sandbox, PEOPLE.alice, since, new RegExp(asked.id));
    since = sandbox.slack.events.length;
    await sandbox.driver.command(PEOPLE.alice, `end ${asked.id}`, CHANNELS.general);
    const end = await ephemeralAfter(sandbox, PEOPLE.alice, since, new RegExp(asked.id));
    const after = await readRequest(sandbox, asked.id);
    expect(after.state).toBe('approved');
    expect(after.endedEarly).toBeNull();
    expect(await scheduledJobs(sandbox, 'apply', asked.id)).toHaveLength(1);
    // "was already approved" reads as if it were running: it has not started, and cancel is the way out.
    expect(extend).toMatch(/has not started/);
    expect(end).toMatch(/has not started/);
    expect(end).toContain(`/atlas-access cancel ${asked.id}`);
  });

  it('cancels a scheduled grant whose grantee is offboarded before its start; nothing is applied at the start', async () => {
    await start('sched-offboard', {
      policy: SANDBOX_POLICY.replace(
        'approvalsChannel: C0APPROVALS\n',
        'approvalsChannel: C0APPROVALS\noffboarders: [U0CAROL]\noffboardApprovers: [U0BOB]\n',
      ),
    });
    const begin = isoIn(14_000);
    const asked = await requestAs(
      sandbox,
      PEOPLE.dana,
      `request ${READ} on payments-prod from ${begin.text} for 1h because before she leaves`,
    );
    await waitForState(sandbox, asked.id, 'pending');
    await sandbox.driver.clickButton(PEOPLE.bob, asked.approval, 'request_approve');
    await waitForState(sandbox, asked.id, 'approved');
    const since = sandbox.slack.events.length;
    await sandbox.driver.command(
      PEOPLE.carol,
      'offboard dana.smith@example.com because she left',
      CHANNELS.general,
    );
    const offboardingId = offboardingIdIn(
      await ephemeralAfter(sandbox, PEOPLE.carol, since, /Offboarding \*OB-[0-9A-Z]+\*/),
    );
    const message = await waitUntil(
      () =>
        sandbox.slack
          .messagesIn(CHANNELS.approvals)
          .find(
            (m) => m.text.includes(offboardingId) && JSON.stringify(m.blocks).includes('offboard_approve'),
          ),
      5_000,
      'the offboarding message',
    );
    await sandbox.driver.clickButton(PEOPLE.bob, message, 'offboard_approve');
    const cancelled = await waitForState(sandbox, asked.id, 'cancelled');
    expect(cancelled.decision?.by).toBe('system');
    await until(begin.at, 1_500);
    expect((await readRequest(sandbox, asked.id)).state).toBe('cancelled');
    expect(spansOf(sandbox.atlas.timeline(PEOPLE.dana.email.toLowerCase(), PROJECT), READ)).toEqual([]);
  });

  it('applies at its start, never before, a grant whose delayed apply Redis lost (the sweep) or ran early', async () => {
    await start('sched-lost-job', { env: { SWEEP_INTERVAL: '1s' } });
    const begin = isoIn(14_000);
    const asked = await approvedAhead(begin);
    const jobId = `apply-${asked.id}-1`;
    const applies = openQueue(sandbox, 'apply');
    try {
      // Lost: the sweep puts it back, due at the start.
      await (await applies.queue.getJob(jobId))?.remove();
      expect(await scheduledJobs(sandbox, 'apply', asked.id)).toEqual([]);
      const back = await waitUntil(
        async () => (await scheduledJobs(sandbox, 'apply', asked.id))[0],
        8_000,
        'the sweep to queue the apply again',
      );
      // BullMQ takes a delay, not a time: due at the start, or the few ms the add took after it.
      expect(back.jobId).toBe(jobId);
      expect(back.dueAt).toBeGreaterThanOrEqual(begin.at);
      expect(back.dueAt).toBeLessThan(begin.at + 100);
      // Run early (promoted by hand, as a re-queue without its delay would): it defers itself to the start.
      await (await applies.queue.getJob(jobId))?.promote();
      const deferred = await waitUntil(
        async () => (await scheduledJobs(sandbox, 'apply', asked.id))[0],
        8_000,
        'the early job to defer itself',
      );
      expect(deferred.dueAt).toBe(begin.at);
      expect((await readRequest(sandbox, asked.id)).state).toBe('approved');
    } finally {
      await applies.close();
    }
    const applied = await waitForState(sandbox, asked.id, 'applied', 20_000);
    expect(applied.grant?.revokeAt).toBe(begin.at + 3_600_000);
    const spans = spansOf(sandbox.atlas.timeline(PEOPLE.alice.email, PROJECT), READ);
    expect(spans).toHaveLength(1);
    expect(spans[0]?.from).toBeGreaterThanOrEqual(begin.at);
    const audit = await readAudit(sandbox, asked.id);
    expect(audit.filter((e) => e.to === 'applying')).toHaveLength(1);
  });

  it('applies an auto-approved scheduled request at its start, and lets its requester cancel another before its start', async () => {
    const policy = `approvalsChannel: ${CHANNELS.approvals}
targets:
  - name: payments-prod
    project: ${GROUP}
    approvers: [${PEOPLE.bob.id}, ${PEOPLE.carol.id}]
    roles: [${READ}, ${WRITE}]
    rules:
      - roles: [${READ}]
        autoApprove: true
        maxDuration: 1h
`;
    await start('sched-auto', { policy });
    const begin = isoIn(12_000);
    const auto = await requestAs(
      sandbox,
      PEOPLE.alice,
      `request ${READ} on payments-prod from ${begin.text} for 1h because auto`,
    );
    const approved = await waitForState(sandbox, auto.id, 'approved');
    expect(approved.decision?.by).toBe('policy');
    const later = isoIn(60_000);
    const other = await requestAs(
      sandbox,
      PEOPLE.dana,
      `request ${READ} on payments-prod from ${later.text} for 1h because auto too`,
    );
    await waitForState(sandbox, other.id, 'approved');
    const since = sandbox.slack.events.length;
    await sandbox.driver.command(PEOPLE.dana, `cancel ${other.id}`, CHANNELS.general);
    await ephemeralAfter(sandbox, PEOPLE.dana, since, /cancelled/);
    expect((await waitForState(sandbox, other.id, 'cancelled')).grant).toBeNull();
    const applied = await waitForState(sandbox, auto.id, 'applied', 20_000);
    expect(applied.grant?.revokeAt).toBe(begin.at + 3_600_000);
    const [span] = spansOf(sandbox.atlas.timeline(PEOPLE.alice.email, PROJECT), READ);
    expect(span?.from).toBeGreaterThanOrEqual(begin.at);
  });

  it('creates a scheduled database user at its start, with Atlas’s deleteAfterDate at start + duration', async () => {
    const policy = SANDBOX_POLICY.replace(
      `    roles: [GROUP_READ_ONLY, ${READ}, ${WRITE}]\n`,
      `    roles: [GROUP_READ_ONLY, ${READ}, ${WRITE}]
    database:
      auth: password
      levels:
        orders-read:
          roles: [{role: read, db: orders}]
          clusters: [payments-0]
`,
    );
    await start('sched-db', {
      policy,
      atlasApi: 'atlas-v2-2025',
      atlas: { clusters: [{ groupId: GROUP, name: 'payments-0' }] },
    });
    const begin = isoIn(12_000);
    const asked = await approvedAhead(begin, '2h', 'db:orders-read');
    const username = (await readRequest(sandbox, asked.id)).database?.username ?? '';
    expect(username).not.toBe('');
    expect(sandbox.atlas.databaseUsers(GROUP).map((u) => u.username)).not.toContain(username);
    const applied = await waitForState(sandbox, asked.id, 'applied', 20_000);
    const end = begin.at + 7_200_000;
    expect(applied.grant?.revokeAt).toBe(end);
    const user = sandbox.atlas.databaseUsers(GROUP).find((u) => u.username === username);
    expect(user?.deleteAfterDate).toBe(new Date(end).toISOString());
    const [created] = sandbox.atlas.databaseUserTimeline(GROUP, username);
    expect(created?.at).toBeGreaterThanOrEqual(begin.at);
  });

  it('adds the person to a team at the start of a scheduled team: grant, not before', async () => {
    const team = { id: '6d0000000000000000000001', name: 'platform-oncall' };
    await start('sched-team', {
      policy: `${SANDBOX_POLICY}    teams: [${team.name}]\n`,
      atlas: {
        teams: [
          {
            ...team,
            orgId: ATLAS.org.id,
            members: [],
            projectRoles: { [GROUP]: [READ] },
          },
        ],
      },
    });
    const begin = isoIn(12_000);
    const asked = await requestAs(
      sandbox,
      PEOPLE.alice,
      `request team:${team.name} on acme from ${begin.text} for 1h because on call tonight`,
    );
    await waitForState(sandbox, asked.id, 'pending');
    await sandbox.driver.clickButton(PEOPLE.carol, asked.approval, 'request_approve');
    await waitForState(sandbox, asked.id, 'approved');
    expect(sandbox.atlas.teamMembers(team.id)).not.toContain(PEOPLE.alice.email);
    const applied = await waitForState(sandbox, asked.id, 'applied', 20_000);
    expect(Date.now()).toBeGreaterThanOrEqual(begin.at);
    expect(applied.grant?.appliedAt).toBeGreaterThanOrEqual(begin.at);
    expect(applied.grant?.revokeAt).toBe(begin.at + 3_600_000);
    expect(sandbox.atlas.teamMembers(team.id)).toContain(PEOPLE.alice.email);
  });

  it('does not apply at its start a grant whose role the policy stopped allowing after it was approved', async () => {
    await start('sched-policy-tightened');
    const begin = isoIn(12_000);
    const asked = await approvedAhead(begin);
    // Between the approval and the start (up to 30 days), the role leaves the target's roles.
    await writeFile(sandbox.config.policyFile, SANDBOX_POLICY.replace(`${READ}, `, ''));
    await sandbox.rolecall.reloadPolicy();
    const since = sandbox.slack.events.length;
    await sandbox.driver.command(
      PEOPLE.dana,
      `request ${READ} on payments-prod for 1h because now`,
      CHANNELS.general,
    );
    // A new request for it is refused now…
    expect(await ephemeralAfter(sandbox, PEOPLE.dana, since, new RegExp(READ))).toMatch(/not|no longer/);
    await until(begin.at, 3_000);
    // …and the one approved under the old policy must not be granted at its start either.
    const settled = await waitForState(sandbox, asked.id, 'failed');
    expect(settled.failure).toMatchObject({ code: 'ROLE_NOT_ALLOWED' });
    expect(settled.failure?.message).toContain('but the policy in force now refuses it');
    expect(settled.failure?.message).toContain('Nothing was granted.');
    expect(settled.grant).toBeNull();
    expect(spansOf(sandbox.atlas.timeline(PEOPLE.alice.email, PROJECT), READ)).toEqual([]);
  });
});
