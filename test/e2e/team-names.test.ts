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
});
