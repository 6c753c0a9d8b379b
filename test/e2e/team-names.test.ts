import { afterEach, describe, expect, it } from 'vitest';
import { ATLAS, PEOPLE, SANDBOX_POLICY, type Sandbox, startSandbox } from '../../dev/sandbox.js';
import { readAudit, requestAs, waitForState } from '../support/grant-flow.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

const ONCALL = { id: '6d0000000000000000000001', name: 'platform-oncall' };

describe('team grants and team names (end to end)', () => {
  let sandbox: Sandbox;

  afterEach(async () => {
    await sandbox.stop();
  });

  it('holds and ends a team the policy spells in other letter cases than Atlas', async () => {
    sandbox = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix('team-case'),
      env: { JOB_BACKOFF_MS: '50', RECONCILE_INTERVAL: '1h' },
      policy: `${SANDBOX_POLICY}    teams: [Platform-OnCall]\n`,
      atlas: {
        teams: [
          {
            ...ONCALL,
            orgId: ATLAS.org.id,
            members: [],
            projectRoles: { [ATLAS.project.id]: ['GROUP_DATA_ACCESS_READ_ONLY'] },
          },
        ],
      },
      atlasApi: 'atlas-v2-2025',
    });
    const asked = await requestAs(
      sandbox,
      PEOPLE.alice,
      'request team:Platform-OnCall on acme for 3s because incident 7',
    );
    await sandbox.driver.clickButton(PEOPLE.carol, asked.approval, 'request_approve');
    const applied = await waitForState(sandbox, asked.id, 'applied');
    expect(applied.grant?.held).toEqual(['team:Platform-OnCall']);
    expect(sandbox.atlas.teamMembers(ONCALL.id)).toContain(PEOPLE.alice.email);
    const revoked = await waitForState(sandbox, asked.id, 'revoked', 15_000);
    const audit = (await readAudit(sandbox, asked.id)).map((e) => e.detail).join('\n');
    expect(audit).not.toMatch(/drift|outside Rolecall/i);
    expect(revoked.revocation?.removed).toEqual(['team:Platform-OnCall']);
    expect(sandbox.atlas.teamMembers(ONCALL.id)).not.toContain(PEOPLE.alice.email);
  }, 30_000);

  const startWithOncall = async (label: string) => {
    sandbox = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix(label),
      env: { JOB_BACKOFF_MS: '50', RECONCILE_INTERVAL: '1h', REVOKE_RETRY_INTERVAL: '1h' },
      policy: `${SANDBOX_POLICY}    teams: [${ONCALL.name}]\n`,
      atlas: { teams: [{ ...ONCALL, orgId: ATLAS.org.id, members: [] }] },
      atlasApi: 'atlas-v2-2025',
    });
  };

  it('still ends a team grant when the team is renamed in Atlas meanwhile (the id it joined is kept)', async () => {
    await startWithOncall('team-renamed');
    const asked = await requestAs(
      sandbox,
      PEOPLE.alice,
      `request team:${ONCALL.name} on acme for 3s because x`,
    );
    await sandbox.driver.clickButton(PEOPLE.carol, asked.approval, 'request_approve');
    await waitForState(sandbox, asked.id, 'applied');
    sandbox.atlas.renameTeam(ONCALL.id, 'platform-pager');
    const revoked = await waitForState(sandbox, asked.id, 'revoked', 15_000);
    expect(revoked.revocation?.removed).toEqual([`team:${ONCALL.name}`]);
    expect(sandbox.atlas.teamMembers(ONCALL.id)).not.toContain(PEOPLE.alice.email);
  }, 30_000);

  it('fails closed, in words, when a renamed team can no longer be told apart after a restart', async () => {
    await startWithOncall('team-renamed-restart');
    const asked = await requestAs(
      sandbox,
      PEOPLE.alice,
      `request team:${ONCALL.name} on acme for 2s because x`,
    );
    await sandbox.driver.clickButton(PEOPLE.carol, asked.approval, 'request_approve');
    await waitForState(sandbox, asked.id, 'applied');
    sandbox.atlas.renameTeam(ONCALL.id, 'platform-pager');
    await sandbox.restart();
    const failed = await waitForState(sandbox, asked.id, 'revoke_failed', 20_000);
    expect(failed.failure?.message).toContain(
      `team:${ONCALL.name} no longer names a team of acme in Atlas (renamed or deleted)`,
    );
    // Never "already gone": she is still in the team, and the grant says it is not over.
    expect(sandbox.atlas.teamMembers(ONCALL.id)).toContain(PEOPLE.alice.email);
  }, 40_000);
});
