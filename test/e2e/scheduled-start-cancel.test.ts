import { afterEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../../dev/http-util.js';
import { CHANNELS, PEOPLE, SANDBOX_POLICY, type Sandbox, type SandboxOptions } from '../../dev/sandbox.js';
import type { ViewValues } from '../../dev/slack-driver.js';
import { offboardingIdIn } from '../../dev/slack-flow.js';
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

import {
  approveAhead,
  current,
  heardBy,
  isoIn,
  startScheduledSandbox,
  until,
} from '../support/scheduled-flow.js';

const READ = 'GROUP_DATA_ACCESS_READ_ONLY';

describe('scheduled start: cancels, ends and retries before and at the start (end to end)', {
  timeout: 60_000,
}, () => {
  let sandbox: Sandbox;
  afterEach(async () => {
    await sandbox.stop();
  });
  const start = async (label: string, options: Partial<SandboxOptions> = {}) => {
    sandbox = await startScheduledSandbox(label, options);
  };
  const approvedAhead = (begin: { text: string }, duration?: string, role?: string) =>
    approveAhead(sandbox, begin, duration, role);

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
});
