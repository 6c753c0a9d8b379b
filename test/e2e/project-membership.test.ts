import { afterEach, describe, expect, it } from 'vitest';
import { CHANNELS, PEOPLE, type Sandbox, startSandbox } from '../../dev/sandbox.js';
import { blockText, waitForDm } from '../../dev/slack-flow.js';
import { expectValidMessageBlocks } from '../support/block-kit.js';
import {
  ephemeralAfter,
  expectOneSpanEnding,
  ORG,
  PROJECT,
  requestAs,
  spansOf,
  waitForState,
} from '../support/grant-flow.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

describe('temporary project membership (end to end)', () => {
  let sandbox: Sandbox;

  afterEach(async () => {
    await sandbox.stop();
  });

  const start = async (label: string, env: Record<string, string> = {}) => {
    sandbox = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix(label),
      env: { JOB_BACKOFF_MS: '50', RECONCILE_INTERVAL: '1h', ...env },
    });
  };

  it.each(['atlas-v2', 'atlas-v2-2025'])(
    'adds an organization member to the project for a temporary grant and takes them out at its end (%s), across restarts',
    async (api) => {
      await start(`join-${api}`, { ATLAS_API: api });
      const { id, approval } = await requestAs(
        sandbox,
        PEOPLE.mallory,
        'request GROUP_READ_ONLY on payments-prod for 2s because incident 7',
      );
      expectValidMessageBlocks(approval.blocks);
      expect(blockText(approval)).toContain('Approving adds <@U0MALLORY> to payments-prod');
      await sandbox.driver.clickButton(PEOPLE.bob, approval, 'request_details');
      expect(await ephemeralAfter(sandbox, PEOPLE.bob, 0, /Current roles/)).toContain('_not in the project_');
      await sandbox.restart();
      await sandbox.driver.clickButton(PEOPLE.bob, approval, 'request_approve');
      const applied = await waitForState(sandbox, id, 'applied');
      expect(applied.grant?.addedToProject).toBe(true);
      const joined = await waitForDm(sandbox.slack, PEOPLE.mallory.id, /applied/);
      expect(joined.text).toContain('added mallory@example.com to *payments-prod* with `GROUP_READ_ONLY`');
      await sandbox.restart();
      await waitForState(sandbox, id, 'revoked', 10_000);
      const left = await waitForDm(sandbox.slack, PEOPLE.mallory.id, /ended/);
      expect(left.text).toContain('which Rolecall had added them to');

      const calls = sandbox.atlas.authenticatedCalls();
      const post = calls.find((c) => c.method === 'POST' && /\/groups\/[a-f0-9]{24}\/users$/.test(c.path));
      expect(post?.body).toEqual({ username: PEOPLE.mallory.email, roles: ['GROUP_READ_ONLY'] });
      expect(post?.mediaType).toBe('application/vnd.atlas.2025-02-19+json');
      const remove = calls.filter((c) => c.method === 'DELETE');
      expect(remove.map((c) => c.status)).toEqual([204]);
      const timeline = sandbox.atlas.timeline(PEOPLE.mallory.email, PROJECT);
      expect(timeline.map((c) => c.roles)).toEqual([[], ['GROUP_READ_ONLY'], []]);
      const end = applied.grant?.revokeAt ?? 0;
      expectOneSpanEnding(timeline, 'GROUP_READ_ONLY', end, end + 3_000);
      // Still a member of the organization.
      expect(sandbox.atlas.rolesOf(PEOPLE.mallory.email, ORG)).toEqual(['ORG_MEMBER']);
    },
    30_000,
  );

  it('refuses a permanent request from someone in the project only through a temporary grant', async () => {
    await start('perm-after-join');
    const { id, approval } = await requestAs(
      sandbox,
      PEOPLE.mallory,
      'request GROUP_READ_ONLY on payments-prod for 3s because temp',
    );
    await sandbox.driver.clickButton(PEOPLE.bob, approval, 'request_approve');
    await waitForState(sandbox, id, 'applied');
    const since = sandbox.slack.events.length;
    await sandbox.driver.command(
      PEOPLE.mallory,
      'request GROUP_DATA_ACCESS_READ_ONLY on payments-prod because perm',
      CHANNELS.general,
    );
    expect(await ephemeralAfter(sandbox, PEOPLE.mallory, since, /only for the temporary access/)).toContain(
      `is in the project payments-prod only for the temporary access of ${id}`,
    );
    await waitForState(sandbox, id, 'revoked', 10_000);
    expect(sandbox.atlas.rolesOf(PEOPLE.mallory.email, PROJECT)).toEqual([]);
  }, 20_000);

  it('keeps someone in the project when they were in it before the grant', async () => {
    await start('stay');
    const { id, approval } = await requestAs(
      sandbox,
      PEOPLE.alice,
      'request GROUP_DATA_ACCESS_READ_ONLY on payments-prod for 1s because stay',
    );
    await sandbox.driver.clickButton(PEOPLE.bob, approval, 'request_approve');
    await waitForState(sandbox, id, 'revoked', 10_000);
    expect(sandbox.atlas.authenticatedCalls().filter((c) => c.method === 'DELETE')).toEqual([]);
    expect(spansOf(sandbox.atlas.timeline(PEOPLE.alice.email, PROJECT), 'GROUP_READ_ONLY')).toEqual([
      { from: expect.any(Number), to: null },
    ]);
    expect(sandbox.atlas.rolesOf(PEOPLE.alice.email, PROJECT)).toEqual(['GROUP_READ_ONLY']);
  }, 20_000);

  it('refuses, in words, a permanent request for someone outside the project and anyone outside the organization', async () => {
    await start('refuse');
    let since = sandbox.slack.events.length;
    await sandbox.driver.command(
      PEOPLE.mallory,
      'request GROUP_READ_ONLY on payments-prod because forever',
      CHANNELS.general,
    );
    expect(await ephemeralAfter(sandbox, PEOPLE.mallory, since, /not in the project/)).toContain(
      'Rolecall can add them for temporary access: ask again with a duration',
    );
    sandbox.atlas.setRoles(PEOPLE.mallory.email, ORG, []);
    since = sandbox.slack.events.length;
    await sandbox.driver.command(
      PEOPLE.mallory,
      'request GROUP_READ_ONLY on payments-prod for 1h because x',
      CHANNELS.general,
    );
    expect(await ephemeralAfter(sandbox, PEOPLE.mallory, since, /organization/)).toContain(
      'is not an active member of the Atlas organization that owns payments-prod',
    );
    expect(sandbox.slack.callsTo('chat.postMessage')).toEqual([]);
  }, 20_000);

  it('refuses on an API that cannot add people to projects (cloud-manager), saying why', async () => {
    await start('cm', { ATLAS_API: 'cloud-manager' });
    const since = sandbox.slack.events.length;
    await sandbox.driver.command(
      PEOPLE.mallory,
      'request GROUP_READ_ONLY on payments-prod for 1h because x',
      CHANNELS.general,
    );
    expect(await ephemeralAfter(sandbox, PEOPLE.mallory, since, /cannot add people/)).toContain(
      'this Atlas API cannot add people to projects',
    );
  }, 20_000);
});
