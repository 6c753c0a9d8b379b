import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import type { AtlasInjection } from '../../dev/atlas-simulator.js';
import { waitUntil } from '../../dev/http-util.js';
import { createRequestStore } from '../../dev/request-store.js';
import { CHANNELS, PEOPLE, type Sandbox, startSandbox } from '../../dev/sandbox.js';
import { blockText, waitForDm, waitForThreadReply } from '../../dev/slack-flow.js';
import type { SimulatedMessage } from '../../dev/slack-simulator.js';
import { redisKeys } from '../../src/lib/redis-keys.js';
import { afterTheGrant, revocationFaults, roleWriteOutage } from '../support/faults.js';
import { FLOW_FLAVORS, isRoleWrite } from '../support/flow-flavors.js';
import {
  ephemeralAfter,
  expectOneSpanEnding,
  PROJECT,
  readAudit,
  readRequest,
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

  /** Asks for `line` as alice and has bob approve it, with `faults` in place before the approval. */
  const grant = async (line: string, faults: readonly AtlasInjection[] = []) => {
    const { id, approval } = await requestAs(sandbox, PEOPLE.alice, `request ${line}`);
    for (const fault of faults) sandbox.atlas.inject(fault);
    await sandbox.driver.clickButton(PEOPLE.bob, approval, 'request_approve');
    return { id, approval, applied: await waitForState(sandbox, id, 'applied') };
  };

  /** The role writes Atlas answered with `status`, in order. */
  const roleWrites = (status: number) =>
    sandbox.atlas.authenticatedCalls().filter((c) => isRoleWrite(flavor, c) && c.status === status);

  /** The first role write Atlas accepted at or after `since`: the one that removed the role. */
  const removalAfter = (since: number) => roleWrites(200).find((c) => c.at >= since)?.at ?? 0;

  /** The role reads Atlas refused (the injected 403s on reads). */
  const revocationCallsRefused = () =>
    sandbox.atlas
      .authenticatedCalls()
      .filter(
        (c) =>
          c.method === flavor.revocationCall.method &&
          flavor.revocationCall.path.test(c.path.split('?')[0] ?? '') &&
          c.status === 403,
      );

  /**
   * With the first grant's revocation failing, approves the second (it joins the first's hold) and
   * checks that the role went at the second grant's end, removed by its revocation, and that the
   * first grant's own retry then finds it gone.
   */
  const expectSecondGrantRemovesTheRole = async (
    first: { id: string; approval: SimulatedMessage },
    second: { id: string; approval: SimulatedMessage },
  ) => {
    // Asking again while it fails is not "held outside Rolecall".
    expect(second.approval.text).toContain(second.id);
    await sandbox.driver.clickButton(PEOPLE.bob, second.approval, 'request_approve');
    const applied = await waitForState(sandbox, second.id, 'applied');
    await waitForState(sandbox, second.id, 'revoked', 10_000);
    const end = applied.grant?.revokeAt ?? 0;
    expect(sandbox.atlas.rolesOf(PEOPLE.alice.email, PROJECT)).toEqual(['GROUP_READ_ONLY']);
    // Held until the second grant's end, and removed by the second grant's revocation.
    const timeline = sandbox.atlas.timeline(PEOPLE.alice.email, PROJECT);
    expect(rolesAt(timeline, end - 1)).toContain(READ);
    const spans = spansOf(timeline, READ);
    expect(spans[spans.length - 1]?.to).toBeGreaterThanOrEqual(end);
    expect(removalAfter(end)).toBeGreaterThan(0);
    expect(spans[spans.length - 1]?.to).toBeLessThanOrEqual(removalAfter(end));
    // Its own retry then finds the role gone and finishes.
    await sandbox.driver.clickButton(PEOPLE.carol, first.approval, 'request_retry');
    const closed = await waitForState(sandbox, first.id, 'revoked', 5_000);
    expect(closed.revocation?.gone).toEqual([READ]);
  };

  it('keeps retrying a revocation through an Atlas outage, escalating while it fails, and removes the role once it is back', async () => {
    // Scaled down: a try every second stands for every 10 minutes, approvers hear again every 3 s.
    await start('outage', { REVOKE_RETRY_INTERVAL: '1s', REVOKE_ESCALATE_EVERY: '3s' });
    // The outage is in place before the approval, so the revocation cannot run before it; it lasts
    // until the test ends it, not until a clock time.
    const outage = roleWriteOutage(flavor);
    const { id, approval, applied } = await grant(
      `${READ} on payments-prod for 1s because outage`,
      revocationFaults(
        flavor,
        {
          status: 503,
          body: { error: 503, errorCode: 'SERVICE_UNAVAILABLE', detail: 'Atlas is down for maintenance.' },
        },
        outage,
      ),
    );
    const end = applied.grant?.revokeAt ?? 0;
    const first = await waitForThreadReply(sandbox.slack, approval, /has not been revoked yet/, 10_000);
    expect(first.text).toContain('(Atlas SERVICE_UNAVAILABLE)');
    expect(first.text).not.toContain('Atlas is down for maintenance');
    expect(first.text).toContain('<@U0BOB> <@U0CAROL>');
    expect(blockText(approval)).toContain('Retry revocation');
    await waitUntil(
      () => (repliesTo(sandbox, approval, /has not been revoked yet/).length >= 2 ? true : undefined),
      15_000,
      'the approvers to hear a second time',
    );
    const restoredAt = Date.now();
    outage.end();
    await waitForState(sandbox, id, 'revoked', 20_000);
    const escalations = repliesTo(sandbox, approval, /has not been revoked yet/);
    expect(escalations.length).toBeGreaterThanOrEqual(2);
    expect(escalations[1]?.text).toMatch(/failed [2-9] times/);

    // What held when: the role stayed through every failed write, from the end on, and went with the
    // first write after the outage.
    const timeline = sandbox.atlas.timeline(PEOPLE.alice.email, PROJECT);
    const failedWrites = roleWrites(503);
    expect(failedWrites.length).toBeGreaterThanOrEqual(2);
    expect(failedWrites[0]?.at).toBeGreaterThanOrEqual(end);
    for (const write of failedWrites) expect(rolesAt(timeline, write.at)).toContain(READ);
    expectOneSpanEnding(timeline, READ, restoredAt, removalAfter(restoredAt));
    const reply = await waitForThreadReply(sandbox.slack, approval, new RegExp(`${id} ended`));
    expect(reply.text).toContain(`removed \`${READ}\``);
    await waitUntil(
      () => (blockText(approval).includes('Retry revocation') ? undefined : true),
      5_000,
      'the Retry revocation button to go',
    );
    expect(blockText(approval)).not.toContain('Retry revocation');
  }, 40_000);

  it('retries a revocation Atlas refuses with a 4xx at once on its slow schedule, and finishes when the cause is fixed', async () => {
    await start('refused', { REVOKE_RETRY_INTERVAL: '1s', REVOKE_ESCALATE_EVERY: '1h' });
    const refusal = roleWriteOutage(flavor);
    const { id, approval } = await grant(
      `${READ} on payments-prod for 1s because refused`,
      revocationFaults(
        flavor,
        {
          status: 403,
          body: {
            error: 403,
            errorCode: 'IP_ADDRESS_NOT_ON_WHITELIST',
            detail: 'IP address 203.0.113.9 is not allowed to access this resource.',
          },
        },
        refusal,
      ),
    );
    const failed = await waitForThreadReply(sandbox.slack, approval, /has not been revoked yet/, 10_000);
    expect(failed.text).toContain("not on the API key's access list");
    // Not retryable: the first failure is reported after one call, not after the job's attempts.
    expect(roleWrites(403).length).toBeLessThanOrEqual(2);
    // The next try comes on the slow schedule: wait for the store to record it, then fix the cause.
    await waitUntil(
      async () => (((await readRequest(sandbox, id)).revokeTrouble?.failures ?? 0) >= 2 ? true : undefined),
      10_000,
      'a second failed try',
    );
    const fixedAt = Date.now();
    refusal.end();
    const revoked = await waitForState(sandbox, id, 'revoked', 15_000);
    expect(revoked.revokeTrouble?.failures).toBeGreaterThanOrEqual(2);
    // Escalated once (REVOKE_ESCALATE_EVERY is an hour): as stored, and as the approvers saw it.
    expect(revoked.revokeTrouble?.escalatedAt).toBe(revoked.revokeTrouble?.since);
    expect(repliesTo(sandbox, approval, /has not been revoked yet/)).toHaveLength(1);
    // One refused call per try, the tries a retry interval apart.
    const refusedWrites = roleWrites(403);
    expect(refusedWrites.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < refusedWrites.length; i += 1)
      expect((refusedWrites[i]?.at ?? 0) - (refusedWrites[i - 1]?.at ?? 0)).toBeGreaterThanOrEqual(900);
    expectOneSpanEnding(
      sandbox.atlas.timeline(PEOPLE.alice.email, PROJECT),
      READ,
      fixedAt,
      removalAfter(fixedAt),
    );
  }, 30_000);

  it('runs a failing revocation at once when an approver presses Retry revocation', async () => {
    await start('retrynow', { REVOKE_RETRY_INTERVAL: '1h' });
    const { id, approval, applied } = await grant(
      `${READ} on payments-prod for 1s because retry`,
      revocationFaults(flavor, {
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
    // The next scheduled try is an hour away: the write that removed the role came from the press.
    expectOneSpanEnding(
      sandbox.atlas.timeline(PEOPLE.alice.email, PROJECT),
      READ,
      Math.max(pressed, applied.grant?.revokeAt ?? 0),
      removalAfter(pressed),
    );
  }, 30_000);

  it('repairs a grant whose revocation job was deleted (reconciliation)', async () => {
    await start('reconcile', { RECONCILE_INTERVAL: '1s', SWEEP_INTERVAL: '1h' });
    const redis = new Redis(TEST_REDIS_URL);
    const revoke = new Queue('revoke', { connection: redis, prefix: sandbox.config.redis.prefix });
    // Paused, the queue runs no revocation however slow this test is: the job is deleted before it can run.
    await revoke.pause();
    const { id, applied } = await grant(`${READ} on payments-prod for 2s because reconcile`);
    expect(await revoke.remove(`revoke-${id}-1`)).toBe(1);
    await revoke.resume();
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
    const first = await requestAs(
      sandbox,
      PEOPLE.alice,
      `request ${READ} on payments-prod for 1s because first`,
    );
    const second = await requestAs(
      sandbox,
      PEOPLE.alice,
      `request ${READ} on payments-prod for 3s because second`,
    );
    // The first grant's first revocation call is refused once: it fails and waits an hour for its next
    // try. The fault is armed by the grant's own write, so the revocation cannot come before it.
    for (const fault of afterTheGrant(flavor, {
      ...flavor.revocationCall,
      status: 403,
      body: { error: 403, errorCode: 'ACCESS_FORBIDDEN' },
      times: 1,
    }))
      sandbox.atlas.inject(fault);
    await sandbox.driver.clickButton(PEOPLE.bob, first.approval, 'request_approve');
    await waitForState(sandbox, first.id, 'revoke_failed', 10_000);
    expect(revocationCallsRefused()).toHaveLength(1);
    await expectSecondGrantRemovesTheRole(first, second);
  }, 30_000);

  // End now ends the grant's holders in the ledger at once (lifecycle.end): a grant made while its
  // revocation fails joins no holder that outlives it, and removes the role at its own end.
  it('removes a role at the later grant’s end even while the revocation of an earlier grant ended early is failing', async () => {
    await start('stuck-ended', { REVOKE_RETRY_INTERVAL: '1h' });
    const first = await requestAs(
      sandbox,
      PEOPLE.alice,
      `request ${READ} on payments-prod for 1h because first`,
    );
    await sandbox.driver.clickButton(PEOPLE.bob, first.approval, 'request_approve');
    await waitForState(sandbox, first.id, 'applied');
    const second = await requestAs(
      sandbox,
      PEOPLE.alice,
      `request ${READ} on payments-prod for 3s because second`,
    );
    sandbox.atlas.inject({
      ...flavor.revocationCall,
      status: 403,
      body: { error: 403, errorCode: 'ACCESS_FORBIDDEN' },
      times: 1,
    });
    await sandbox.driver.command(PEOPLE.alice, `end ${first.id}`, CHANNELS.general);
    await waitForState(sandbox, first.id, 'revoke_failed', 10_000);
    expect(revocationCallsRefused()).toHaveLength(1);
    await expectSecondGrantRemovesTheRole(first, second);
  }, 30_000);

  it('acts on one of ten concurrent Retry revocation clicks, and tells the approvers how it went', async () => {
    await start('retry-race', { REVOKE_RETRY_INTERVAL: '1h', REVOKE_ESCALATE_EVERY: '1h' });
    const { id, approval } = await grant(
      `${READ} on payments-prod for 1s because race`,
      revocationFaults(flavor, {
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
