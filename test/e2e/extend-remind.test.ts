import { afterEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../../dev/http-util.js';
import { CHANNELS, PEOPLE, type Sandbox, startSandbox } from '../../dev/sandbox.js';
import {
  blockText,
  requestIdIn,
  waitForApprovalMessage,
  waitForDm,
  waitForThreadReply,
} from '../../dev/slack-flow.js';
import { expectValidMessageBlocks, expectValidModal } from '../support/block-kit.js';
import { afterTheGrant } from '../support/faults.js';
import { ATLAS_V2 } from '../support/flow-flavors.js';
import {
  dmsTo,
  ephemeralAfter,
  expectOneSpanEnding,
  holdRevocations,
  PROJECT,
  pendingJobIds,
  requestAs,
  rolesAt,
  scheduledJobs,
  waitForState,
} from '../support/grant-flow.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

const READ = 'GROUP_DATA_ACCESS_READ_ONLY';
/** The flavor these tests run on (startSandbox's default). */
const V2 = ATLAS_V2;

describe('extend, reminders and End now (end to end)', () => {
  let sandbox: Sandbox;

  afterEach(async () => {
    await sandbox.stop();
  });

  const start = async (label: string, env: Record<string, string> = {}) => {
    sandbox = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix(label),
      env: { JOB_BACKOFF_MS: '50', RECONCILE_INTERVAL: '1h', REMIND_BEFORE: '0', ...env },
    });
  };

  const grant = async (seconds: number) => {
    const { id, approval } = await requestAs(
      sandbox,
      PEOPLE.alice,
      `request ${READ} on payments-prod for ${seconds}s because work`,
    );
    await sandbox.driver.clickButton(PEOPLE.bob, approval, 'request_approve');
    return { id, approval, applied: await waitForState(sandbox, id, 'applied') };
  };

  it('moves the end of a grant when an extension is approved, across restarts, and removes it at the new end', async () => {
    await start('extend');
    // The grant's revocation waits until the extension is through both restarts, however slow the run.
    const hold = await holdRevocations(sandbox);
    const { id, approval, applied } = await grant(3);
    const oldEnd = applied.grant?.revokeAt ?? 0;
    const extension = await requestAs(
      sandbox,
      PEOPLE.alice,
      `extend ${id} for 3s because the migration runs late`,
    );
    expectValidMessageBlocks(extension.approval.blocks);
    expect(blockText(extension.approval)).toContain('Extension request');
    expect(blockText(extension.approval)).toContain(`*Extends*\\n${id}, which ends`);
    await sandbox.restart();
    await sandbox.driver.clickButton(PEOPLE.carol, extension.approval, 'request_approve');
    const done = await waitForState(sandbox, extension.id, 'applied');
    expect(done.extension).toMatchObject({ of: id, from: oldEnd, to: oldEnd + 3_000 });
    await sandbox.restart();
    const extended = await waitForState(sandbox, id, 'applied');
    expect(extended.grant?.revokeAt).toBe(oldEnd + 3_000);
    const note = await waitForThreadReply(sandbox.slack, approval, /was extended by/);
    expect(note.text).toContain(`${id} was extended by ${extension.id}`);
    await waitForDm(
      sandbox.slack,
      PEOPLE.alice.id,
      new RegExp(`${extension.id} approved by <@U0CAROL>: ${id} now ends`),
    );
    // One revocation, scheduled at the new end (as stored), none at the old one.
    // (BullMQ counts a delay from when it stores the job: a few ms after the end was computed.)
    const scheduled = await scheduledJobs(sandbox, 'revoke', id);
    expect(scheduled).toHaveLength(1);
    expect(scheduled[0]?.dueAt).toBeGreaterThanOrEqual(oldEnd + 3_000);
    expect(scheduled[0]?.dueAt).toBeLessThan(oldEnd + 3_250);
    await hold.release();
    await waitForState(sandbox, id, 'revoked', 10_000);
    const revokedAt = Date.now();
    const timeline = sandbox.atlas.timeline(PEOPLE.alice.email, PROJECT);
    expect(rolesAt(timeline, oldEnd + 1_000)).toContain(READ);
    expectOneSpanEnding(timeline, READ, oldEnd + 3_000, Math.max(oldEnd + 5_000, revokedAt));
  }, 30_000);

  it('removes the role at the original end when the extension is denied, and refuses strangers', async () => {
    await start('extend-deny');
    // The grant cannot end (and withdraw the extension) before the denial, however slow the run.
    const hold = await holdRevocations(sandbox);
    const { id, applied } = await grant(3);
    const since = sandbox.slack.events.length;
    await sandbox.driver.command(PEOPLE.mallory, `extend ${id} for 1h because mine now`, CHANNELS.general);
    expect(await ephemeralAfter(sandbox, PEOPLE.mallory, since, /can ask to extend/)).toContain(
      `Only the person who holds ${id}, or who asked for it, can ask to extend it.`,
    );
    const extension = await requestAs(sandbox, PEOPLE.alice, `extend ${id} for 10s because please`);
    await sandbox.driver.clickButton(PEOPLE.bob, extension.approval, 'request_deny');
    const opened = await waitUntil(() => sandbox.slack.callsTo('views.open')[0], 5_000, 'deny modal');
    await sandbox.driver.submitView(
      PEOPLE.bob,
      JSON.parse(String(opened.args.view)) as Record<string, unknown>,
      {
        reason: { value: { type: 'plain_text_input', value: 'not needed' } },
      },
    );
    await waitForState(sandbox, extension.id, 'denied');
    const end = applied.grant?.revokeAt ?? 0;
    // The revocation stays at the original end (as stored).
    const scheduled = await scheduledJobs(sandbox, 'revoke', id);
    expect(scheduled).toHaveLength(1);
    expect(scheduled[0]?.dueAt).toBeGreaterThanOrEqual(end);
    expect(scheduled[0]?.dueAt).toBeLessThan(end + 250);
    await hold.release();
    await waitForState(sandbox, id, 'revoked', 10_000);
    const revokedAt = Date.now();
    expectOneSpanEnding(
      sandbox.atlas.timeline(PEOPLE.alice.email, PROJECT),
      READ,
      end,
      Math.max(end + 2_000, revokedAt),
    );
  }, 30_000);

  it('withdraws a pending extension when its grant ends, and tells the person who asked', async () => {
    await start('extend-withdraw');
    const { id } = await grant(60);
    const extension = await requestAs(
      sandbox,
      PEOPLE.alice,
      // Typed as people type it: in lower case (ids are case-insensitive).
      `extend ${id.toLowerCase()} for 1h because later`,
    );
    await sandbox.driver.command(PEOPLE.alice, `end ${extension.id}`, CHANNELS.general);
    await waitForState(sandbox, id, 'revoked', 5_000);
    const withdrawn = await waitForState(sandbox, extension.id, 'cancelled', 5_000);
    expect(withdrawn.decision).toMatchObject({ by: 'system', note: `${id} ended before it was decided` });
    // Told where they asked (the command's response_url still works), or by DM when it no longer does.
    expect(await ephemeralAfter(sandbox, PEOPLE.alice, 0, /was cancelled by Rolecall/)).toContain(
      `${extension.id} was cancelled by Rolecall: ${id} ended before it was decided`,
    );
    expect(blockText(extension.approval)).not.toContain('request_approve');
    expect(blockText(extension.approval)).toContain('*Cancelled by Rolecall*');
  }, 20_000);

  it('reports an extension approved while the revocation is already running as too late', async () => {
    await start('extend-race');
    // The revocation waits until the extension is asked for; its Atlas write (the one after the
    // grant's, armed by it) takes 1.5 s, so the approval lands while it runs.
    const hold = await holdRevocations(sandbox);
    for (const fault of afterTheGrant(V2, { ...V2.roleWrite, delayMs: 1_500, times: 1 }))
      sandbox.atlas.inject(fault);
    const { id, applied } = await grant(2);
    const extension = await requestAs(sandbox, PEOPLE.alice, `extend ${id} for 1h because racing`);
    await hold.release();
    await waitForState(sandbox, id, 'revoking', 5_000);
    await sandbox.driver.clickButton(PEOPLE.bob, extension.approval, 'request_approve');
    const failed = await waitForState(sandbox, extension.id, 'failed', 10_000);
    expect(failed.failure?.code).toBe('EXTENSION_TOO_LATE');
    expect(blockText(extension.approval)).not.toContain('request_retry');
    const reply = await waitForThreadReply(sandbox.slack, extension.approval, /came too late/);
    expect(reply.text).toContain(`so ${extension.id} came too late`);
    const original = await waitForState(sandbox, id, 'revoked', 10_000);
    expect(original.extensions).toEqual([]);
    const end = applied.grant?.revokeAt ?? 0;
    const revokedAt = Date.now();
    expectOneSpanEnding(
      sandbox.atlas.timeline(PEOPLE.alice.email, PROJECT),
      READ,
      end,
      Math.max(end + 3_000, revokedAt),
    );
  }, 30_000);

  it('reminds the grantee before the end, with Extend and End now that work', async () => {
    await start('remind', { REMIND_BEFORE: '2s' });
    const { id, applied } = await grant(4);
    const appliedAt = applied.grant?.appliedAt ?? 0;
    const reminder = await waitForDm(sandbox.slack, PEOPLE.alice.id, /:alarm_clock:/, 6_000);
    const reminderAt =
      sandbox.slack.callsTo('chat.postMessage').find((c) => String(c.args.text).includes(':alarm_clock:'))
        ?.at ?? 0;
    expect(reminder.text).toContain(`Your Atlas access ${id}`);
    expect(reminderAt).toBeGreaterThanOrEqual(appliedAt + 1_900);
    expect(reminderAt).toBeLessThan(appliedAt + 3_500);
    expectValidMessageBlocks(reminder.blocks);
    expect(blockText(reminder)).toContain('grant_extend');

    await sandbox.driver.clickButton(PEOPLE.alice, reminder, 'grant_extend');
    const opened = await waitUntil(
      () => sandbox.slack.callsTo('views.open').find((c) => String(c.args.view).includes('extend_grant')),
      5_000,
      'extend modal',
    );
    const view = JSON.parse(String(opened.args.view)) as Record<string, unknown>;
    expectValidModal(view);
    const bad = await sandbox.driver.submitView(PEOPLE.alice, view, {
      duration: { value: { type: 'plain_text_input', value: 'a while' } },
      reason: { value: { type: 'plain_text_input', value: 'more' } },
    });
    expect(bad.json).toEqual({
      response_action: 'errors',
      errors: { duration: 'Use a number and a unit: 30m, 4h, 2d.' },
    });
    const since = sandbox.slack.events.length;
    await sandbox.driver.submitView(PEOPLE.alice, view, {
      duration: { value: { type: 'plain_text_input', value: '30m' } },
      reason: { value: { type: 'plain_text_input', value: 'more time' } },
    });
    const confirmation = await ephemeralAfter(sandbox, PEOPLE.alice, since, /Request \*AR-[0-9A-Z]+\*/);
    expect(confirmation).toContain(`to extend ${id}`);
    await waitForApprovalMessage(sandbox.slack, requestIdIn(confirmation));

    // End now from the reminder ends it at once, whatever the pending extension.
    await sandbox.driver.clickButton(PEOPLE.alice, reminder, 'grant_end');
    const ended = await waitForState(sandbox, id, 'revoked', 5_000);
    expect(ended.endedEarly?.by).toBe(PEOPLE.alice.id);
    expect(sandbox.atlas.rolesOf(PEOPLE.alice.email, PROJECT)).toEqual(['GROUP_READ_ONLY']);
  }, 30_000);

  it('sends no reminder for a grant shorter than REMIND_BEFORE, nor after End now', async () => {
    await start('noremind', { REMIND_BEFORE: '2s' });
    const short = await grant(2);
    const long = await grant(4);
    const applied = await waitForDm(sandbox.slack, PEOPLE.alice.id, new RegExp(`${long.id} approved`));
    expect(blockText(applied)).toContain('grant_end');
    await sandbox.driver.clickButton(PEOPLE.alice, applied, 'grant_end');
    await waitForState(sandbox, long.id, 'revoked', 5_000);
    await waitForState(sandbox, short.id, 'revoked', 5_000);
    // Read what is stored: no reminder waits or runs for either grant, nor its notice, so none can
    // come later; and none came.
    for (const id of [short.id, long.id])
      expect(
        (await pendingJobIds(sandbox, ['remind', 'notify'], id)).filter((j) => j.includes('remind')),
      ).toEqual([]);
    expect(dmsTo(sandbox, PEOPLE.alice, /:alarm_clock:/)).toEqual([]);
  }, 30_000);
});
