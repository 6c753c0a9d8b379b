import { afterEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../../dev/http-util.js';
import { CHANNELS, PEOPLE, type Sandbox, startSandbox } from '../../dev/sandbox.js';
import { waitForDm, waitForThreadReply } from '../../dev/slack-flow.js';
import { FLOW_FLAVORS, type FlowFlavor } from '../support/flow-flavors.js';
import {
  ephemeralAfter,
  expectOneSpanEnding,
  holdRevocations,
  ORG,
  PROJECT,
  readAudit,
  readRequest,
  requestAs,
  rolesAt,
  spansOf,
  waitForState,
} from '../support/grant-flow.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

const READ = 'GROUP_DATA_ACCESS_READ_ONLY';

describe('grant ledger (end to end)', () => {
  let sandbox: Sandbox;

  afterEach(async () => {
    await sandbox.stop();
  });

  const start = async (label: string, env: Record<string, string> = {}, flavor?: FlowFlavor) => {
    sandbox = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix(label),
      env: { JOB_BACKOFF_MS: '50', RECONCILE_INTERVAL: '1h', ...env },
      ...(flavor ? { atlasApi: flavor.api } : {}),
    });
  };

  describe.each(FLOW_FLAVORS)('on ATLAS_API=$api', (flavor) => {
    it('holds a role until the later of two overlapping grants ends, and removes it once', async () => {
      await start('overlap', {}, flavor);
      // No revocation runs until both are applied, however slow the run: the 2 s grant cannot end first.
      const hold = await holdRevocations(sandbox);
      // Both asked before either is applied: the second adds nothing in Atlas, only a holder.
      const short = await requestAs(
        sandbox,
        PEOPLE.alice,
        `request ${READ} on payments-prod for 2s because short`,
      );
      const long = await requestAs(
        sandbox,
        PEOPLE.alice,
        `request ${READ} on payments-prod for 5s because long`,
      );
      await sandbox.driver.clickButton(PEOPLE.bob, short.approval, 'request_approve');
      const first = await waitForState(sandbox, short.id, 'applied');
      await sandbox.driver.clickButton(PEOPLE.carol, long.approval, 'request_approve');
      const second = await waitForState(sandbox, long.id, 'applied');
      expect(second.grant?.joined.map((h) => h.requestId)).toEqual([short.id]);
      await hold.release();

      const ended = await waitForThreadReply(sandbox.slack, short.approval, /ended/, 10_000);
      expect(ended.text).toContain(`stays: ${long.id} still covers it until`);
      const shortRevoked = await waitForState(sandbox, short.id, 'revoked');
      await waitForState(sandbox, long.id, 'revoked');

      // What held when: still held once the short grant's revocation was done, removed at the long one's end.
      const timeline = sandbox.atlas.timeline(PEOPLE.alice.email, PROJECT);
      const shortDoneAt = (await readAudit(sandbox, short.id)).find((e) => e.to === 'revoked')?.at ?? 0;
      const secondEnd = second.grant?.revokeAt ?? 0;
      expect(shortRevoked.revocation?.removed).toEqual([]);
      expect(shortDoneAt).toBeGreaterThanOrEqual(first.grant?.revokeAt ?? 0);
      expect(rolesAt(timeline, shortDoneAt)).toContain(READ);
      expectOneSpanEnding(timeline, READ, secondEnd, secondEnd + 3_000);
      expect(sandbox.atlas.rolesOf(PEOPLE.alice.email, PROJECT)).toEqual(['GROUP_READ_ONLY']);
      const dm = await waitForDm(sandbox.slack, PEOPLE.alice.id, new RegExp(`${long.id} ended`));
      expect(dm.text).toContain(`removed \`${READ}\``);
    }, 30_000);

    it('keeps a role for a permanent grant made while a temporary one is active, and lets the person ask again', async () => {
      await start('perm', {}, flavor);
      // The temporary grant cannot end before the permanent one is applied, however slow the run.
      const hold = await holdRevocations(sandbox);
      const temp = await requestAs(
        sandbox,
        PEOPLE.alice,
        `request ${READ} on payments-prod for 3s because temp`,
      );
      await sandbox.driver.clickButton(PEOPLE.bob, temp.approval, 'request_approve');
      await waitForState(sandbox, temp.id, 'applied');
      // Held only through a temporary grant: asking again (permanently) is allowed.
      const perm = await requestAs(
        sandbox,
        PEOPLE.alice,
        `request ${READ} on payments-prod because for good`,
      );
      await sandbox.driver.clickButton(PEOPLE.bob, perm.approval, 'request_details');
      expect(await ephemeralAfter(sandbox, PEOPLE.bob, 0, /Current roles/)).toContain(
        `temporary: ${temp.id} until`,
      );
      await sandbox.driver.clickButton(PEOPLE.bob, perm.approval, 'request_approve');
      await waitForState(sandbox, perm.id, 'applied');
      await hold.release();
      await waitForState(sandbox, temp.id, 'revoked');
      const reply = await waitForThreadReply(sandbox.slack, temp.approval, /ended/);
      expect(reply.text).toContain(`stays: ${perm.id} still covers it permanently`);
      const spans = spansOf(sandbox.atlas.timeline(PEOPLE.alice.email, PROJECT), READ);
      expect(spans).toHaveLength(1);
      expect(spans[0]?.to).toBeNull();

      // Held permanently through Rolecall: nothing to ask for.
      const since = sandbox.slack.events.length;
      await sandbox.driver.command(
        PEOPLE.alice,
        `request ${READ} on payments-prod for 1h because again`,
        CHANNELS.general,
      );
      expect(await ephemeralAfter(sandbox, PEOPLE.alice, since, /nothing to request/)).toContain(
        `${READ} (permanently, through ${perm.id})`,
      );
      // Held outside Rolecall: refused as before.
      await sandbox.driver.command(
        PEOPLE.alice,
        'request GROUP_READ_ONLY on payments-prod for 1h because x',
        CHANNELS.general,
      );
      expect(
        await ephemeralAfter(sandbox, PEOPLE.alice, since, /GROUP_READ_ONLY \(held outside Rolecall\)/),
      ).toContain('there is nothing to request');
    }, 30_000);

    it('closes a holder whose role was removed by hand, so it no longer keeps a later grant alive', async () => {
      await start('drift', {}, flavor);
      const old = await requestAs(
        sandbox,
        PEOPLE.alice,
        `request ${READ} on payments-prod for 20s because old`,
      );
      await sandbox.driver.clickButton(PEOPLE.bob, old.approval, 'request_approve');
      await waitForState(sandbox, old.id, 'applied');
      sandbox.atlas.setRoles(PEOPLE.alice.email, PROJECT, ['GROUP_READ_ONLY']);

      const fresh = await requestAs(
        sandbox,
        PEOPLE.alice,
        `request ${READ} on payments-prod for 2s because fresh`,
      );
      await sandbox.driver.clickButton(PEOPLE.bob, fresh.approval, 'request_approve');
      const applied = await waitForState(sandbox, fresh.id, 'applied');
      const drift = await waitForThreadReply(sandbox.slack, old.approval, /outside Rolecall/);
      expect(drift.text).toContain(`${old.id} no longer holds it`);
      expect((await readRequest(sandbox, old.id)).drift.map((d) => d.role)).toEqual([READ]);

      await waitForState(sandbox, fresh.id, 'revoked');
      const end = applied.grant?.revokeAt ?? 0;
      const spans = spansOf(sandbox.atlas.timeline(PEOPLE.alice.email, PROJECT), READ);
      expect(spans).toHaveLength(2);
      expect(spans[1]?.to).toBeGreaterThanOrEqual(end);
      expect(spans[1]?.to).toBeLessThanOrEqual(end + 3_000);

      await sandbox.driver.command(PEOPLE.alice, `status ${old.id}`, CHANNELS.general);
      await waitUntil(() =>
        sandbox.slack.events.find(
          (e) =>
            e.kind === 'ephemeral' &&
            JSON.stringify(e.blocks ?? []).includes('drift: GROUP_DATA_ACCESS_READ_ONLY was removed'),
        ),
      );
    }, 30_000);
  });

  it('keeps both an org and a project grant applied at the same moment with atlas-v1', async () => {
    await start('v1pair', { ATLAS_API: 'atlas-v1' });
    const org = await requestAs(sandbox, PEOPLE.alice, 'request ORG_READ_ONLY on acme for 1h because audit');
    const project = await requestAs(
      sandbox,
      PEOPLE.alice,
      `request ${READ} on payments-prod for 1h because audit`,
    );
    // Every PATCH waits, so two unserialised read-modify-writes would overlap and one would be lost.
    sandbox.atlas.inject({ method: 'PATCH', delayMs: 400, times: 4 });
    await Promise.all([
      sandbox.driver.clickButton(PEOPLE.carol, org.approval, 'request_approve'),
      sandbox.driver.clickButton(PEOPLE.bob, project.approval, 'request_approve'),
    ]);
    await waitForState(sandbox, org.id, 'applied');
    await waitForState(sandbox, project.id, 'applied');
    expect(sandbox.atlas.rolesOf(PEOPLE.alice.email, ORG).sort()).toEqual(['ORG_MEMBER', 'ORG_READ_ONLY']);
    expect(sandbox.atlas.rolesOf(PEOPLE.alice.email, PROJECT).sort()).toEqual([READ, 'GROUP_READ_ONLY']);
    const calls = sandbox.atlas.authenticatedCalls();
    const patches = calls.filter((c) => c.method === 'PATCH');
    const reads = calls.filter((c) => c.method === 'GET' && /\/users\/[a-f0-9]{24}$/.test(c.path));
    expect(patches).toHaveLength(2);
    expect(reads).toHaveLength(2);
    // One lock per user: the second write's read-modify-write began after the first PATCH was answered.
    expect(reads[1]?.at).toBeGreaterThanOrEqual(patches[0]?.at ?? Number.POSITIVE_INFINITY);
  }, 30_000);
});
