// a two-role one-call grant (atlas-v2-2025) whose second :addRole Atlas refuses.
import { afterEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../../dev/http-util.js';
import { ATLAS, CHANNELS, PEOPLE, type Sandbox, startSandbox } from '../../dev/sandbox.js';
import { ATLAS_V2_2025 } from '../support/flow-flavors.js';
import { PROJECT, readRequest, requestAs } from '../support/grant-flow.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

const READ = 'GROUP_DATA_ACCESS_READ_ONLY';
// A typo in the policy: Rolecall takes any GROUP_[A-Z_]+ on Atlas (README), Atlas answers 400.
const TYPO = 'GROUP_SEARCH_INDEX_EDITORR';

const POLICY = `approvalsChannel: ${CHANNELS.approvals}
targets:
  - name: ${ATLAS.project.name}
    project: ${ATLAS.project.id}
    approvers: [${PEOPLE.bob.id}, ${PEOPLE.carol.id}]
    roles: [GROUP_READ_ONLY, ${READ}, ${TYPO}]
`;

describe('a two-role one-call grant whose second :addRole is refused', () => {
  let sandbox: Sandbox;

  afterEach(async () => {
    await sandbox.stop();
  });

  it('leaves no role it added behind when the request fails', async () => {
    sandbox = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix('partial-grant'),
      env: { JOB_BACKOFF_MS: '50', RECONCILE_INTERVAL: '1h' },
      atlasApi: ATLAS_V2_2025.api,
      policy: POLICY,
    });
    const asked = await requestAs(
      sandbox,
      PEOPLE.alice,
      `request ${READ},${TYPO} on payments-prod for 1h because partial`,
    );
    await sandbox.driver.clickButton(PEOPLE.bob, asked.approval, 'request_approve');
    const failed = await waitUntil(
      async () => {
        const request = await readRequest(sandbox, asked.id);
        return request.state === 'failed' || request.state === 'applied' ? request : undefined;
      },
      15_000,
      `${asked.id} settled`,
    );
    // Atlas refused the second role: the request fails, as it should, and the first role it added
    // is taken back, so nothing is left in Atlas that no grant ends.
    expect(failed.state).toBe('failed');
    expect({
      roles: sandbox.atlas.rolesOf(PEOPLE.alice.email, PROJECT),
      planned: failed.plan?.added,
    }).toEqual({ roles: ['GROUP_READ_ONLY'], planned: [] });
  }, 30_000);
});
