import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../../dev/http-util.js';
import { CHANNELS, PEOPLE, type Sandbox, startSandbox } from '../../dev/sandbox.js';
import { blockText, waitForDm, waitForThreadReply } from '../../dev/slack-flow.js';
import { redisKeys } from '../../src/lib/redis-keys.js';
import { createRequestStore } from '../../src/requests/request-store.js';
import { FLOW_FLAVORS, isRoleWrite, onRoleWrites } from '../support/flow-flavors.js';
import {
  ephemeralAfter,
  expectOneSpanEnding,
  PROJECT,
  readAudit,
  repliesTo,
  requestAs,
  rolesAt,
  spansOf,
  waitForState,
} from '../support/grant-flow.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

const READ = 'GROUP_DATA_ACCESS_READ_ONLY';

describe.each(FLOW_FLAVORS)('revocation (end to end) on ATLAS_API=$api', (flavor) => {
  let sandbox: Sandbox;

  afterEach(async () => {
    await sandbox.stop();
  });

  const start = async (label: string, env: Record<string, string> = {}) => {
    sandbox = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix(label),
      atlasApi: flavor.api,
      env: { JOB_BACKOFF_MS: '10', ATLAS_MAX_RETRIES: '0', RECONCILE_INTERVAL: '1h', ...env },
    });
  };

  const grant = async (line: string) => {
    const { id, approval } = await requestAs(sandbox, PEOPLE.alice, `request ${line}`);
    await sandbox.driver.clickButton(PEOPLE.bob, approval, 'request_approve');
    return { id, approval, applied: await waitForState(sandbox, id, 'applied') };
  };

  it('keeps retrying a revocation through an Atlas outage, escalating while it fails, and removes the role once it is back', async () => {
    // Scaled down: a try every second stands for every 10 minutes, approvers hear again every 3 s.
    await start('outage', { REVOKE_RETRY_INTERVAL: '1s', REVOKE_ESCALATE_EVERY: '3s' });
    const { id, approval, applied } = await grant(`${READ} on payments-prod for 1s because outage`);
    const end = applied.grant?.revokeAt ?? 0;
    const outageEnds = end + 8_000;
    sandbox.atlas.inject(
      onRoleWrites(flavor, {
        status: 503,
        body: { error: 503, errorCode: 'SERVICE_UNAVAILABLE', detail: 'Atlas is down for maintenance.' },
        untilMs: outageEnds,
      }),
    );
    const first = await waitForThreadReply(sandbox.slack, approval, /has not been revoked yet/, 10_000);
    expect(first.text).toContain('(Atlas SERVICE_UNAVAILABLE)');
    expect(first.text).not.toContain('Atlas is down for maintenance');
    expect(first.text).toContain('<@U0BOB> <@U0CAROL>');
    expect(blockText(approval)).toContain('Retry revocation');
    await waitForState(sandbox, id, 'revoked', 20_000);
    const escalations = repliesTo(sandbox, approval, /has not been revoked yet/);
    expect(escalations.length).toBeGreaterThanOrEqual(2);
    expect(escalations[1]?.text).toMatch(/failed [2-9] times/);

    const timeline = sandbox.atlas.timeline(PEOPLE.alice.email, PROJECT);
    expect(rolesAt(timeline, outageEnds - 200)).toContain(READ);
    expectOneSpanEnding(timeline, READ, outageEnds, outageEnds + 4_000);
    const reply = await waitForThreadReply(sandbox.slack, approval, new RegExp(`${id} ended`));
    expect(reply.text).toContain(`removed \`${READ}\``);
    expect(blockText(approval)).not.toContain('Retry revocation');
  }, 40_000);

  it('retries a revocation Atlas refuses with a 4xx at once on its slow schedule, and finishes when the cause is fixed', async () => {
    await start('refused', { REVOKE_RETRY_INTERVAL: '1s', REVOKE_ESCALATE_EVERY: '1h' });
    const { id, approval, applied } = await grant(`${READ} on payments-prod for 1s because refused`);
    const fixedAt = (applied.grant?.revokeAt ?? 0) + 3_500;
    sandbox.atlas.inject(
      onRoleWrites(flavor, {
        status: 403,
        body: {
          error: 403,
          errorCode: 'IP_ADDRESS_NOT_ON_WHITELIST',
          detail: 'IP address 203.0.113.9 is not allowed to access this resource.',
        },
        untilMs: fixedAt,
      }),
    );
    const failed = await waitForThreadReply(sandbox.slack, approval, /has not been revoked yet/, 10_000);
    expect(failed.text).toContain("not on the API key's access list");
    // Not retryable: the first failure is reported after one call, not after the job's attempts.
    const refused = sandbox.atlas
      .authenticatedCalls()
      .filter((c) => isRoleWrite(flavor, c) && c.status === 403);
    expect(refused.length).toBeLessThanOrEqual(2);
    const revoked = await waitForState(sandbox, id, 'revoked', 15_000);
    expect(revoked.revokeTrouble?.failures).toBeGreaterThanOrEqual(2);
    expect(repliesTo(sandbox, approval, /has not been revoked yet/)).toHaveLength(1);
    expectOneSpanEnding(sandbox.atlas.timeline(PEOPLE.alice.email, PROJECT), READ, fixedAt, fixedAt + 3_000);
  }, 30_000);

  it('runs a failing revocation at once when an approver presses Retry revocation', async () => {
    await start('retrynow', { REVOKE_RETRY_INTERVAL: '1h' });
    const { id, approval, applied } = await grant(`${READ} on payments-prod for 1s because retry`);
    sandbox.atlas.inject(
      onRoleWrites(flavor, {
        status: 403,
        body: { error: 403, errorCode: 'ACCESS_FORBIDDEN', detail: 'Access forbidden.' },
        times: 1,
      }),
    );
    await waitForState(sandbox, id, 'revoke_failed', 10_000);
    await waitForThreadReply(sandbox.slack, approval, /has not been revoked yet/);
    expect(sandbox.atlas.rolesOf(PEOPLE.alice.email, PROJECT)).toContain(READ);
    const since = sandbox.slack.events.length;
    await sandbox.driver.clickButton(PEOPLE.mallory, approval, 'request_retry');
    await ephemeralAfter(sandbox, PEOPLE.mallory, since, /can’t retry this/);
    const pressed = Date.now();
    await sandbox.driver.clickButton(PEOPLE.carol, approval, 'request_retry');
    await waitForState(sandbox, id, 'revoked', 5_000);
    expectOneSpanEnding(
      sandbox.atlas.timeline(PEOPLE.alice.email, PROJECT),
      READ,
      Math.max(pressed, applied.grant?.revokeAt ?? 0),
      pressed + 3_000,
    );
  }, 30_000);

  it('repairs a grant whose revocation job was deleted (reconciliation)', async () => {
    await start('reconcile', { RECONCILE_INTERVAL: '1s', SWEEP_INTERVAL: '1h' });
    const { id, applied } = await grant(`${READ} on payments-prod for 2s because reconcile`);
    const redis = new Redis(TEST_REDIS_URL);
    const revoke = new Queue('revoke', { connection: redis, prefix: sandbox.config.redis.prefix });
    expect(await revoke.remove(`revoke-${id}-1`)).toBe(1);
    const end = applied.grant?.revokeAt ?? 0;
    await waitForState(sandbox, id, 'revoked', 15_000);
    const stats = await redis.hgetall(redisKeys(sandbox.config.redis.prefix).reconcileStats);
    await revoke.close();
    await redis.quit();
    expect(Number(stats.requeued)).toBeGreaterThanOrEqual(1);
    expect(Number(stats.stillHeld)).toBeGreaterThanOrEqual(1);
    // Found after its end plus the grace (one interval), not at the end itself.
    const span = expectOneSpanEnding(
      sandbox.atlas.timeline(PEOPLE.alice.email, PROJECT),
      READ,
      end + 900,
      end + 6_000,
    );
    expect(span.to).toBeGreaterThan(end);
  }, 30_000);

  it('removes a role at the later grant’s end even while the earlier grant’s revocation is failing', async () => {
    await start('stuck-holder', { REVOKE_RETRY_INTERVAL: '1h' });
    const first = await grant(`${READ} on payments-prod for 1s because first`);
    const second = await requestAs(
      sandbox,
      PEOPLE.alice,
      `request ${READ} on payments-prod for 3s because second`,
    );
    // The first grant's revocation cannot read Atlas once: it fails and waits an hour for its next try.
    sandbox.atlas.inject({
      method: 'GET',
      status: 403,
      body: { error: 403, errorCode: 'ACCESS_FORBIDDEN' },
      times: 1,
    });
    await waitForState(sandbox, first.id, 'revoke_failed', 10_000);
    // Asking again while it fails is not "held outside Rolecall".
    expect(second.approval.text).toContain(second.id);
    await sandbox.driver.clickButton(PEOPLE.bob, second.approval, 'request_approve');
    const applied = await waitForState(sandbox, second.id, 'applied');
    await waitForState(sandbox, second.id, 'revoked', 10_000);
    const end = applied.grant?.revokeAt ?? 0;
    expect(sandbox.atlas.rolesOf(PEOPLE.alice.email, PROJECT)).toEqual(['GROUP_READ_ONLY']);
    const spans = spansOf(sandbox.atlas.timeline(PEOPLE.alice.email, PROJECT), READ);
    expect(spans[spans.length - 1]?.to).toBeLessThanOrEqual(end + 3_000);
    // Its own retry then finds the role gone and finishes.
    await sandbox.driver.clickButton(PEOPLE.carol, first.approval, 'request_retry');
    const closed = await waitForState(sandbox, first.id, 'revoked', 5_000);
    expect(closed.revocation?.gone).toEqual([READ]);
  }, 30_000);

  it('acts on one of ten concurrent Retry revocation clicks, and tells the approvers how it went', async () => {
    await start('retry-race', { REVOKE_RETRY_INTERVAL: '1h', REVOKE_ESCALATE_EVERY: '1h' });
    const { id, approval } = await grant(`${READ} on payments-prod for 1s because race`);
    sandbox.atlas.inject(
      onRoleWrites(flavor, {
        status: 403,
        body: { error: 403, errorCode: 'ACCESS_FORBIDDEN' },
        times: 2,
      }),
    );
    await waitForState(sandbox, id, 'revoke_failed', 10_000);
    await waitForThreadReply(sandbox.slack, approval, /has not been revoked yet/);
    await Promise.all(
      Array.from({ length: 10 }, () => sandbox.driver.clickButton(PEOPLE.carol, approval, 'request_retry')),
    );
    // The one retry fails again: the approvers hear it at once, despite the hourly escalation.
    await waitUntil(
      () => (repliesTo(sandbox, approval, /has not been revoked yet/).length >= 2 ? true : undefined),
      10_000,
    );
    const retries = (await readAudit(sandbox, id)).filter(
      (e) => e.detail === 'retry of the revocation requested',
    );
    expect(retries).toHaveLength(1);
    expect(sandbox.slack.events.some((e) => e.kind === 'ephemeral' && /already running/.test(e.text))).toBe(
      true,
    );
  }, 30_000);

  it('ends a grant whose End now lost its revocation job in a crash (reconciliation)', async () => {
    await start('endnow-crash', { RECONCILE_INTERVAL: '1s', SWEEP_INTERVAL: '1h' });
    const { id, applied } = await grant(`${READ} on payments-prod for 1h because crash`);
    // What RequestService.end writes, without the job move that followed it: the process died there.
    const redis = new Redis(TEST_REDIS_URL);
    const store = createRequestStore(redis, { prefix: sandbox.config.redis.prefix });
    const at = Date.now();
    const grantNow = applied.grant;
    await store.note(id, {
      whileIn: ['applied'],
      actor: PEOPLE.alice.id,
      detail: 'ended early by the grantee',
      expect: { grant: grantNow, endedEarly: null },
      patch: {
        endedEarly: { by: PEOPLE.alice.id, at },
        grant: grantNow ? { ...grantNow, revokeAt: at } : null,
      },
      ledger: { email: PEOPLE.alice.email, target: applied.target, ops: [], ending: { requestId: id, at } },
    });
    await redis.quit();
    await sandbox.restart();
    await waitForState(sandbox, id, 'revoked', 10_000);
    expect(sandbox.atlas.rolesOf(PEOPLE.alice.email, PROJECT)).toEqual(['GROUP_READ_ONLY']);
  }, 30_000);

  it('ends a grant now for its grantee and, with Revoke now, for an approver; anyone else is refused', async () => {
    await start('endnow');
    const mine = await grant(`${READ} on payments-prod for 1h because end it`);
    let since = sandbox.slack.events.length;
    await sandbox.driver.command(PEOPLE.mallory, `end ${mine.id}`, CHANNELS.general);
    expect(await ephemeralAfter(sandbox, PEOPLE.mallory, since, /can end it/)).toContain(
      `Only the person who holds ${mine.id}, or an approver of its roles, can end it.`,
    );
    await sandbox.driver.command(PEOPLE.alice, `end ${mine.id}`, CHANNELS.general);
    await ephemeralAfter(sandbox, PEOPLE.alice, since, new RegExp(`Ending ${mine.id} now`));
    const ended = await waitForState(sandbox, mine.id, 'revoked', 5_000);
    expect(ended.endedEarly?.by).toBe(PEOPLE.alice.id);
    const dm = await waitForDm(sandbox.slack, PEOPLE.alice.id, /ended early/);
    expect(dm.text).toContain(`${mine.id} was ended early by <@U0ALICE>`);
    expect(sandbox.atlas.rolesOf(PEOPLE.alice.email, PROJECT)).toEqual(['GROUP_READ_ONLY']);

    const theirs = await grant(`${READ} on payments-prod for 1h because revoke it`);
    // The approval message is updated after the state is stored: wait for the button, not the state.
    await waitUntil(
      () => (blockText(theirs.approval).includes('grant_revoke_now') ? true : undefined),
      5_000,
      'the Revoke now button',
    );
    expect(blockText(theirs.approval)).toContain('grant_revoke_now');
    since = sandbox.slack.events.length;
    await sandbox.driver.clickButton(PEOPLE.mallory, theirs.approval, 'grant_revoke_now');
    await ephemeralAfter(sandbox, PEOPLE.mallory, since, /can end it/);
    expect((await waitForState(sandbox, theirs.id, 'applied')).endedEarly).toBeNull();
    await sandbox.driver.clickButton(PEOPLE.carol, theirs.approval, 'grant_revoke_now');
    await waitForState(sandbox, theirs.id, 'revoked', 5_000);
    const reply = await waitForThreadReply(sandbox.slack, theirs.approval, /revoked early/);
    expect(reply.text).toContain(`${theirs.id} was revoked early by <@U0CAROL>`);
    await waitUntil(
      () => (blockText(theirs.approval).includes('grant_revoke_now') ? undefined : true),
      5_000,
      'the Revoke now button to go',
    );
    expect(blockText(theirs.approval)).not.toContain('grant_revoke_now');
    since = sandbox.slack.events.length;
    await sandbox.driver.command(PEOPLE.alice, `end ${theirs.id}`, CHANNELS.general);
    expect(await ephemeralAfter(sandbox, PEOPLE.alice, since, /nothing to end/)).toContain(
      'has since been revoked',
    );
  }, 30_000);
});
