import { afterEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../../dev/http-util.js';
import { CHANNELS, PEOPLE, type Sandbox, startSandbox } from '../../dev/sandbox.js';
import type { ViewValues } from '../../dev/slack-driver.js';
import { requestIdIn } from '../../dev/slack-flow.js';
import {
  dmsTo,
  ephemeralAfter,
  expectOneSpanEnding,
  PROJECT,
  readAudit,
  requestAs,
  rolesAt,
  scheduledJobs,
  sleep,
  spansOf,
  waitForState,
} from '../support/grant-flow.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';
import { isoIn } from '../support/scheduled-flow.js';

const READ = 'GROUP_DATA_ACCESS_READ_ONLY';

describe('scheduled start (end to end)', () => {
  let sandbox: Sandbox;
  afterEach(async () => {
    await sandbox.stop();
  });
  const start = async (label: string) => {
    sandbox = await startSandbox({ redisUrl: TEST_REDIS_URL, prefix: uniquePrefix(label) });
  };

  it('applies an approved grant at its start, not before, and ends it its duration after the start', async () => {
    await start('scheduled-apply');
    const begin = isoIn(14_000);
    const { id, approval } = await requestAs(
      sandbox,
      PEOPLE.alice,
      `request ${READ} on payments-prod from ${begin.text} for 4s because migration tonight`,
    );
    const pending = await waitForState(sandbox, id, 'pending');
    expect(pending.startsAt).toBe(begin.at);
    // The approval message says when it starts, in each reader's own time zone (Slack's date token).
    expect(JSON.stringify(approval.blocks)).toContain(`4s from <!date^${begin.at / 1000}^`);

    await sandbox.driver.clickButton(PEOPLE.bob, approval, 'request_approve');
    const approved = await waitForState(sandbox, id, 'approved');
    expect(approved.grant).toBeNull();
    // Approved ahead: its apply waits in BullMQ's delayed set for the start; the people are told.
    // BullMQ takes a delay, not a time: due at the start, or the few ms the add took after it.
    const [applyJob] = await scheduledJobs(sandbox, 'apply', id);
    expect(applyJob?.jobId).toBe(`apply-${id}-1`);
    expect(applyJob?.dueAt).toBeGreaterThanOrEqual(begin.at);
    expect(applyJob?.dueAt).toBeLessThan(begin.at + 100);
    const told = await waitUntil(
      () => dmsTo(sandbox, PEOPLE.alice, /approved by/)[0],
      5_000,
      'the requester told of the scheduled approval',
    );
    expect(told.text).toContain(`Rolecall applies it in Atlas <!date^${begin.at / 1000}^`);
    expect(told.text).toContain(`/atlas-access cancel ${id}`);
    const message = await waitUntil(
      () => {
        const m = sandbox.slack.message(CHANNELS.approvals, approval.ts);
        return JSON.stringify(m?.blocks).includes('starts <!date') ? m : undefined;
      },
      5_000,
      'the approval message saying when it starts',
    );
    expect(JSON.stringify(message.blocks)).toContain('request_cancel_scheduled');

    const applied = await waitForState(sandbox, id, 'applied', 20_000);
    expect(applied.grant?.appliedAt).toBeGreaterThanOrEqual(begin.at);
    // The end counts from the start, not from when the worker got to it.
    expect(applied.grant?.revokeAt).toBe(begin.at + 4_000);
    const revoked = await waitForState(sandbox, id, 'revoked', 15_000);
    expect(revoked.revocation?.revokedAt).toBeLessThan(begin.at + 4_000 + 3_000);

    // Timeline: nothing before the start, the role from the start, removed within 3 s of its end.
    const timeline = sandbox.atlas.timeline(PEOPLE.alice.email, PROJECT);
    expect(rolesAt(timeline, begin.at - 1)).not.toContain(READ);
    const span = expectOneSpanEnding(timeline, READ, begin.at + 4_000, begin.at + 7_000);
    expect(span.from).toBeGreaterThanOrEqual(begin.at);
    expect(span.from).toBeLessThan(begin.at + 3_000);
    const audit = await readAudit(sandbox, id);
    expect(audit[0]?.detail).toContain(`to start at ${new Date(begin.at).toISOString().slice(0, 10)}`);
    expect(audit.map((entry) => entry.to)).toEqual([
      'submitted',
      'pending',
      'approved',
      'applying',
      'applied',
      'revoking',
      'revoked',
    ]);
  });

  it('cancels an approved grant before its start: nothing is applied, the apply job is gone', async () => {
    await start('scheduled-cancel');
    const begin = isoIn(12_000);
    const { id, approval } = await requestAs(
      sandbox,
      PEOPLE.alice,
      `request ${READ} on payments-prod for 1h from ${begin.text} because migration tonight`,
    );
    await waitForState(sandbox, id, 'pending');
    await sandbox.driver.clickButton(PEOPLE.bob, approval, 'request_approve');
    await waitForState(sandbox, id, 'approved');
    expect(await scheduledJobs(sandbox, 'apply', id)).toHaveLength(1);

    // A stranger may not call it off.
    let since = sandbox.slack.events.length;
    await sandbox.driver.command(PEOPLE.mallory, `cancel ${id}`, CHANNELS.general);
    expect(await ephemeralAfter(sandbox, PEOPLE.mallory, since, /can cancel it/)).toContain(
      `Only the person who asked for ${id}`,
    );
    since = sandbox.slack.events.length;
    await sandbox.driver.command(PEOPLE.alice, `cancel ${id}`, CHANNELS.general);
    const cancelled = await waitForState(sandbox, id, 'cancelled');
    expect(cancelled.decision?.by).toBe(PEOPLE.alice.id);
    await waitUntil(
      async () => ((await scheduledJobs(sandbox, 'apply', id)).length === 0 ? true : undefined),
      5_000,
      'the scheduled apply dropped',
    );
    // Past the start: still cancelled, never applied.
    await sleep(Math.max(0, begin.at - Date.now()) + 1_500);
    expect((await waitForState(sandbox, id, 'cancelled')).grant).toBeNull();
    expect(spansOf(sandbox.atlas.timeline(PEOPLE.alice.email, PROJECT), READ)).toEqual([]);
    const audit = await readAudit(sandbox, id);
    expect(audit[audit.length - 1]).toMatchObject({
      from: 'approved',
      to: 'cancelled',
      detail: 'cancelled before its start by the requester',
    });
  });

  it('applies at its start after Rolecall was down across it', async () => {
    await start('scheduled-restart');
    const begin = isoIn(11_000);
    const { id, approval } = await requestAs(
      sandbox,
      PEOPLE.alice,
      `request ${READ} on payments-prod from ${begin.text} for 1h because migration tonight`,
    );
    await waitForState(sandbox, id, 'pending');
    await sandbox.driver.clickButton(PEOPLE.bob, approval, 'request_approve');
    await waitForState(sandbox, id, 'approved');
    // Down from before the start until after it: the delayed job waits in Redis and runs once back.
    await sandbox.restart(Math.max(0, begin.at - Date.now()) + 1_000);
    const applied = await waitForState(sandbox, id, 'applied', 20_000);
    expect(applied.grant?.revokeAt).toBe(begin.at + 3_600_000);
    expect(spansOf(sandbox.atlas.timeline(PEOPLE.alice.email, PROJECT), READ)).toHaveLength(1);
  });

  it('takes the start from the form’s date and time picker: refused on the field when past, filed when ahead', async () => {
    await start('scheduled-form');
    await sandbox.driver.command(PEOPLE.alice, '', CHANNELS.general);
    const view = await waitUntil(
      () => sandbox.slack.events.find((e) => e.kind === 'view' && e.user !== undefined),
      5_000,
      'the modal',
    ).then((event) => (event.kind === 'view' ? event.view : {}));
    const startBlock = (
      (view.blocks ?? []) as { block_id?: string; optional?: boolean; element?: { type: string } }[]
    ).find((b) => b.block_id === 'start');
    expect(startBlock).toMatchObject({ optional: true, element: { type: 'datetimepicker' } });
    const select = (value: string): ViewValues[string] => ({
      value: { type: 'static_select', selected_option: { text: { type: 'plain_text', text: value }, value } },
    });
    const picked = (seconds: number): ViewValues[string] => ({
      value: { type: 'datetimepicker', selected_date_time: seconds },
    });
    const values: ViewValues = {
      target: select('payments-prod'),
      roles: {
        value: {
          type: 'checkboxes',
          selected_options: [{ text: { type: 'plain_text', text: READ }, value: READ }],
        },
      },
      duration: select('1h'),
      reason: { value: { type: 'plain_text_input', value: 'migration' } },
    };
    const past = await sandbox.driver.submitView(PEOPLE.alice, view, {
      ...values,
      start: picked(Math.floor(Date.now() / 1000) - 3600),
    });
    expect(past.json).toMatchObject({
      response_action: 'errors',
      errors: { start: expect.stringMatching(/has passed/) },
    });
    const begin = isoIn(3_600_000);
    const accepted = await sandbox.driver.submitView(PEOPLE.alice, view, {
      ...values,
      start: picked(begin.at / 1000),
    });
    expect(accepted.json?.response_action).toBeUndefined();
    const id = requestIdIn(await ephemeralAfter(sandbox, PEOPLE.alice, 0, /Request \*AR-[0-9A-Z]+\*/));
    expect((await waitForState(sandbox, id, 'pending')).startsAt).toBe(begin.at);
  });

  it('refuses a start in the past, too far ahead, or not a start, and a break-glass start, in words', async () => {
    await start('scheduled-refused');
    const cases: [string, RegExp][] = [
      [`request ${READ} on payments-prod from 2020-01-01T10:00 for 1h because x`, /has passed/],
      [`request ${READ} on payments-prod from 2099-01-01T10:00 for 1h because x`, /more than 30 days away/],
      [`request ${READ} on payments-prod from tonight for 1h because x`, /"tonight" is not a start/],
      [
        `breakglass GROUP_OWNER on payments-prod from 23:00 for 1h because x`,
        /Break-glass access starts now/,
      ],
    ];
    for (const [line, expected] of cases) {
      const since = sandbox.slack.events.length;
      await sandbox.driver.command(PEOPLE.alice, line, CHANNELS.general);
      expect(await ephemeralAfter(sandbox, PEOPLE.alice, since, expected)).toMatch(expected);
    }
  });
});
