// The one-call grant (atlas-v2-2025) for someone removed from the project between the request and
// its approval.
import { afterEach, describe, expect, it } from 'vitest';
import { PEOPLE, type Sandbox, startSandbox } from '../../dev/sandbox.js';
import { ATLAS_V2_2025 } from '../support/flow-flavors.js';
import { holdRevocations, PROJECT, requestAs, waitForState } from '../support/grant-flow.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

const READ = 'GROUP_DATA_ACCESS_READ_ONLY';

describe('one-call grant for someone who left the project after asking', () => {
  let sandbox: Sandbox;

  afterEach(async () => {
    await sandbox.stop();
  });

  it('takes her out of the project again at the end when the grant put her back in', async () => {
    sandbox = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix('left-project'),
      env: { JOB_BACKOFF_MS: '50', RECONCILE_INTERVAL: '1h' },
      atlasApi: ATLAS_V2_2025.api,
    });
    const hold = await holdRevocations(sandbox);
    const asked = await requestAs(
      sandbox,
      PEOPLE.alice,
      `request ${READ} on payments-prod for 2s because left`,
    );
    // A project owner removes her from the project in the Atlas UI before Bob approves.
    sandbox.atlas.setRoles(PEOPLE.alice.email, PROJECT, []);
    await sandbox.driver.clickButton(PEOPLE.bob, asked.approval, 'request_approve');
    const settled = await waitForState(sandbox, asked.id, ['applied', 'failed'], 10_000);
    // The simulator's :addRole puts an organization member back in the project: the grant says so,
    // holds her membership, and its end takes her out again.
    expect(settled.state).toBe('applied');
    expect(settled.grant?.addedToProject).toBe(true);
    expect(sandbox.atlas.rolesOf(PEOPLE.alice.email, PROJECT)).toEqual([READ]);
    await hold.release();
    const ended = await waitForState(sandbox, asked.id, ['revoked', 'revoke_failed'], 10_000);
    expect({
      state: ended.state,
      failure: ended.failure?.code,
      roles: sandbox.atlas.rolesOf(PEOPLE.alice.email, PROJECT),
    }).toEqual({
      state: 'revoked',
      failure: undefined,
      roles: [],
    });
  }, 30_000);

  it('refuses a permanent grant for someone who left the project, and leaves her out of it', async () => {
    sandbox = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix('left-project-permanent'),
      env: { JOB_BACKOFF_MS: '50', RECONCILE_INTERVAL: '1h' },
      atlasApi: ATLAS_V2_2025.api,
    });
    const asked = await requestAs(sandbox, PEOPLE.alice, `request ${READ} on payments-prod because for good`);
    sandbox.atlas.setRoles(PEOPLE.alice.email, PROJECT, []);
    await sandbox.driver.clickButton(PEOPLE.bob, asked.approval, 'request_approve');
    const settled = await waitForState(sandbox, asked.id, ['applied', 'failed'], 10_000);
    expect(settled.state).toBe('failed');
    expect(settled.failure?.message).toContain('is no longer in payments-prod');
    expect(sandbox.atlas.rolesOf(PEOPLE.alice.email, PROJECT)).toEqual([]);
  }, 30_000);
});
