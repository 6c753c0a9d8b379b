import { describe, expect, it } from 'vitest';
import { ATLAS, CHANNELS, PEOPLE, startSandbox } from '../../dev/sandbox.js';
import { requestIdIn, waitForApprovalMessage, waitForDm, waitForEphemeral } from '../../dev/slack-flow.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

describe('the whole flow on other Atlas API flavors', () => {
  it.each([
    ['atlas-v2-2025', true],
    ['atlas-v1', false],
  ] as const)('grants and revokes with ATLAS_API=%s (service account: %s)', async (api, serviceAccount) => {
    const sandbox = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix('flavor'),
      serviceAccount,
      env: { ATLAS_API: api },
    });
    try {
      await sandbox.driver.command(
        PEOPLE.alice,
        'request GROUP_DATA_ACCESS_READ_ONLY on payments-prod for 2s because flavors',
        CHANNELS.general,
      );
      const id = requestIdIn(
        await waitForEphemeral(sandbox.slack, PEOPLE.alice.id, /Request \*AR-[0-9A-Z]+\*/),
      );
      const approval = await waitForApprovalMessage(sandbox.slack, id);
      await sandbox.driver.clickButton(PEOPLE.bob, approval, 'request_approve');
      await waitForDm(sandbox.slack, PEOPLE.alice.id, /applied/);
      const project = { kind: 'project', id: ATLAS.project.id } as const;
      expect(sandbox.atlas.rolesOf(PEOPLE.alice.email, project).sort()).toEqual([
        'GROUP_DATA_ACCESS_READ_ONLY',
        'GROUP_READ_ONLY',
      ]);
      await waitForDm(sandbox.slack, PEOPLE.alice.id, /ended/, 15_000);
      expect(sandbox.atlas.rolesOf(PEOPLE.alice.email, project)).toEqual(['GROUP_READ_ONLY']);
      const auth = serviceAccount ? 'bearer' : 'digest';
      expect(sandbox.atlas.authenticatedCalls().every((c) => c.auth === auth)).toBe(true);
      // Besides Digest challenges, only the documented answer for an organization without federation
      // (getOrgFederationSettings: 404 RESOURCE_NOT_FOUND, read once at request time).
      const failed = sandbox.atlas.calls.filter((c) => c.status >= 400 && c.status !== 401);
      expect(failed.filter((c) => !(c.status === 404 && c.path.endsWith('/federationSettings')))).toEqual([]);
    } finally {
      await sandbox.stop();
    }
    if (serviceAccount) expect(sandbox.atlas.tokens.revoked).toBe(1);
  });

  it('refuses to start when the policy offers roles the flavor does not have', async () => {
    await expect(
      startSandbox({
        redisUrl: TEST_REDIS_URL,
        prefix: uniquePrefix('flavor'),
        env: { ATLAS_API: 'ops-manager' },
      }),
    ).rejects.toThrow(
      /policy\.yml:\d+:\d+ targets\[1\]\.roles\[1\]: ORG_BILLING_READ_ONLY is not an organization role of ATLAS_API=ops-manager/,
    );
  });
});
