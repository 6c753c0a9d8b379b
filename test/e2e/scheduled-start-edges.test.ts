import { writeFile } from 'node:fs/promises';
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
} from '../../dev/sandbox.js';
import { blockText } from '../../dev/slack-flow.js';
import type { SimulatedSlackUser } from '../../dev/slack-simulator.js';
import { expectValidMessageBlocks } from '../support/block-kit.js';
import {
  dmsTo,
  ephemeralAfter,
  PROJECT,
  readAudit,
  readRequest,
  requestAs,
  scheduledJobs,
  spansOf,
  waitForState,
} from '../support/grant-flow.js';

import {
  approveAhead,
  current,
  isoIn,
  openQueue,
  startScheduledSandbox,
  until,
} from '../support/scheduled-flow.js';

const READ = 'GROUP_DATA_ACCESS_READ_ONLY';
const WRITE = 'GROUP_DATA_ACCESS_READ_WRITE';
const GROUP = ATLAS.project.id;

describe('scheduled start, attacked (end to end)', { timeout: 60_000 }, () => {
  let sandbox: Sandbox;
  afterEach(async () => {
    await sandbox.stop();
  });
  const start = async (label: string, options: Partial<SandboxOptions> = {}) => {
    sandbox = await startScheduledSandbox(label, options);
  };
  const approvedAhead = (begin: { text: string }, duration?: string, role?: string) =>
    approveAhead(sandbox, begin, duration, role);

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
